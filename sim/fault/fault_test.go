package fault

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/jonboulle/clockwork"
	"github.com/stretchr/testify/require"
)

type testBundle struct {
	inj    *Injector
	clock  *clockwork.FakeClock
	srv    *httptest.Server
	client *http.Client
	served atomic.Int64 // requests that reached the real handler
}

func setup(t *testing.T, seed uint64, rulesText string) *testBundle {
	t.Helper()
	rules, err := ParseRules(rulesText)
	require.NoError(t, err)
	b := &testBundle{clock: clockwork.NewFakeClock()}
	b.inj, err = New(Options{Seed: seed, Clock: b.clock, Rules: rules})
	require.NoError(t, err)
	next := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b.served.Add(1)
		fmt.Fprint(w, "ok")
	})
	b.srv = httptest.NewTLSServer(b.inj.Handler("test", JSONErrorWriter, next))
	t.Cleanup(b.srv.Close)
	b.client = b.srv.Client()
	// A fresh connection per request: net/http would otherwise retry some requests whose
	// reused connection was closed, which hides dropped connections from the test.
	b.client.Transport.(*http.Transport).DisableKeepAlives = true
	return b
}

// do sends one request. It reports failures as errors (no require) so that goroutines may call it.
func (b *testBundle) do(method, path string) (*http.Response, string, error) {
	req, err := http.NewRequest(method, b.srv.URL+path, nil)
	if err != nil {
		return nil, "", err
	}
	resp, err := b.client.Do(req)
	if err != nil {
		return nil, "", err
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	return resp, string(body), err
}

func TestDecisionsAreDeterministic(t *testing.T) {
	t.Parallel()
	rules, err := ParseRules("* 429=0.2 500=0.1 503=0.1 drop=0.1 lost=0.1 latency=1ms..9ms latency-p=0.5")
	require.NoError(t, err)
	run := func(seed uint64, paths []string) []decision {
		in, err := New(Options{Seed: seed, Rules: rules})
		require.NoError(t, err)
		var out []decision
		for _, p := range paths {
			d := in.decide("svc", "GET", p)
			d.rule = nil
			out = append(out, d)
		}
		return out
	}
	var paths []string
	for i := 0; i < 500; i++ {
		paths = append(paths, "/a")
	}
	first, again := run(7, paths), run(7, paths)
	require.Equal(t, first, again, "same seed, same order: same faults")
	require.NotEqual(t, first, run(8, paths), "another seed: other faults")

	// Counters are per route: interleaving another route does not change /a's decisions.
	var mixed []string
	for i := 0; i < 500; i++ {
		mixed = append(mixed, "/a", "/b")
	}
	interleaved := run(7, mixed)
	var onlyA []decision
	for i := 0; i < len(interleaved); i += 2 {
		onlyA = append(onlyA, interleaved[i])
	}
	require.Equal(t, first, onlyA)
}

func TestProbabilitiesAreRespected(t *testing.T) {
	t.Parallel()
	rules, err := ParseRules("* 429=0.2 500=0.1 lost=0.3 latency=10ms latency-p=0.25")
	require.NoError(t, err)
	in, err := New(Options{Seed: 1, Rules: rules})
	require.NoError(t, err)
	counts := map[outcome]int{}
	delayed := 0
	const n = 10000
	for i := 0; i < n; i++ {
		d := in.decide("svc", "POST", fmt.Sprintf("/apps/%d", i%10))
		counts[d.outcome]++
		if d.delay > 0 {
			require.Equal(t, 10*time.Millisecond, d.delay)
			delayed++
		}
	}
	within := func(name string, got int, p float64) {
		t.Helper()
		require.InDelta(t, p*n, got, 0.03*n, "%s: %d of %d", name, got, n)
	}
	within("429", counts[throttle], 0.2)
	within("500", counts[internalError], 0.1)
	within("lost", counts[lost], 0.3)
	within("pass", counts[pass], 0.4)
	within("delayed", delayed, 0.25)
	require.Zero(t, counts[drop])
	require.Zero(t, counts[unavailable])
}

func TestLatencyRangeStaysInBounds(t *testing.T) {
	t.Parallel()
	in, err := New(Options{Seed: 3, Rules: []Rule{{Path: "*", Latency: 10 * time.Millisecond, LatencyMax: 20 * time.Millisecond}}})
	require.NoError(t, err)
	distinct := map[time.Duration]bool{}
	for i := 0; i < 200; i++ {
		d := in.decide("svc", "GET", "/x").delay
		require.GreaterOrEqual(t, d, 10*time.Millisecond)
		require.LessOrEqual(t, d, 20*time.Millisecond)
		distinct[d] = true
	}
	require.Greater(t, len(distinct), 50)
}

func TestFirstMatchingRuleApplies(t *testing.T) {
	t.Parallel()
	b := setup(t, 1, "GET /fail 500=1; * 429=1 retry-after=3s")
	resp, body, err := b.do(http.MethodGet, "/fail")
	require.NoError(t, err)
	require.Equal(t, http.StatusInternalServerError, resp.StatusCode)
	require.Empty(t, resp.Header.Get("Retry-After"))
	require.JSONEq(t, `{"error":{"code":"InternalServerError","message":"injected fault: 500 Internal Server Error"}}`, body)

	resp, _, err = b.do(http.MethodPut, "/other")
	require.NoError(t, err)
	require.Equal(t, http.StatusTooManyRequests, resp.StatusCode)
	require.Equal(t, "3", resp.Header.Get("Retry-After"))
	require.Zero(t, b.served.Load(), "the handler never ran")

	stats := b.inj.Stats()
	require.Len(t, stats, 2)
	require.Equal(t, uint64(1), stats[0].InternalErrors)
	require.Equal(t, uint64(1), stats[1].Throttled)
	require.Equal(t, uint64(1), stats[1].Matched)
}

func TestUnmatchedRequestsPassThrough(t *testing.T) {
	t.Parallel()
	b := setup(t, 1, "POST /only/this 503=1 retry-after=1500ms")
	resp, body, err := b.do(http.MethodGet, "/only/this")
	require.NoError(t, err)
	require.Equal(t, http.StatusOK, resp.StatusCode)
	require.Equal(t, "ok", body)

	resp, _, err = b.do(http.MethodPost, "/only/this")
	require.NoError(t, err)
	require.Equal(t, http.StatusServiceUnavailable, resp.StatusCode)
	require.Equal(t, "2", resp.Header.Get("Retry-After"), "rounded up to whole seconds")
	require.Equal(t, int64(1), b.served.Load())
}

func TestDropClosesWithoutRunningTheHandler(t *testing.T) {
	t.Parallel()
	b := setup(t, 1, "* drop=1")
	_, _, err := b.do(http.MethodPost, "/x")
	require.Error(t, err)
	require.Zero(t, b.served.Load())
	require.Equal(t, uint64(1), b.inj.Stats()[0].Dropped)
}

func TestLostResponseRunsTheHandler(t *testing.T) {
	t.Parallel()
	b := setup(t, 1, "POST /v1.0/applications/*/addPassword lost=1")
	_, _, err := b.do(http.MethodPost, "/v1.0/applications/app1/addPassword")
	require.Error(t, err, "the client gets no answer")
	require.Equal(t, int64(1), b.served.Load(), "but the write happened")
	require.Equal(t, uint64(1), b.inj.Stats()[0].Lost)
}

func TestLatencyWaitsForTheInjectedClock(t *testing.T) {
	t.Parallel()
	b := setup(t, 1, "GET /slow latency=30s")
	done := make(chan error, 1)
	go func() {
		resp, _, err := b.do(http.MethodGet, "/slow")
		if err == nil && resp.StatusCode != http.StatusOK {
			err = fmt.Errorf("status %d", resp.StatusCode)
		}
		done <- err
	}()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	require.NoError(t, b.clock.BlockUntilContext(ctx, 1), "the request waits on the clock")
	select {
	case err := <-done:
		t.Fatalf("request finished before the clock advanced: %v", err)
	default:
	}
	b.clock.Advance(30 * time.Second)
	require.NoError(t, <-done)
	require.Equal(t, uint64(1), b.inj.Stats()[0].Delayed)
}

func TestSetRulesWhileServing(t *testing.T) {
	t.Parallel()
	b := setup(t, 1, "* 500=1")
	var wg sync.WaitGroup
	errs := make(chan error, 80)
	for g := 0; g < 4; g++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; i < 20; i++ {
				resp, _, err := b.do(http.MethodGet, "/x")
				if err == nil && resp.StatusCode != http.StatusOK && resp.StatusCode != http.StatusInternalServerError {
					err = fmt.Errorf("unexpected status %d", resp.StatusCode)
				}
				errs <- err
			}
		}()
	}
	for i := 0; i < 20; i++ {
		text := "* 500=1"
		if i%2 == 1 {
			text = "GET /none 429=1"
		}
		rules, err := ParseRules(text)
		require.NoError(t, err)
		require.NoError(t, b.inj.SetRules(rules))
		_ = b.inj.Stats()
		_ = b.inj.Rules()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		require.NoError(t, err)
	}

	require.NoError(t, b.inj.SetRules(nil))
	resp, body, err := b.do(http.MethodGet, "/x")
	require.NoError(t, err)
	require.Equal(t, http.StatusOK, resp.StatusCode)
	require.Equal(t, "ok", body)
}

