package keyvault_test

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"maps"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/rotorhq/rotor/sim/keyvault"
)

// Real Key Vault sessions recorded by the Azure SDK team ship inside old azsecrets modules. The
// test downloads them at run time (they are never committed) and replays every exchange against
// the simulator.
var recordingModules = []string{
	"github.com/Azure/azure-sdk-for-go/sdk/keyvault/azsecrets@v0.12.0", // api-version 7.4
	"github.com/Azure/azure-sdk-for-go/sdk/keyvault/azsecrets@v0.7.0",  // api-version 7.3
}

// recording is the Azure SDK test proxy's format: the exchanges of one test, in order.
type recording struct {
	Entries []recordedEntry `json:"Entries"`
}

type recordedEntry struct {
	RequestURI      string            `json:"RequestUri"`
	RequestMethod   string            `json:"RequestMethod"`
	RequestHeaders  map[string]string `json:"RequestHeaders"`
	RequestBody     json.RawMessage   `json:"RequestBody"`
	StatusCode      int               `json:"StatusCode"`
	ResponseHeaders map[string]string `json:"ResponseHeaders"`
	ResponseBody    json.RawMessage   `json:"ResponseBody"`
}

func (e recordedEntry) header(h map[string]string, name string) (string, bool) {
	for k, v := range h {
		if strings.EqualFold(k, name) {
			return v, true
		}
	}
	return "", false
}

func (e recordedEntry) date() time.Time {
	d, _ := e.header(e.ResponseHeaders, "Date")
	t, _ := http.ParseTime(d)
	return t
}

// downloadRecordings fetches the modules with `go mod download` and returns their recordings.
func downloadRecordings(t *testing.T) []string {
	t.Helper()
	var files []string
	for _, mod := range recordingModules {
		matches, err := filepath.Glob(filepath.Join(downloadModule(t, mod), "testdata", "recordings", "*.json"))
		require.NoError(t, err)
		require.NotEmpty(t, matches, "%s carries no testdata/recordings/*.json", mod)
		files = append(files, matches...)
	}
	return files
}

// downloadModule fetches a module with `go mod download` and returns its directory.
func downloadModule(t *testing.T, mod string) string {
	t.Helper()
	goBin, err := exec.LookPath("go")
	require.NoError(t, err, "the recorded Key Vault sessions are fetched with the go command, which is not on PATH")
	cmd := exec.Command(goBin, "mod", "download", "-json", mod)
	cmd.Dir = t.TempDir() // outside any module: go.mod stays untouched
	cmd.Env = append(os.Environ(), "GOFLAGS=", "GOWORK=off")
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	var info struct{ Dir, Error string }
	_ = json.Unmarshal(out, &info)
	if err != nil || info.Error != "" || info.Dir == "" {
		t.Fatalf("download %s, which carries Microsoft's recorded Key Vault sessions: %v %s %s\n"+
			"The Go module proxy must be reachable (GOPROXY).", mod, err, info.Error, stderr.String())
	}
	return info.Dir
}

// TestRecordedSessions replays every exchange of Microsoft's recorded Key Vault sessions
// against a simulated vault and checks that the status code, the headers that matter and the
// JSON keys of the body (recursively; values may differ) match the recording.
//
// Recorded names are used as they are (each recording gets a fresh vault); recorded version ids,
// paging links and backup blobs are mapped to what the simulator produced for the same
// exchange. The recordings show deletes, recoveries and purges completing seconds after they
// were accepted; the vault simulates this with Propagation delays on a fake clock, and the replay
// lets that time pass when the recording shows time passed: when the same request got a different
// answer than just before, or when seconds elapsed between two exchanges.
func TestRecordedSessions(t *testing.T) {
	t.Parallel()
	files := downloadRecordings(t)
	require.GreaterOrEqual(t, len(files), 12)
	for _, f := range files {
		name := filepath.Base(filepath.Dir(filepath.Dir(filepath.Dir(f)))) + "/" + strings.TrimSuffix(filepath.Base(f), ".json")
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			data, err := os.ReadFile(f)
			require.NoError(t, err)
			var rec recording
			require.NoError(t, json.Unmarshal(data, &rec), "recording format")
			require.NotEmpty(t, rec.Entries)
			replay(t, rec)
		})
	}
}

const replayPropagation = 5 * time.Second

