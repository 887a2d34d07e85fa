package secret

import (
	"encoding/base64"
	"testing"

	"github.com/stretchr/testify/require"
)

func TestScrub(t *testing.T) {
	t.Parallel()
	v := New(`fake"secret\value~1`)
	b64 := base64.StdEncoding.EncodeToString([]byte(v.Reveal()))
	for _, tc := range []struct{ in, want string }{
		{"no secret here", "no secret here"},
		{"echo " + v.Reveal() + "!", "echo [REDACTED]!"},
		{`{"s":"fake\"secret\\value~1"}`, `{"s":"[REDACTED]"}`},
		{"b64=" + b64, "b64=[REDACTED]"},
		{v.Reveal() + v.Reveal(), "[REDACTED][REDACTED]"},
	} {
		got := Scrub(tc.in, v, Value{})
		require.Equal(t, tc.want, got)
		require.False(t, Contains(got, v))
		require.Equal(t, tc.in != tc.want, Contains(tc.in, v))
	}
}
