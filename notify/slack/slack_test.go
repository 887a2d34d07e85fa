package slack_test

import (
	"bytes"
	"encoding/json"
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/stretchr/testify/require"

	"github.com/rotorhq/rotor"
	"github.com/rotorhq/rotor/notify"
	"github.com/rotorhq/rotor/notify/notifytest"
	"github.com/rotorhq/rotor/notify/slack"
	"github.com/rotorhq/rotor/secret"
)

type textObject struct {
	Type string `json:"type"`
	Text string `json:"text"`
}

// checkBlocks accepts what Slack's incoming webhooks accept, within Block Kit's limits
// (https://api.slack.com/reference/block-kit/blocks): a fallback text, at most 50 blocks, header
// text plain and at most 150 characters, section text at most 3000, context elements.
func checkBlocks(_ *http.Request, body []byte) (notifytest.Received, error) {
	var msg struct {
		Text   string `json:"text"`
		Blocks []struct {
			Type     string       `json:"type"`
			Text     *textObject  `json:"text"`
			Elements []textObject `json:"elements"`
		} `json:"blocks"`
	}
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&msg); err != nil {
		return notifytest.Received{}, fmt.Errorf("invalid_payload: %w", err)
	}
	if msg.Text == "" {
		return notifytest.Received{}, fmt.Errorf("no fallback text (notifications show it)")
	}
	if len(msg.Blocks) == 0 || len(msg.Blocks) > 50 {
		return notifytest.Received{}, fmt.Errorf("invalid_blocks: %d blocks", len(msg.Blocks))
	}
	var title string
	for i, b := range msg.Blocks {
		switch b.Type {
		case "header":
			if b.Text == nil || b.Text.Type != "plain_text" || b.Text.Text == "" || utf8.RuneCountInString(b.Text.Text) > 150 {
				return notifytest.Received{}, fmt.Errorf("invalid_blocks: blocks[%d]: header needs plain_text of 1 to 150 characters", i)
			}
			if title == "" {
				title = b.Text.Text
			}
		case "section":
			if b.Text == nil || (b.Text.Type != "mrkdwn" && b.Text.Type != "plain_text") || b.Text.Text == "" || utf8.RuneCountInString(b.Text.Text) > 3000 {
				return notifytest.Received{}, fmt.Errorf("invalid_blocks: blocks[%d]: section text of 1 to 3000 characters", i)
			}
		case "context":
			if len(b.Elements) == 0 || len(b.Elements) > 10 {
				return notifytest.Received{}, fmt.Errorf("invalid_blocks: blocks[%d]: context needs 1 to 10 elements", i)
			}
		default:
			return notifytest.Received{}, fmt.Errorf("invalid_blocks: blocks[%d]: unexpected type %q", i, b.Type)
		}
	}
	if title == "" {
		return notifytest.Received{}, fmt.Errorf("no header block")
	}
	var v any
	_ = json.Unmarshal(body, &v)
	return notifytest.Received{Title: unescape(title), Text: unescape(msg.Text + "\n" + notifytest.Text(v))}, nil
}

// unescape undoes Slack's mrkdwn escaping (what a reader sees).
func unescape(s string) string {
	r := []struct{ from, to string }{{"&lt;", "<"}, {"&gt;", ">"}, {"&amp;", "&"}}
	for _, p := range r {
		s = strings.ReplaceAll(s, p.from, p.to)
	}
	return s
}

var ok = notifytest.Reply{Status: http.StatusOK, Body: "ok"}

func newNotifier(t *testing.T, url string) *slack.Notifier {
	n, err := slack.New(slack.Config{URL: secret.New(url)})
	require.NoError(t, err)
	return n
}

func TestConformance(t *testing.T) {
	t.Parallel()
	notifytest.Run(t, notifytest.Harness{
		New: func(t *testing.T) (notify.Notifier, notifytest.Receiver) {
			r := notifytest.NewHTTPReceiver(t, ok, checkBlocks)
			return newNotifier(t, r.URL), r
		},
		Unreachable: func(t *testing.T) (notify.Notifier, []string) {
			url, token := notifytest.ClosedURL(t)
			return newNotifier(t, url), []string{url, token}
		},
	})
}

func TestMrkdwnIsEscaped(t *testing.T) {
	t.Parallel()
	var raw []byte
	r := notifytest.NewHTTPReceiver(t, ok, func(req *http.Request, body []byte) (notifytest.Received, error) {
		raw = body
		return checkBlocks(req, body)
	})
	m := &notify.Message{ID: "m", Event: notify.Event{Type: notify.ActionRotationFailed, Tenant: "contoso",
		AppDisplayName: "<!channel> payroll", Reason: "step <https://evil.example|click> failed"}}
	require.NoError(t, newNotifier(t, r.URL).Send(t.Context(), m))
	require.Len(t, r.Received(t), 1)
	var msg struct {
		Blocks []struct {
			Type string      `json:"type"`
			Text *textObject `json:"text"`
		} `json:"blocks"`
	}
	require.NoError(t, json.Unmarshal(raw, &msg))
	for _, b := range msg.Blocks {
		if b.Type == "section" {
			require.NotContains(t, b.Text.Text, "<!channel>", "no mention injection through a display name")
			require.NotContains(t, b.Text.Text, "<https://evil.example|click>", "no link injection through a reason")
			require.Contains(t, b.Text.Text, "&lt;!channel&gt; payroll")
		}
	}
}

func TestErrorsAreClassified(t *testing.T) {
	t.Parallel()
	tests := map[string]struct {
		reply      notifytest.Reply
		class      rotor.ErrorClass
		retryAfter time.Duration
	}{
		"rate limited":     {notifytest.Reply{Status: 429, Header: http.Header{"Retry-After": {"30"}}, Body: "rate_limited"}, rotor.ClassThrottled, 30 * time.Second},
		"invalid blocks":   {notifytest.Reply{Status: 400, Body: "invalid_blocks"}, rotor.ClassPermanent, 0},
		"no service":       {notifytest.Reply{Status: 404, Body: "no_service"}, rotor.ClassPermanent, 0},
		"archived channel": {notifytest.Reply{Status: 410, Body: "channel_is_archived"}, rotor.ClassPermanent, 0},
		"rollup error":     {notifytest.Reply{Status: 500, Body: "rollup_error"}, rotor.ClassTransient, 0},
	}
	for name, tt := range tests {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			r := notifytest.NewHTTPReceiver(t, ok, checkBlocks)
			r.ReplyNext(tt.reply)
			err := newNotifier(t, r.URL).Send(t.Context(), &notify.Message{ID: "m", Event: notify.Event{Type: notify.EventTest}})
			require.Error(t, err)
			require.Equal(t, tt.class, rotor.ClassOf(err), "%v", err)
			require.Equal(t, tt.retryAfter, rotor.RetryAfterOf(err))
			require.Contains(t, err.Error(), tt.reply.Body, "Slack's reason is shown")
			require.NotContains(t, err.Error(), r.Token)
		})
	}
}
