package httpstep

import (
	"net/http"
	"net/url"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/rotorhq/rotor"
	"github.com/rotorhq/rotor/secret"
)

func TestBackoffWait(t *testing.T) {
	t.Parallel()
	b := Backoff{Attempts: 5, Initial: time.Second, Max: 30 * time.Second, MaxRetryAfter: time.Minute}
	for n, bounds := range map[int][2]time.Duration{
		1:  {500 * time.Millisecond, time.Second},
		2:  {time.Second, 2 * time.Second},
		5:  {8 * time.Second, 16 * time.Second},
		6:  {15 * time.Second, 30 * time.Second},
		60: {15 * time.Second, 30 * time.Second},
	} {
		for range 50 {
			w := b.Wait(n, 0)
			require.GreaterOrEqual(t, w, bounds[0], n)
			require.LessOrEqual(t, w, bounds[1], n)
		}
	}
	require.Equal(t, 45*time.Second, b.Wait(1, 45*time.Second), "Retry-After wins when longer")
	require.Equal(t, time.Minute, b.Wait(1, time.Hour), "and is capped")
}

func TestRedact(t *testing.T) {
	t.Parallel()
	u, err := url.Parse("https://user:fake-pw@hooks.example.com:8443/a/b?token=fake-token#frag")
	require.NoError(t, err)
	require.Equal(t, "https://hooks.example.com:8443/a/b", Redact(u, ""))
	require.Equal(t, "ftp://x/y", Redact(nil, "ftp://x/y?token=fake"))
}

func TestStatusError(t *testing.T) {
	t.Parallel()
	v := secret.New("fake-echoed-secret")
	for status, class := range map[int]rotor.ErrorClass{
		400: rotor.ClassPermanent, 401: rotor.ClassPermanent, 404: rotor.ClassPermanent,
		408: rotor.ClassTransient, 429: rotor.ClassThrottled, 500: rotor.ClassTransient, 503: rotor.ClassTransient,
	} {
		err := StatusError("POST x", &Response{Status: status, Header: http.Header{"Retry-After": {"12"}}, Body: []byte("echo fake-echoed-secret\nmore")}, v)
		require.Equal(t, class, rotor.ClassOf(err), status)
		require.NotContains(t, err.Error(), "fake-echoed-secret")
		require.Contains(t, err.Error(), `"echo [REDACTED]"`)
		if status == 429 {
			require.Equal(t, 12*time.Second, rotor.RetryAfterOf(err))
		}
	}
}
