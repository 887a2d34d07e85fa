package graph

import (
	"bytes"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"reflect"
	"regexp"
	"strings"
	"sync"
	"testing"
)

// The Microsoft Graph SDK for Go describes every type of the v1.0 API; its models' GetFieldDeserializers
// name each JSON field. The field-faithfulness test reads them from the module cache. The SDK is
// downloaded at test time and never imported or compiled (compiling it costs minutes and gigabytes).
const graphSDK = "github.com/microsoftgraph/msgraph-sdk-go@v1.89.0"

// GraphModels maps "package.Type" (models.Application, odataerrors.MainError,
// applications.DeltaGetResponse, ...) to the JSON field names of the type, inherited ones included.
type GraphModels map[string]map[string]bool

var (
	modelsOnce sync.Once
	models     GraphModels
	modelsErr  string
)

// LoadGraphModels downloads the Graph SDK into the module cache (go mod download) and parses its
// models. The test fails, saying why, when the download fails.
func LoadGraphModels(t *testing.T) GraphModels {
	t.Helper()
	modelsOnce.Do(func() {
		dir, err := downloadSDK()
		if err != "" {
			modelsErr = err
			return
		}
		models, modelsErr = parseModels(dir, "models", "models/odataerrors", "applications", "serviceprincipals")
	})
	if modelsErr != "" {
		t.Fatalf("field-faithfulness check needs %s from the Go module proxy: %s", graphSDK, modelsErr)
	}
	return models
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

var (
	structRe = regexp.MustCompile(`(?m)^type (\w+) struct \{\n\s+(?:\w+\.)?([A-Z]\w*)\n`)
	fdRe     = regexp.MustCompile(`(?m)^func \(m \*(\w+)\) GetFieldDeserializers\(\)`)
	keyRe    = regexp.MustCompile(`res\["([^"]+)"\]`)
)

func parseModels(root string, pkgs ...string) (GraphModels, string) {
	own := map[string]map[string]bool{}
	parent := map[string]string{}
	pkgOf := map[string]string{} // type name -> packages defining it, for resolving parents
	for _, pkg := range pkgs {
		files, err := filepath.Glob(filepath.Join(root, pkg, "*.go"))
		if err != nil || len(files) == 0 {
			return nil, "no Go files in " + filepath.Join(root, pkg)
		}
		short := filepath.Base(pkg)
		for _, f := range files {
			src, err := os.ReadFile(f)
			if err != nil {
				return nil, err.Error()
			}
			text := string(src)
			for _, m := range structRe.FindAllStringSubmatch(text, -1) {
				parent[short+"."+m[1]] = m[2]
			}
			for _, loc := range fdRe.FindAllStringSubmatchIndex(text, -1) {
				name := text[loc[2]:loc[3]]
				body := text[loc[1]:]
				if end := strings.Index(body, "\n}\n"); end >= 0 {
					body = body[:end]
				}
				fields := map[string]bool{}
				for _, k := range keyRe.FindAllStringSubmatch(body, -1) {
					fields[k[1]] = true
				}
				own[short+"."+name] = fields
				pkgOf[name] += short + " "
			}
		}
	}
	out := GraphModels{}
	var resolve func(key string, depth int) map[string]bool
	resolve = func(key string, depth int) map[string]bool {
		if f, ok := out[key]; ok {
			return f
		}
		fields := map[string]bool{}
		for k := range own[key] {
			fields[k] = true
		}
		if p, ok := parent[key]; ok && depth < 20 {
			pkg, _, _ := strings.Cut(key, ".")
			pkey := pkg + "." + p
			if _, ok := own[pkey]; !ok {
				pkey = "models." + p
			}
			for k := range resolve(pkey, depth+1) {
				fields[k] = true
			}
		}
		out[key] = fields
		return fields
	}
	for key := range own {
		resolve(key, 0)
	}
	return out, ""
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
