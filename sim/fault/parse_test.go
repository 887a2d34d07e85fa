package fault

import (
	"errors"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

func TestParseRules(t *testing.T) {
	t.Parallel()
	tests := []struct {
		text string
		want []Rule
	}{
		{
			text: "POST /v1.0/applications/*/addPassword lost=0.3",
			want: []Rule{{Method: "POST", Path: "/v1.0/applications/*/addPassword", Lost: 0.3}},
		},
		{
			text: "* 429=0.2 retry-after=2s latency=30ms",
			want: []Rule{{Path: "*", Throttle: 0.2, RetryAfter: 2 * time.Second, Latency: 30 * time.Millisecond}},
		},
		{
			text: "get /secrets/** latency=5ms..50ms latency-p=0.5 503=0.01; PUT /secrets/* drop=0.1\n\n* 500=1",
			want: []Rule{
				{Method: "GET", Path: "/secrets/**", Latency: 5 * time.Millisecond, LatencyMax: 50 * time.Millisecond, LatencyProb: 0.5, Unavailable: 0.01},
				{Method: "PUT", Path: "/secrets/*", Drop: 0.1},
				{Path: "*", InternalError: 1},
			},
		},
		{
			text: "* * 429=0.5 500=0.5",
			want: []Rule{{Path: "*", Throttle: 0.5, InternalError: 0.5}},
		},
		{text: " ; \n ", want: nil},
	}
	for _, tt := range tests {
		t.Run(tt.text, func(t *testing.T) {
			t.Parallel()
			got, err := ParseRules(tt.text)
			require.NoError(t, err)
			require.Equal(t, tt.want, got)
			for _, r := range got {
				again, err := ParseRule(r.String())
				require.NoError(t, err, "canonical form %q parses", r.String())
				require.Equal(t, r, again)
			}
		})
	}
}

func TestParseRulesErrors(t *testing.T) {
	t.Parallel()
	tests := []struct {
		text      string
		wantRule  int
		wantToken string
		wantMsg   string
	}{
		{"latency=3ms", 1, "", "missing route"},
		{"FETCH /x 429=0.1", 1, "FETCH", "unknown method"},
		{"GET /x /y 429=0.1", 1, "/y", "unexpected token"},
		{"GET secrets 429=0.1", 1, "secrets", "path must start with /"},
		{"* 429=abc", 1, "429=abc", `"abc" is not a probability`},
		{"* 429=1.5", 1, "429=1.5", "outside 0..1"},
		{"* 429=", 1, "429=", "missing value"},
		{"* teapot=0.1", 1, "teapot=0.1", `unknown option "teapot"`},
		{"* 429=0.1 429=0.2", 1, "429=0.2", "given twice"},
		{"* latency=fast", 1, "latency=fast", `"fast" is not a duration`},
		{"* latency=50ms..10ms", 1, "latency=50ms..10ms", "upper bound is below"},
		{"* retry-after=-1s 429=0.1", 1, "retry-after=-1s", "negative"},
		{"* 429=0.6 lost=0.6", 1, "", "must not exceed 1"},
		{"/x", 1, "", "injects nothing"},
		{"* retry-after=2s 500=0.1", 1, "", "retry-after without 429 or 503"},
		{"* 500=0.1; /ok drop=0.1; * lost=2", 3, "lost=2", "outside 0..1"},
	}
	for _, tt := range tests {
		t.Run(tt.text, func(t *testing.T) {
			t.Parallel()
			_, err := ParseRules(tt.text)
			require.Error(t, err)
			var pe *ParseError
			require.True(t, errors.As(err, &pe), "error is a *ParseError: %v", err)
			require.Equal(t, tt.wantRule, pe.Rule)
			require.Equal(t, tt.wantToken, pe.Token)
			require.Contains(t, pe.Msg, tt.wantMsg)
			if tt.wantToken != "" {
				require.Contains(t, err.Error(), `token "`+tt.wantToken+`"`)
			}
		})
	}
}

func TestRuleMatches(t *testing.T) {
	t.Parallel()
	tests := []struct {
		rule   Rule
		method string
		path   string
		want   bool
	}{
		{Rule{Path: "*"}, "GET", "/anything/at/all", true},
		{Rule{Path: ""}, "DELETE", "/", true},
		{Rule{Method: "POST", Path: "/v1.0/applications/*/addPassword"}, "POST", "/v1.0/applications/abc/addPassword", true},
		{Rule{Method: "post", Path: "/v1.0/applications/*/addPassword"}, "POST", "/v1.0/applications/abc/addPassword", true},
		{Rule{Method: "POST", Path: "/v1.0/applications/*/addPassword"}, "GET", "/v1.0/applications/abc/addPassword", false},
		{Rule{Path: "/v1.0/applications/*/addPassword"}, "POST", "/v1.0/applications/abc/def/addPassword", false},
		{Rule{Path: "/secrets/*"}, "GET", "/secrets/name", true},
		{Rule{Path: "/secrets/*"}, "GET", "/secrets/name/", false},
		{Rule{Path: "/secrets/**"}, "GET", "/secrets/name/", true},
		{Rule{Path: "/secrets/**"}, "GET", "/secrets", true},
		{Rule{Path: "/**/recover"}, "POST", "/deletedsecrets/name/recover", true},
		{Rule{Path: "/**/recover"}, "POST", "/deletedsecrets/name/purge", false},
		{Rule{Path: "/a/**/z"}, "GET", "/a/z", true},
		{Rule{Path: "/a/**/z"}, "GET", "/a/b/c/z", true},
	}
	for _, tt := range tests {
		t.Run(tt.rule.String()+" "+tt.method+" "+tt.path, func(t *testing.T) {
			t.Parallel()
			require.Equal(t, tt.want, tt.rule.matches(tt.method, tt.path))
		})
	}
}
