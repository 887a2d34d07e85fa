// Package target holds the registry of deployment step types. Each type lives in its own
// subpackage and provides a Factory; cmd/rotor registers them with their dependencies.
package target

import (
	"fmt"
	"sort"
	"strings"

	"gopkg.in/yaml.v3"

	"github.com/rotorhq/rotor"
	"github.com/rotorhq/rotor/config"
)

// Factory builds a target of one step type from the step's own settings. It decodes params
// with d (config.Decoder.Decode), reporting every problem through d at paths under at, and
// returns nil when there were problems. It must not do I/O: reaching the destination is the
// target's Preflight's job.
type Factory func(d *config.Decoder, params *yaml.Node, at string) rotor.Target

// Registry maps step type names to their factories.
type Registry map[string]Factory

// Types returns the registered type names, sorted.
func (r Registry) Types() []string {
	names := make([]string, 0, len(r))
	for n := range r {
		names = append(names, n)
	}
	sort.Strings(names)
	return names
}

// Check validates one step's settings; it is the configuration's config.StepChecker.
func (r Registry) Check(d *config.Decoder, typ string, params *yaml.Node, at string) {
	f, ok := r[typ]
	if !ok {
		d.Errorf(at+".type", "unknown step type %q (known: %s)", typ, strings.Join(r.Types(), ", "))
		return
	}
	if params == nil {
		params = &yaml.Node{Kind: yaml.MappingNode, Tag: "!!map"}
	}
	f(d, params, at)
}

// Build returns the target of a step spec. The spec's settings are data (from the
// configuration, already expanded, or from the API): ${...} in them is not expanded.
func (r Registry) Build(spec rotor.StepSpec) (rotor.Target, error) {
	f, ok := r[spec.Type]
	if !ok {
		return nil, fmt.Errorf("step %s: unknown step type %q (known: %s)", spec.Name, spec.Type, strings.Join(r.Types(), ", "))
	}
	node, err := config.ParamsNode(spec)
	if err != nil {
		return nil, err
	}
	d := config.NewDecoder(func(string) (string, bool) { return "", false })
	d.NoExpand = true
	t := f(d, node, "steps."+spec.Name)
	if errs := d.Errs(); len(errs) > 0 {
		msgs := make([]string, len(errs))
		for i, e := range errs {
			msgs[i] = e.Path + ": " + e.Msg // stored settings have no meaningful lines
		}
		return nil, fmt.Errorf("step %s: %s", spec.Name, strings.Join(msgs, "; "))
	}
	if t == nil {
		return nil, fmt.Errorf("step %s: type %s built no target", spec.Name, spec.Type)
	}
	return t, nil
}
