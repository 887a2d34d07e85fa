package graph_test

import (
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/jonboulle/clockwork"

	"github.com/rotorhq/rotor/sim/directory"
	"github.com/rotorhq/rotor/sim/entra"
	"github.com/rotorhq/rotor/sim/graph"
)

const benchApps = 100_000

var (
	benchOnce    sync.Once
	benchHandler http.Handler
	benchToken   string
)

// benchSetup seeds one tenant of 100,000 applications (about 300,000 credentials with those of
// their service principals) and returns the Graph handler and a token of the seeded manager.
func benchSetup(b *testing.B) (http.Handler, string) {
	b.Helper()
	benchOnce.Do(func() {
		sk, _ := keys()
		dir := directory.New(directory.Options{Clock: clockwork.NewFakeClockAt(t0), Seed: 1})
		res, err := dir.Seed(directory.SeedParams{Seed: 1, Tenants: 1, AppsPerTenant: benchApps})
		if err != nil {
			b.Fatal(err)
		}
		login, err := entra.New(dir, entra.Options{SigningKey: sk})
		if err != nil {
			b.Fatal(err)
		}
		ten, mgr := res.Tenants[0].Tenant, res.Tenants[0].Manager
		form := url.Values{"grant_type": {"client_credentials"}, "client_id": {mgr.AppID}, "client_secret": {mgr.Secret.Reveal()},
			"scope": {"https://graph.microsoft.com/.default"}}
		req := httptest.NewRequest(http.MethodPost, "https://sim.test/"+ten.ID+"/oauth2/v2.0/token", strings.NewReader(form.Encode()))
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		rec := httptest.NewRecorder()
		login.Handler().ServeHTTP(rec, req)
		var tok struct {
			AccessToken string `json:"access_token"`
		}
		if err := json.Unmarshal(rec.Body.Bytes(), &tok); err != nil || tok.AccessToken == "" {
			b.Fatalf("token: %d %s", rec.Code, rec.Body)
		}
		benchHandler = graph.New(dir, login.Verifier(), graph.Options{}).Handler()
		benchToken = tok.AccessToken
	})
	return benchHandler, benchToken
}

// BenchmarkListApplications lists every application of a 100,000-application tenant at $top=999,
// following @odata.nextLink, through the HTTP handler. It reports the rate end to end (including
// decoding each page's JSON, which any client pays) and in the handler alone.
func BenchmarkListApplications(b *testing.B) {
	h, tok := benchSetup(b)
	for _, bc := range []struct{ name, query string }{
		{"all-properties", "$top=999"},
		{"select", "$top=999&$select=id,appId,displayName,passwordCredentials,keyCredentials"},
	} {
		b.Run(bc.name, func(b *testing.B) {
			pages, apps := 0, 0
			var inHandler time.Duration
			for b.Loop() {
				target := "https://sim.test/v1.0/applications?" + bc.query
				for target != "" {
					req := httptest.NewRequest(http.MethodGet, target, nil)
					req.Header.Set("Authorization", "Bearer "+tok)
					rec := httptest.NewRecorder()
					start := time.Now()
					h.ServeHTTP(rec, req)
					inHandler += time.Since(start)
					if rec.Code != http.StatusOK {
						b.Fatalf("%d %s", rec.Code, rec.Body)
					}
					var page struct {
						Next  string            `json:"@odata.nextLink"`
						Value []json.RawMessage `json:"value"`
					}
					if err := json.Unmarshal(rec.Body.Bytes(), &page); err != nil {
						b.Fatal(err)
					}
					pages++
					apps += len(page.Value)
					target = page.Next
				}
			}
			if apps/b.N < benchApps {
				b.Fatalf("listed %d applications per run, want at least %d", apps/b.N, benchApps)
			}
			// End to end (the handler plus decoding every page, as a client does) and the handler alone.
			secs := b.Elapsed().Seconds()
			b.ReportMetric(float64(pages)/secs, "pages/s")
			b.ReportMetric(float64(apps)/secs, "apps/s")
			b.ReportMetric(float64(pages)/inHandler.Seconds(), "handler-pages/s")
			b.ReportMetric(float64(apps)/inHandler.Seconds(), "handler-apps/s")
			b.ReportMetric(float64(pages)/float64(b.N), "pages/op")
		})
	}
}