// Headers compared when the recording has them. Values must be equal for the first group; the
// rest must merely be present.
var (
	sameValueHeaders = []string{"Content-Type", "Cache-Control", "Pragma", "Expires", "X-Content-Type-Options", "Strict-Transport-Security"}
	presentHeaders   = []string{"x-ms-keyvault-service-version", "x-ms-request-id", "x-ms-keyvault-region", "x-ms-keyvault-network-info", "x-ms-keyvault-rbac-assignment-id", "x-ms-keyvault-rbac-cache"}
	challengeRe      = regexp.MustCompile(`^Bearer authorization="https://[^"]+/[^"/]+", resource="https://vault\.azure\.net"$`)
	recChallengeRe   = regexp.MustCompile(`^Bearer authorization="[^"]+", resource="[^"]+"$`)
	versionSegRe     = regexp.MustCompile(`^[0-9a-f]{32}$`)
)

func replay(t *testing.T, rec recording) {
	b := setup(t, func(c *keyvault.Config) {
		c.Propagation = keyvault.Propagation{Delete: replayPropagation, Recover: replayPropagation, Purge: replayPropagation}
	})
	p := b.principal(t, keyvault.RoleSecretsOfficer)
	client := b.srv.Client()

	versions := map[string]string{}  // recorded version id -> ours
	nextLinks := map[string]string{} // recorded nextLink (path?query) -> ours
	backups := map[string]string{}   // recorded backup blob -> ours
	recItems, ourItems := map[string]int{}, map[string]int{}
	skipped := 0

	for i, e := range rec.Entries {
		step := fmt.Sprintf("entry %d: %s %s (recorded %d)", i, e.RequestMethod, e.RequestURI, e.StatusCode)
		if i > 0 {
			prev := rec.Entries[i-1]
			flipped := prev.RequestMethod == e.RequestMethod && prev.RequestURI == e.RequestURI && prev.StatusCode != e.StatusCode
			if flipped || e.date().Sub(prev.date()) >= 4*time.Second {
				b.clock.Advance(replayPropagation + time.Second)
			}
		}

		u, err := url.Parse(e.RequestURI)
		require.NoError(t, err, step)
		if listPath(u.Path) {
			recItems[u.Path] += countItems(t, e.ResponseBody)
		}
		target := u.Path
		segs := strings.Split(target, "/")
		for j, s := range segs {
			if ours, ok := versions[s]; ok {
				segs[j] = ours
			}
		}
		target = strings.Join(segs, "/") + "?" + u.RawQuery
		if u.Query().Get("$skiptoken") != "" {
			ours, ok := nextLinks[u.Path+"?"+u.RawQuery]
			if !ok {
				// The simulator's pages ended earlier than Key Vault's (Key Vault's paging
				// returns empty pages); the item counts are compared at the end instead.
				skipped++
				t.Logf("%s: no matching simulator page, skipped", step)
				continue
			}
			target = ours
		}

		var body io.Reader
		if raw := bytes.TrimSpace(e.RequestBody); len(raw) > 0 && !bytes.Equal(raw, []byte("null")) {
			if e.RequestMethod == http.MethodPost && strings.HasSuffix(u.Path, "/secrets/restore") {
				var rb map[string]any
				require.NoError(t, json.Unmarshal(raw, &rb), step)
				blob, _ := rb["value"].(string)
				ours, ok := backups[blob]
				require.True(t, ok, "%s: restore of a backup this replay did not make", step)
				rb["value"] = ours
				raw, err = json.Marshal(rb)
				require.NoError(t, err)
			}
			body = bytes.NewReader(raw)
		}
		req, err := http.NewRequest(e.RequestMethod, b.srv.URL+target, body)
		require.NoError(t, err, step)
		if ct, ok := e.header(e.RequestHeaders, "Content-Type"); ok {
			req.Header.Set("Content-Type", ct)
		}
		if _, ok := e.header(e.RequestHeaders, "Authorization"); ok {
			req.Header.Set("Authorization", "Bearer "+b.token(t, p))
		}
		resp, err := client.Do(req)
		require.NoError(t, err, step)
		ourBody, err := io.ReadAll(resp.Body)
		resp.Body.Close()
		require.NoError(t, err, step)

		require.Equal(t, e.StatusCode, resp.StatusCode, "%s: status; simulator answered %s", step, ourBody)
		compareHeaders(t, step, e, resp.Header)

		recBody := bytes.TrimSpace(e.ResponseBody)
		if len(recBody) == 0 || bytes.Equal(recBody, []byte("null")) {
			require.Empty(t, bytes.TrimSpace(ourBody), "%s: recording has no body", step)
			continue
		}
		var recJSON, ourJSON any
		require.NoError(t, json.Unmarshal(recBody, &recJSON), step)
		require.NoError(t, json.Unmarshal(ourBody, &ourJSON), "%s: simulator body %s", step, ourBody)
		if diffs := compareKeys("$", recJSON, ourJSON); len(diffs) > 0 {
			t.Errorf("%s: JSON keys differ:\n  %s\nrecorded: %s\nsimulator: %s", step, strings.Join(diffs, "\n  "), recBody, ourBody)
		}

		// Learn how recorded identifiers map to the simulator's.
		recObj, _ := recJSON.(map[string]any)
		ourObj, _ := ourJSON.(map[string]any)
		if rid, ok := recObj["id"].(string); ok {
			if oid, ok := ourObj["id"].(string); ok {
				rv, ov := lastSegment(rid), lastSegment(oid)
				if versionSegRe.MatchString(rv) && versionSegRe.MatchString(ov) {
					versions[rv] = ov
				}
			}
		}
		if rn, ok := recObj["nextLink"].(string); ok {
			if on, ok := ourObj["nextLink"].(string); ok {
				ru, err := url.Parse(rn)
				require.NoError(t, err)
				ou, err := url.Parse(on)
				require.NoError(t, err)
				nextLinks[ru.Path+"?"+ru.RawQuery] = ou.Path + "?" + ou.RawQuery
			}
		}
		if listPath(u.Path) {
			ourItems[u.Path] += countItems(t, ourBody)
		}
		if strings.HasSuffix(u.Path, "/backup") {
			rb, _ := recObj["value"].(string)
			ob, _ := ourObj["value"].(string)
			backups[rb] = ob
		}
	}
	require.Equal(t, recItems, ourItems, "listed items per path (pages may split differently)")
	require.LessOrEqual(t, skipped, 2)
}

