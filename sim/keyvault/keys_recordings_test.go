package keyvault_test

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/rotorhq/rotor/sim/keyvault"
)

// Real sessions of the keys API, recorded by the Azure SDK team for azkeys (api-version 7.4).
const keyRecordingModule = "github.com/Azure/azure-sdk-for-go/sdk/keyvault/azkeys@v0.10.0"

// keyRecordings are the recorded sessions, or their beginnings, made only of what the simulator
// reproduces (later entries of TestCRUD update and delete the key).
var keyRecordings = []struct {
	file    string
	entries int // 0: all
}{
	{"TestWrapUnwrap/KV.json", 0},     // challenge, create RSA with key_ops, wrapkey, unwrapkey (RSA-OAEP, versionless)
	{"TestCRUD/RSA.json", 3},          // challenge, create with size, exponent, nbf, exp and tags, get latest (/keys/name/)
	{"TestEncryptDecrypt/KV.json", 2}, // challenge, create RSA-HSM
}

// TestRecordedKeySessions replays Microsoft's recorded azkeys sessions against a simulated vault
// and compares status codes, headers and JSON keys, as TestRecordedSessions does for secrets.
// Recorded version ids and wrapped values are mapped to what the simulator produced.
func TestRecordedKeySessions(t *testing.T) {
	t.Parallel()
	dir := downloadModule(t, keyRecordingModule)
	for _, kr := range keyRecordings {
		t.Run(kr.file, func(t *testing.T) {
			t.Parallel()
			data, err := os.ReadFile(filepath.Join(dir, "testdata", "recordings", filepath.FromSlash(kr.file)))
			require.NoError(t, err)
			var rec recording
			require.NoError(t, json.Unmarshal(data, &rec), "recording format")
			entries := rec.Entries
			if kr.entries > 0 {
				require.GreaterOrEqual(t, len(entries), kr.entries)
				entries = entries[:kr.entries]
			}
			replayKeys(t, entries)
		})
	}
}

func replayKeys(t *testing.T, entries []recordedEntry) {
	b := setup(t, nil)
	p := b.principal(t, keyvault.RoleCryptoOfficer)
	client := b.srv.Client()
	versions := map[string]string{} // recorded version id -> ours
	wrapped := map[string]string{}  // recorded wrapped value -> ours

	for i, e := range entries {
		step := fmt.Sprintf("entry %d: %s %s (recorded %d)", i, e.RequestMethod, e.RequestURI, e.StatusCode)
		u, err := url.Parse(e.RequestURI)
		require.NoError(t, err, step)
		segs := strings.Split(u.Path, "/")
		for j, s := range segs {
			if ours, ok := versions[s]; ok {
				segs[j] = ours
			}
		}
		target := strings.Join(segs, "/") + "?" + u.RawQuery

		var body io.Reader
		if raw := bytes.TrimSpace(e.RequestBody); len(raw) > 0 && !bytes.Equal(raw, []byte("null")) {
			if strings.HasSuffix(u.Path, "/unwrapkey") {
				var rb map[string]any
				require.NoError(t, json.Unmarshal(raw, &rb), step)
				ours, ok := wrapped[rb["value"].(string)]
				require.True(t, ok, "%s: unwrap of a value this replay did not wrap", step)
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
		var recJSON, ourJSON any
		require.NoError(t, json.Unmarshal(e.ResponseBody, &recJSON), step)
		require.NoError(t, json.Unmarshal(ourBody, &ourJSON), "%s: simulator body %s", step, ourBody)
		if diffs := compareKeys("$", recJSON, ourJSON); len(diffs) > 0 {
			t.Errorf("%s: JSON keys differ:\n  %s\nrecorded: %s\nsimulator: %s", step, strings.Join(diffs, "\n  "), e.ResponseBody, ourBody)
		}

		recObj, _ := recJSON.(map[string]any)
		ourObj, _ := ourJSON.(map[string]any)
		kid := func(m map[string]any) string {
			if k, ok := m["key"].(map[string]any); ok {
				m = k
			}
			s, _ := m["kid"].(string)
			return s
		}
		if recKid, ourKid := kid(recObj), kid(ourObj); recKid != "" && ourKid != "" {
			require.Regexp(t, versionSegRe, lastSegment(ourKid), step)
			versions[lastSegment(recKid)] = lastSegment(ourKid)
		}
		if strings.HasSuffix(u.Path, "/wrapkey") {
			rv, _ := recObj["value"].(string)
			ov, _ := ourObj["value"].(string)
			wrapped[rv] = ov
		}
		if strings.HasSuffix(u.Path, "/unwrapkey") {
			require.Equal(t, recObj["value"], ourObj["value"], "%s: the unwrapped value is the one wrapped", step)
		}
	}
}
