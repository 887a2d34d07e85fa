package fields

import (
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/rotorhq/rotor"
	"github.com/rotorhq/rotor/secret"
)

func TestTemplate(t *testing.T) {
	t.Parallel()
	d := rotor.Deployment{
		RotationID: "rot-1", StepName: "kv", TenantName: "contoso", TenantID: "tid", AppID: "app",
		KeyID: "key", ExpiresAt: time.Date(2027, 1, 2, 3, 4, 5, 0, time.UTC), Value: secret.New("fake-value"),
	}
	for _, tc := range []struct{ src, want, err string }{
		{src: "{{.AppID}}", want: "app"},
		{src: "{{.TenantID}}/{{.TenantName}}", want: "tid/contoso"},
		{src: `{{.ExpiresAt.Format "2006-01-02"}}`, want: "2027-01-02"},
		{src: "plain", want: "plain"},
		{src: "{{.Value}}", err: "can't evaluate field Value"},
		{src: "{{.AppId}}", err: "can't evaluate field AppId"},
		{src: "{{.AppID", err: "template:"},
	} {
		tpl, err := ParseTemplate(tc.src)
		if tc.err != "" {
			require.ErrorContains(t, err, tc.err, tc.src)
			continue
		}
		require.NoError(t, err)
		got, err := tpl.Render(d)
		require.NoError(t, err)
		require.Equal(t, tc.want, got)
	}
}

func TestEnv(t *testing.T) {
	t.Parallel()
	d := rotor.Deployment{RotationID: "rot-1", AppID: "app", ExpiresAt: time.Date(2027, 1, 2, 3, 4, 5, 0, time.UTC), Value: secret.New("fake-value")}
	env := Env(d)
	require.Contains(t, env, "ROTOR_APP_ID=app")
	require.Contains(t, env, "ROTOR_EXPIRES_AT=2027-01-02T03:04:05Z")
	require.Contains(t, env, "ROTOR_NOT_BEFORE=")
	for _, e := range env {
		require.NotContains(t, e, "fake-value")
	}
	require.Equal(t, "rot-1:", IdempotencyKey(d))
}
