package notifytest

import (
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"sync"
	"testing"

	"github.com/stretchr/testify/require"
)

// HTTPReceiver is a loopback HTTP server standing in for a webhook (Teams, Slack, a generic
// receiver). It checks every request with the notifier's own rules, records what a reader would
// see, and answers as told.
type HTTPReceiver struct {
	// URL is the webhook URL to configure, including a path that plays the secret token.
	URL string
	// Token is the secret part of URL.
	Token string

	check func(r *http.Request, body []byte) (Received, error)
	srv   *httptest.Server

	mu      sync.Mutex
	got     []Received
	errs    []error
	replies []Reply
	ok      Reply
}

// Reply is an HTTP answer.
type Reply struct {
	Status int
	Header http.Header
	Body   string
}

// NewHTTPReceiver starts a receiver at a random secret path. check validates one request; a
// request it rejects is answered 400 and fails the test when Received is next called. ok is the
// answer to good requests (e.g. 200 "ok" for Slack, 202 for Teams workflows).
func NewHTTPReceiver(t *testing.T, ok Reply, check func(r *http.Request, body []byte) (Received, error)) *HTTPReceiver {
	t.Helper()
	h := &HTTPReceiver{check: check, ok: ok, Token: "tok-" + marker()}
	h.srv = httptest.NewServer(http.HandlerFunc(h.serve))
	t.Cleanup(h.srv.Close)
	h.URL = h.srv.URL + "/hooks/" + h.Token
	return h
}

// ReplyNext makes the next requests get these answers, in order, instead of the good one (after
// checking them, but without recording them as delivered).
func (h *HTTPReceiver) ReplyNext(rs ...Reply) {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.replies = append(h.replies, rs...)
}

func (h *HTTPReceiver) serve(w http.ResponseWriter, r *http.Request) {
	body, err := io.ReadAll(r.Body)
	if err == nil && r.Method != http.MethodPost {
		err = fmt.Errorf("method %s, want POST", r.Method)
	}
	if err == nil && r.URL.Path != "/hooks/"+h.Token {
		err = fmt.Errorf("path %s is not the webhook's", r.URL.Path)
	}
	if err == nil && r.Header.Get("Content-Type") != "application/json" {
		err = fmt.Errorf("content type %q, want application/json", r.Header.Get("Content-Type"))
	}
	var rec Received
	if err == nil {
		rec, err = h.check(r, body)
	}
	h.mu.Lock()
	defer h.mu.Unlock()
	if err != nil {
		h.errs = append(h.errs, err)
		http.Error(w, err.Error(), http.StatusBadRequest)
		return
	}
	reply := h.ok
	if len(h.replies) > 0 {
		reply, h.replies = h.replies[0], h.replies[1:]
	} else {
		h.got = append(h.got, rec)
	}
	for k, vs := range reply.Header {
		w.Header()[k] = vs
	}
	w.WriteHeader(reply.Status)
	_, _ = io.WriteString(w, reply.Body)
}

// Received implements Receiver; it fails t if a request broke the rules.
func (h *HTTPReceiver) Received(t *testing.T) []Received {
	t.Helper()
	h.mu.Lock()
	defer h.mu.Unlock()
	for _, err := range h.errs {
		require.NoError(t, err, "a request the receiver rejected")
	}
	return append([]Received(nil), h.got...)
}

// ClosedURL returns an http URL on loopback where nothing listens, with a secret-looking path.
func ClosedURL(t *testing.T) (url, token string) {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	addr := l.Addr().String()
	require.NoError(t, l.Close())
	token = "tok-" + marker()
	return "http://" + addr + "/hooks/" + token, token
}
