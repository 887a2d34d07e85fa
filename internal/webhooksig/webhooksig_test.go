package webhooksig

import (
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

const testKey = "0123456789abcdef-test-signing-key"

var now = time.Date(2026, 11, 21, 9, 30, 0, 0, time.UTC)

func TestSign(t *testing.T) {
	t.Parallel()
	ts, sig := Sign([]byte(testKey), now, []byte(`{"version":1}`))
	require.Equal(t, "1795253400", ts)
	// Python's hmac, as docs/notifications.md tells receivers to verify:
	// hmac.new(key, b'1795253400.' + body, hashlib.sha256).hexdigest()
	require.Equal(t, "v1=deaff74d0cf64c093e8e72e0b2ea506f7495289afe2cbadaf4baa922f2dcdfbb", sig)
	require.NoError(t, Verify([]byte(testKey), ts, "v0=00, "+sig, []byte(`{"version":1}`), now, DefaultTolerance), "several signatures, one valid")
}

func TestSignatureDetectsTampering(t *testing.T) {
	t.Parallel()
	body := []byte(`{"version":1}`)
	ts, sig := Sign([]byte(testKey), now, body)
	require.NoError(t, Verify([]byte(testKey), ts, sig, body, now.Add(time.Minute), DefaultTolerance))
	tests := map[string]struct {
		key, ts, sig string
		body         []byte
		at           time.Time
		want         string
	}{
		"other body": {testKey, ts, sig, []byte(`{"version":2}`), now, "does not match"},
		"other key":  {"another-key-of-16-bytes", ts, sig, body, now, "does not match"},
		"replayed":   {testKey, ts, sig, body, now.Add(10 * time.Minute), "replay"},
		"not a time": {testKey, "yesterday", sig, body, now, "not a unix time"},
		"no v1":      {testKey, ts, "v0=abc", body, now, "does not match"},
	}
	for name, tt := range tests {
		err := Verify([]byte(tt.key), tt.ts, tt.sig, tt.body, tt.at, DefaultTolerance)
		require.ErrorContains(t, err, tt.want, name)
	}
}