func listPath(p string) bool {
	return p == "/secrets" || p == "/deletedsecrets" || strings.HasSuffix(p, "/versions")
}

func countItems(t *testing.T, body []byte) int {
	var l struct{ Value []json.RawMessage }
	if len(bytes.TrimSpace(body)) == 0 || json.Unmarshal(body, &l) != nil {
		return 0
	}
	return len(l.Value)
}

func lastSegment(s string) string {
	u, err := url.Parse(s)
	if err != nil {
		return ""
	}
	segs := strings.Split(strings.TrimSuffix(u.Path, "/"), "/")
	return segs[len(segs)-1]
}

func compareHeaders(t *testing.T, step string, e recordedEntry, got http.Header) {
	t.Helper()
	for _, h := range sameValueHeaders {
		if want, ok := e.header(e.ResponseHeaders, h); ok {
			require.Equal(t, want, got.Get(h), "%s: header %s", step, h)
		}
	}
	for _, h := range presentHeaders {
		if _, ok := e.header(e.ResponseHeaders, h); ok {
			require.NotEmpty(t, got.Get(h), "%s: header %s", step, h)
		}
	}
	if want, ok := e.header(e.ResponseHeaders, "WWW-Authenticate"); ok {
		require.Regexp(t, recChallengeRe, want, "%s: recorded challenge", step)
		require.Regexp(t, challengeRe, got.Get("WWW-Authenticate"), "%s: challenge", step)
	} else {
		require.Empty(t, got.Get("WWW-Authenticate"), "%s: unexpected challenge", step)
	}
}

// compareKeys lists the differences in keys between a recorded JSON value and the simulator's.
// Values may differ; null on either side is a value.
func compareKeys(path string, rec, ours any) []string {
	if rec == nil || ours == nil {
		return nil
	}
	var diffs []string
	switch r := rec.(type) {
	case map[string]any:
		o, ok := ours.(map[string]any)
		if !ok {
			return []string{fmt.Sprintf("%s: recorded an object, simulator sent %T", path, ours)}
		}
		for _, k := range slices.Sorted(maps.Keys(r)) {
			if _, ok := o[k]; !ok {
				diffs = append(diffs, fmt.Sprintf("%s.%s: missing", path, k))
				continue
			}
			diffs = append(diffs, compareKeys(path+"."+k, r[k], o[k])...)
		}
		for _, k := range slices.Sorted(maps.Keys(o)) {
			if _, ok := r[k]; !ok {
				diffs = append(diffs, fmt.Sprintf("%s.%s: not in the recording", path, k))
			}
		}
	case []any:
		o, ok := ours.([]any)
		if !ok {
			return []string{fmt.Sprintf("%s: recorded an array, simulator sent %T", path, ours)}
		}
		for i := 0; i < min(len(r), len(o)); i++ {
			diffs = append(diffs, compareKeys(fmt.Sprintf("%s[%d]", path, i), r[i], o[i])...)
		}
	default:
		switch ours.(type) {
		case map[string]any, []any:
			diffs = append(diffs, fmt.Sprintf("%s: recorded a scalar, simulator sent %T", path, ours))
		}
	}
	return diffs
}
