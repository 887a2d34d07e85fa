package graph

import (
	"bytes"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"reflect"
	"strings"
	"sync"
	"testing"
)

// The Microsoft Graph SDK for Go describes every type of the v1.0 API; its models' GetFieldDeserializers
// name each JSON field. The field-faithfulness test reads them from the module cache. The SDK is
// downloaded at test time and never imported or compiled (compiling it costs minutes and gigabytes).
const graphSDK = "github.com/microsoftgraph/msgraph-sdk-go@v1.89.0"

// GraphModels reads the SDK's models on demand: Fields("models.Application") returns the JSON
// field names of the type, inherited ones included. Types are "package.Type" with package one of
// models, odataerrors, applications, serviceprincipals.
type GraphModels struct {
	root  string
	mu    sync.Mutex
	cache map[string]map[string]bool
}

var (
	modelsOnce sync.Once
	models     *GraphModels
	modelsErr  string
)

var modelDirs = map[string]string{
	"models": "models", "odataerrors": "models/odataerrors", "applications": "applications", "serviceprincipals": "serviceprincipals",
}

// LoadGraphModels downloads the Graph SDK into the module cache (go mod download). The test fails,
// saying why, when the download fails.
func LoadGraphModels(t *testing.T) *GraphModels {
	t.Helper()
	modelsOnce.Do(func() {
		dir, err := downloadSDK()
		if err != "" {
			modelsErr = err
			return
		}
		models = &GraphModels{root: dir, cache: map[string]map[string]bool{}}
	})
	if modelsErr != "" {
		t.Fatalf("field-faithfulness check needs %s from the Go module proxy: %s", graphSDK, modelsErr)
	}
	return models
}

// Fields returns the JSON field names of typ; ok is false when the SDK has no such model.
func (g *GraphModels) Fields(typ string) (map[string]bool, bool) {
	g.mu.Lock()
	defer g.mu.Unlock()
	return g.fields(typ, 0)
}

func (g *GraphModels) fields(typ string, depth int) (map[string]bool, bool) {
	if f, ok := g.cache[typ]; ok {
		return f, f != nil
	}
	pkg, name, _ := strings.Cut(typ, ".")
	dir, ok := modelDirs[pkg]
	if !ok || depth > 20 {
		return nil, false
	}
	src, err := os.ReadFile(filepath.Join(g.root, dir, snake(name)+".go"))
	if err != nil {
		g.cache[typ] = nil
		return nil, false
	}
	own, parent, ok := parseModel(string(src), name)
	if !ok {
		g.cache[typ] = nil
		return nil, false
	}
	if parent != "" {
		// Parents outside the SDK (kiota's ApiError) carry no JSON fields.
		pf, ok := g.fields(pkg+"."+parent, depth+1)
		if !ok {
			pf, _ = g.fields("models."+parent, depth+1)
		}
		for k := range pf {
			own[k] = true
		}
	}
	g.cache[typ] = own
	return own, true
}

// snake turns a Go type name into the SDK's file name: AppManagementPolicy -> app_management_policy,
// ODataError -> o_data_error.
func snake(name string) string {
	var b strings.Builder
	for i, r := range name {
		if r >= 'A' && r <= 'Z' {
			if i > 0 {
				b.WriteByte('_')
			}
			r += 'a' - 'A'
		}
		b.WriteRune(r)
	}
	return b.String()
}

// parseModel returns the keys GetFieldDeserializers of type name registers and the type it embeds.
func parseModel(src, name string) (map[string]bool, string, bool) {
	parent := ""
	if i := strings.Index(src, "type "+name+" struct {\n"); i >= 0 {
		rest := src[i+len("type "+name+" struct {\n"):]
		line, _, _ := strings.Cut(rest, "\n")
		line = strings.TrimSpace(line)
		if j := strings.LastIndex(line, "."); j >= 0 {
			line = line[j+1:]
		}
		if line != "" && !strings.ContainsAny(line, " \t") && line[0] >= 'A' && line[0] <= 'Z' {
			parent = line
		}
	}
	i := strings.Index(src, "func (m *"+name+") GetFieldDeserializers()")
	if i < 0 {
		return nil, "", false
	}
	body := src[i:]
	if end := strings.Index(body, "\n}\n"); end >= 0 {
		body = body[:end]
	}
	fields := map[string]bool{}
	for {
		j := strings.Index(body, `res["`)
		if j < 0 {
			break
		}
		body = body[j+5:]
		k, _, _ := strings.Cut(body, `"`)
		fields[k] = true
	}
	return fields, parent, true
}

func downloadSDK() (string, string) {
	tmp, err := os.MkdirTemp("", "rotor-graph-sdk")
	if err != nil {
		return "", err.Error()
	}
	defer os.RemoveAll(tmp)
	cmd := exec.Command("go", "mod", "download", "-json", graphSDK)
	cmd.Dir = tmp // outside any module: the download must not touch rotor's go.mod
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	runErr := cmd.Run()
	var info struct{ Dir, Error string }
	_ = json.Unmarshal(stdout.Bytes(), &info)
	switch {
	case info.Error != "":
		return "", "go mod download: " + info.Error
	case runErr != nil:
		return "", "go mod download: " + runErr.Error() + ": " + strings.TrimSpace(stderr.String())
	case info.Dir == "":
		return "", "go mod download reported no directory"
	}
	return info.Dir, ""
}

// AcceptedFields lists, per Graph type, the JSON members the handlers read from request bodies.
func AcceptedFields() map[string][]string {
	tags := func(v any) []string {
		var out []string
		t := reflect.TypeOf(v)
		for i := 0; i < t.NumField(); i++ {
			if tag, _, _ := strings.Cut(t.Field(i).Tag.Get("json"), ","); tag != "" && tag != "-" {
				out = append(out, tag)
			}
		}
		return out
	}
	return map[string][]string{
		"models.PasswordCredential":                      tags(passwordCredentialIn{}),
		"models.KeyCredential":                           tags(keyCredentialIn{}),
		"applications.ItemAddPasswordPostRequestBody":    {fieldPasswordCredential},
		"applications.ItemAddKeyPostRequestBody":         {fieldKeyCredential, fieldPasswordCredential, fieldProof},
		"applications.ItemRemovePasswordPostRequestBody": {fieldKeyID},
		"applications.ItemRemoveKeyPostRequestBody":      {fieldKeyID, fieldProof},
		"serviceprincipals.ItemAddKeyPostRequestBody":    {fieldKeyCredential, fieldPasswordCredential, fieldProof},
		"models.Application":                             patchable,
		"models.ServicePrincipal":                        {"keyCredentials", "displayName", "tags"},
	}
}
