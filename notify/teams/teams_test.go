package teams_test

import (
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"slices"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/rotorhq/rotor"
	"github.com/rotorhq/rotor/notify"
	"github.com/rotorhq/rotor/notify/notifytest"
	"github.com/rotorhq/rotor/notify/teams"
	"github.com/rotorhq/rotor/secret"
)

// checkCard accepts what a Teams incoming webhook accepts: a message whose one attachment is an
// Adaptive Card (https://learn.microsoft.com/microsoftteams/platform/webhooks-and-connectors/how-to/connectors-using#send-adaptive-cards-using-an-incoming-webhook).
func checkCard(_ *http.Request, body []byte) (notifytest.Received, error) {
	var msg struct {
		Type        string `json:"type"`
		Attachments []struct {
			ContentType string          `json:"contentType"`
			ContentURL  json.RawMessage `json:"contentUrl"`
			Content     struct {
				Schema  string           `json:"$schema"`
				Type    string           `json:"type"`
				Version string           `json:"version"`
				Body    []map[string]any `json:"body"`
			} `json:"content"`
		} `json:"attachments"`
	}
	if err := json.Unmarshal(body, &msg); err != nil {
		return notifytest.Received{}, fmt.Errorf("not JSON: %w", err)
	}
	if msg.Type != "message" || len(msg.Attachments) != 1 {
		return notifytest.Received{}, fmt.Errorf("want a message with one attachment, got type %q with %d", msg.Type, len(msg.Attachments))
	}
	a := msg.Attachments[0]
	c := a.Content
	switch {
	case a.ContentType != "application/vnd.microsoft.card.adaptive":
		return notifytest.Received{}, fmt.Errorf("attachment content type %q", a.ContentType)
	case string(a.ContentURL) != "null":
		return notifytest.Received{}, errors.New("contentUrl must be null")
	case c.Type != "AdaptiveCard" || c.Schema != "http://adaptivecards.io/schemas/adaptive-card.json":
		return notifytest.Received{}, fmt.Errorf("content is %q (schema %q), not an Adaptive Card", c.Type, c.Schema)
	case !slices.Contains([]string{"1.2", "1.3", "1.4", "1.5"}, c.Version):
		return notifytest.Received{}, fmt.Errorf("card version %q: Teams renders 1.2 to 1.5", c.Version)
	case len(c.Body) == 0:
		return notifytest.Received{}, errors.New("empty card body")
	}
	for i, el := range c.Body {
		switch el["type"] {
		case "TextBlock":
			if s, _ := el["text"].(string); s == "" {
				return notifytest.Received{}, fmt.Errorf("body[%d]: TextBlock without text", i)
			}
		case "FactSet":
			facts, _ := el["facts"].([]any)
			if len(facts) == 0 {
				return notifytest.Received{}, fmt.Errorf("body[%d]: FactSet without facts", i)
			}
			for j, f := range facts {
				fm, _ := f.(map[string]any)
				if _, ok := fm["title"].(string); !ok {
					return notifytest.Received{}, fmt.Errorf("body[%d].facts[%d]: no title", i, j)
				}
				if _, ok := fm["value"].(string); !ok {
					return notifytest.Received{}, fmt.Errorf("body[%d].facts[%d]: no value", i, j)
				}
			}
		default:
			return notifytest.Received{}, fmt.Errorf("body[%d]: unexpected element %v", i, el["type"])
		}
	}
	title, _ := c.Body[0]["text"].(string)
	var text string
	for _, el := range c.Body {
		b, _ := json.Marshal(el)
		var v any
		_ = json.Unmarshal(b, &v)
		text += notifytest.Text(v)
	}
	return notifytest.Received{Title: title, Text: text}, nil
}

// legacy is how an Office 365 connector answers; workflows answer 202 Accepted.
var (
	legacy    = notifytest.Reply{Status: http.StatusOK, Body: "1"}
	workflows = notifytest.Reply{Status: http.StatusAccepted}
)

func newNotifier(t *testing.T, url string) *teams.Notifier {
	n, err := teams.New(teams.Config{URL: secret.New(url)})
	require.NoError(t, err)
	return n
}

func TestConformance(t *testing.T) {
	t.Parallel()
	for name, ok := range map[string]notifytest.Reply{"legacy connector": legacy, "workflows": workflows} {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			notifytest.Run(t, notifytest.Harness{
				New: func(t *testing.T) (notify.Notifier, notifytest.Receiver) {
					r := notifytest.NewHTTPReceiver(t, ok, checkCard)
					return newNotifier(t, r.URL), r
				},
				Unreachable: func(t *testing.T) (notify.Notifier, []string) {
					url, token := notifytest.ClosedURL(t)
					return newNotifier(t, url), []string{url, token}
				},
			})
		})
	}
}

func TestErrorsAreClassifiedAndKeepTheURLSecret(t *testing.T) {
	t.Parallel()
	tests := map[string]struct {
		reply      notifytest.Reply
		class      rotor.ErrorClass
		retryAfter time.Duration
	}{
		"throttled":         {notifytest.Reply{Status: 429, Header: http.Header{"Retry-After": {"7"}}}, rotor.ClassThrottled, 7 * time.Second},
		"legacy throttling": {notifytest.Reply{Status: 200, Body: "Microsoft Teams endpoint returned HTTP error 429 to DelegatedConnectorPost"}, rotor.ClassThrottled, 0},
		"bad request":       {notifytest.Reply{Status: 400, Body: "Webhook Bad Request - Null or empty event"}, rotor.ClassPermanent, 0},
		"gone":              {notifytest.Reply{Status: 410, Body: "Connector configuration not found"}, rotor.ClassPermanent, 0},
		"server error":      {notifytest.Reply{Status: 503}, rotor.ClassTransient, 0},
		"redirect":          {notifytest.Reply{Status: 302, Header: http.Header{"Location": {"https://elsewhere.example/"}}}, rotor.ClassPermanent, 0},
	}
	for name, tt := range tests {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			r := notifytest.NewHTTPReceiver(t, legacy, checkCard)
			// The receiver echoes the URL, as some error pages do: it must not reach the error.
			tt.reply.Body += " (request to " + r.URL + ")"
			r.ReplyNext(tt.reply)
			err := newNotifier(t, r.URL).Send(t.Context(), &notify.Message{ID: "m", Event: notify.Event{Type: notify.EventTest}})
			require.Error(t, err)
			require.Equal(t, tt.class, rotor.ClassOf(err), "%v", err)
			require.Equal(t, tt.retryAfter, rotor.RetryAfterOf(err))
			require.NotContains(t, err.Error(), r.Token)
			require.Empty(t, r.Received(t))
		})
	}
}

func TestNewRejectsURLWithoutShowingIt(t *testing.T) {
	t.Parallel()
	for _, url := range []string{"http://contoso.webhook.office.com/webhookb2/tok-secret-part", "tok-secret-part", ""} {
		_, err := teams.New(teams.Config{URL: secret.New(url)})
		require.Error(t, err)
		require.NotContains(t, err.Error(), "tok-secret-part")
	}
	_, err := teams.New(teams.Config{URL: secret.New("https://contoso.webhook.office.com/webhookb2/x"), Template: notify.DefaultTemplate(notify.TemplateSlack)})
	require.ErrorContains(t, err, "slack template")
}
