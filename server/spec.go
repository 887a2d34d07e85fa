package server

import (
	_ "embed"
	"encoding/json"
	"fmt"

	"gopkg.in/yaml.v3"
)

//go:embed openapi.yaml
var specYAML []byte

// loadSpec returns the OpenAPI document (written as YAML, for comments and legibility) as JSON.
func loadSpec() ([]byte, error) {
	var doc any
	if err := yaml.Unmarshal(specYAML, &doc); err != nil {
		return nil, fmt.Errorf("openapi.yaml: %w", err)
	}
	b, err := json.Marshal(doc)
	if err != nil {
		return nil, fmt.Errorf("openapi.yaml: not JSON-compatible: %w", err)
	}
	return b, nil
}
