package target

import (
	"context"
	"encoding/json"
	"testing"

	"github.com/stretchr/testify/require"
	"gopkg.in/yaml.v3"

	"github.com/rotorhq/rotor"
	"github.com/rotorhq/rotor/config"
)

type fakeTarget struct{ URL string }

func (fakeTarget) Preflight(context.Context, rotor.Deployment) error { return nil }
func (fakeTarget) Publish(context.Context, rotor.Deployment) (rotor.Outcome, error) {
	return rotor.Outcome{}, nil
}

func fakeFactory(d *config.Decoder, params *yaml.Node, at string) rotor.Target {
	var cfg struct {
		URL string `yaml:"url,required"`
	}
	before := len(d.Errs())
	d.Decode(params, &cfg, at)
	if len(d.Errs()) > before {
		return nil
	}
	return fakeTarget{URL: cfg.URL}
}

func TestRegistryCheckAndBuild(t *testing.T) {
	t.Parallel()
	r := Registry{"fake": fakeFactory, "other": fakeFactory}
	require.Equal(t, []string{"fake", "other"}, r.Types())

	src := "policies:\n- name: p\n  steps:\n  - {name: a, type: fake, url: 'https://x/${HOST}'}\n  - {name: b, type: fake, urll: y}\n  - {name: c, type: nope}\nencryption:\n  key: env:K\n"
	_, err := config.Parse("t.yaml", []byte(src), config.Options{LookupEnv: func(k string) (string, bool) { return "example.org", k == "HOST" }, Steps: r.Check})
	require.Error(t, err)
	require.Contains(t, err.Error(), `line 5: policies[0].steps[1].urll: unknown field (did you mean "url"?)`)
	require.Contains(t, err.Error(), `line 5: policies[0].steps[1].url: required field is missing`)
	require.Contains(t, err.Error(), `line 6: policies[0].steps[2].type: unknown step type "nope" (known: fake, other)`)

	good := "policies:\n- name: p\n  steps:\n  - {name: a, type: fake, url: 'https://x/${HOST}'}\nencryption:\n  key: env:K\n"
	c, err := config.Parse("t.yaml", []byte(good), config.Options{LookupEnv: func(k string) (string, bool) { return "example.org", k == "HOST" }, Steps: r.Check})
	require.NoError(t, err)
	spec, err := c.Policies[0].Steps[0].Spec()
	require.NoError(t, err)
	require.JSONEq(t, `{"url":"https://x/example.org"}`, string(spec.Params), "configuration settings are expanded once, at load")
	tg, err := r.Build(spec)
	require.NoError(t, err)
	require.Equal(t, fakeTarget{URL: "https://x/example.org"}, tg)

	// Settings from the API are data: ${...} is not expanded.
	tg, err = r.Build(rotor.StepSpec{Name: "api", Type: "fake", Params: json.RawMessage(`{"url":"https://x/${ROTOR_KEK}"}`)})
	require.NoError(t, err)
	require.Equal(t, fakeTarget{URL: "https://x/${ROTOR_KEK}"}, tg)

	_, err = r.Build(rotor.StepSpec{Name: "api", Type: "fake", Params: json.RawMessage(`{}`)})
	require.ErrorContains(t, err, "step api: steps.api.url: required field is missing")
	_, err = r.Build(rotor.StepSpec{Name: "x", Type: "nope"})
	require.ErrorContains(t, err, `step x: unknown step type "nope"`)
}