func TestSetRulesRejectsInvalidRules(t *testing.T) {
	t.Parallel()
	in, err := New(Options{})
	require.NoError(t, err)
	err = in.SetRules([]Rule{{Path: "*", Throttle: 0.1}, {Path: "nope", Drop: 0.5}})
	require.ErrorContains(t, err, "rule 2")
	require.ErrorContains(t, err, "must start with /")
	_, err = New(Options{Rules: []Rule{{Path: "*"}}})
	require.ErrorContains(t, err, "injects nothing")
}

func TestJSONErrorWriter(t *testing.T) {
	t.Parallel()
	rec := httptest.NewRecorder()
	JSONErrorWriter(rec, httptest.NewRequest(http.MethodGet, "/", nil), http.StatusTooManyRequests, 2*time.Second)
	require.Equal(t, http.StatusTooManyRequests, rec.Code)
	require.Equal(t, "2", rec.Header().Get("Retry-After"))
	require.True(t, strings.HasPrefix(rec.Header().Get("Content-Type"), "application/json"))
	require.JSONEq(t, `{"error":{"code":"TooManyRequests","message":"injected fault: 429 Too Many Requests"}}`, rec.Body.String())
}

func BenchmarkHandler(b *testing.B) {
	rules, err := ParseRules("POST /v1.0/applications/*/addPassword lost=0.3; GET /secrets/** 429=0.01 retry-after=1s")
	require.NoError(b, err)
	in, err := New(Options{Seed: 1, Rules: rules})
	require.NoError(b, err)
	h := in.Handler("bench", JSONErrorWriter, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {}))
	req := httptest.NewRequest(http.MethodGet, "/secrets/name/", nil)
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		h.ServeHTTP(httptest.NewRecorder(), req)
	}
}
