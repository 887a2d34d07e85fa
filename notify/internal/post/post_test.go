package post

import (
	"net/http"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/rotorhq/rotor/secret"
)

func TestRetryAfter(t *testing.T) {
	t.Parallel()
	now := time.Date(2026, 11, 21, 9, 30, 0, 0, time.UTC)
	tests := map[string]time.Duration{
		"":    0,
		"120": 2 * time.Minute,
		"0":   0,
		"-3":  0,
		now.Add(90 * time.Second).Format(http.TimeFormat): 90 * time.Second,
		now.Add(-time.Hour).Format(http.TimeFormat):       0,
		"soon": 0,
	}
	for in, want := range tests {
		require.Equal(t, want, RetryAfter(in, now), in)
	}
}

func TestEndpointNeverShowsItsPath(t *testing.T) {
	t.Parallel()
	ep, err := ParseEndpoint(secret.New("https://contoso.webhook.office.com/webhookb2/tok-secret/IncomingWebhook/abc?sig=q-secret"))
	require.NoError(t, err)
	require.Equal(t, "https://contoso.webhook.office.com", ep.String())
	msg := scrub(`Post "https://contoso.webhook.office.com/webhookb2/tok-secret/IncomingWebhook/abc?sig=q-secret": EOF; path /webhookb2/tok-secret/IncomingWebhook/abc; sig=q-secret`, ep)
	require.NotContains(t, msg, "tok-secret")
	require.NotContains(t, msg, "q-secret")
	require.Contains(t, msg, "https://contoso.webhook.office.com/[REDACTED]")

	for _, bad := range []string{"ftp://x/tok-secret", "tok-secret", "http://example.com/tok-secret", "https:///tok-secret"} {
		_, err := ParseEndpoint(secret.New(bad))
		require.Error(t, err, bad)
		require.NotContains(t, err.Error(), "tok-secret")
	}
	for _, ok := range []string{"http://127.0.0.1:8080/x", "http://localhost/x", "http://[::1]:9/x"} {
		_, err := ParseEndpoint(secret.New(ok))
		require.NoError(t, err, ok)
	}
}
