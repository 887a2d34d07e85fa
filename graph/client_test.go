package graph

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore"
	"github.com/Azure/azure-sdk-for-go/sdk/azcore/policy"
	"github.com/stretchr/testify/require"

	"github.com/rotorhq/rotor"
	"github.com/rotorhq/rotor/internal/testclock"
)

const (
	appObj   = "0f1e2d3c-4b5a-4968-8776-655443322110"
	testTok  = "test-access-token"
	keyGUID  = "11111111-2222-4333-8444-555555555555"
	fakeText = "fake-secret-text-for-tests"
)

type staticCred struct{}

func (staticCred) GetToken(context.Context, policy.TokenRequestOptions) (azcore.AccessToken, error) {
	return azcore.AccessToken{Token: testTok, ExpiresOn: time.Now().Add(time.Hour)}, nil
}

type bundle struct {
	srv    *httptest.Server
	client *Client
	clock  *testclock.Jumping

	mu   sync.Mutex
	reqs []*http.Request
	at   []time.Time
}

// setup serves handler over TLS and returns a client for it. Requests are recorded with the
// clock's time when they arrived.
func setup(t *testing.T, handler func(w http.ResponseWriter, r *http.Request, n int)) *bundle {
	t.Helper()
	b := &bundle{clock: testclock.NewJumping(time.Date(2026, 11, 21, 9, 0, 0, 0, time.UTC))}
	b.srv = httptest.NewTLSServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if got := r.Header.Get("Authorization"); got != "Bearer "+testTok {
			http.Error(w, "no token", http.StatusUnauthorized)
			return
		}
		b.mu.Lock()
		b.reqs = append(b.reqs, r)
		b.at = append(b.at, b.clock.Now())
		n := len(b.reqs)
		b.mu.Unlock()
		handler(w, r, n)
	}))
	t.Cleanup(b.srv.Close)
	c, err := New(b.srv.URL+"/v1.0", staticCred{}, Options{Transport: b.srv.Client(), Clock: b.clock, MaxAttempts: 4})
	require.NoError(t, err)
	b.client = c
	return b
}

func (b *bundle) count() int {
	b.mu.Lock()
	defer b.mu.Unlock()
	return len(b.reqs)
}

func graphError(w http.ResponseWriter, status int, code string, h map[string]string) {
	for k, v := range h {
		w.Header().Set(k, v)
	}
	w.Header().Set("request-id", "req-"+code)
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	fmt.Fprintf(w, `{"error":{"code":%q,"message":"message for %s","innerError":{"request-id":"req-%s"}}}`, code, code, code)
}

func writeJSON(w http.ResponseWriter, v any) {
	w.Header().Set("Content-Type", "application/json")
	json.NewEncoder(w).Encode(v)
}

func TestListFollowsNextLinks(t *testing.T) {
	t.Parallel()
	var b *bundle
	b = setup(t, func(w http.ResponseWriter, r *http.Request, n int) {
		switch n {
		case 1:
			require.Equal(t, "/v1.0/applications", r.URL.Path)
			require.Equal(t, "id,appId,displayName", r.URL.Query().Get("$select"))
			require.Equal(t, "999", r.URL.Query().Get("$top"))
			writeJSON(w, map[string]any{"value": []map[string]any{{"id": "a1", "displayName": "one"}}, "@odata.nextLink": b.srv.URL + "/v1.0/applications?$skiptoken=p2"})
		case 2:
			require.Equal(t, "p2", r.URL.Query().Get("$skiptoken"))
			writeJSON(w, map[string]any{"value": []map[string]any{{"id": "a2"}, {"id": "a3", "passwordCredentials": []any{}}}})
		default:
			t.Errorf("unexpected request %d", n)
		}
	})
	var ids []string
	var pages int
	err := b.client.ListApplications(t.Context(), Query{Select: []string{"id", "appId", "displayName"}, Top: 999}, func(p []Application) error {
		pages++
		for _, a := range p {
			ids = append(ids, a.ID)
		}
		if len(p) == 2 {
			require.Nil(t, p[0].PasswordCredentials, "absent stays nil")
			require.NotNil(t, p[1].PasswordCredentials, "present and empty is not nil")
		}
		return nil
	})
	require.NoError(t, err)
	require.Equal(t, 2, pages)
	require.Equal(t, []string{"a1", "a2", "a3"}, ids)

	require.ErrorContains(t, b.client.ListApplications(t.Context(), Query{Top: 1000}, nil), "out of range")
}

func TestRefusesLinksToOtherHosts(t *testing.T) {
	t.Parallel()
	b := setup(t, func(w http.ResponseWriter, r *http.Request, n int) {
		writeJSON(w, map[string]any{"value": []any{}, "@odata.nextLink": "https://attacker.example/v1.0/applications?$skiptoken=x"})
	})
	err := b.client.ListApplications(t.Context(), Query{}, func([]Application) error { return nil })
	require.ErrorContains(t, err, "refusing link to https://attacker.example")
	_, err = b.client.ApplicationsDelta(t.Context(), "https://attacker.example/v1.0/applications/delta?$deltatoken=x", nil, nil)
	require.ErrorContains(t, err, "refusing link")
	require.Equal(t, 1, b.count())
}

func TestReadsRetryByClass(t *testing.T) {
	t.Parallel()
	b := setup(t, func(w http.ResponseWriter, r *http.Request, n int) {
		switch n {
		case 1:
			graphError(w, http.StatusTooManyRequests, "TooManyRequests", map[string]string{"Retry-After": "7"})
		case 2:
			graphError(w, http.StatusServiceUnavailable, "serviceNotAvailable", nil)
		default:
			writeJSON(w, map[string]any{"id": appObj, "displayName": "payroll"})
		}
	})
	a, err := b.client.GetApplication(t.Context(), appObj, []string{"id", "displayName"})
	require.NoError(t, err)
	require.Equal(t, "payroll", *a.DisplayName)
	require.Equal(t, 3, b.count())
	waits := b.clock.Waits()
	require.Len(t, waits, 2)
	require.Equal(t, 7*time.Second, waits[0], "Retry-After is honoured exactly")
	require.GreaterOrEqual(t, waits[1], time.Second, "the second retry backs off from the base, doubled")
	require.LessOrEqual(t, waits[1], 2*time.Second)
	require.Equal(t, 7*time.Second, b.at[1].Sub(b.at[0]))
}

func TestReadsGiveUp(t *testing.T) {
	t.Parallel()
	b := setup(t, func(w http.ResponseWriter, r *http.Request, n int) {
		graphError(w, http.StatusServiceUnavailable, "serviceNotAvailable", nil)
	})
	_, err := b.client.GetApplication(t.Context(), appObj, nil)
	require.ErrorContains(t, err, "after 4 attempts")
	require.Equal(t, rotor.ClassTransient, rotor.ClassOf(err))
	require.Equal(t, 4, b.count())
}

func TestPermanentAndNotFoundAreNotRetried(t *testing.T) {
	t.Parallel()
	b := setup(t, func(w http.ResponseWriter, r *http.Request, n int) {
		if strings.Contains(r.URL.Path, keyGUID) {
			graphError(w, http.StatusNotFound, CodeResourceNotFound, nil)
			return
		}
		graphError(w, http.StatusForbidden, CodeAuthorizationDenied, nil)
	})
	_, err := b.client.GetApplication(t.Context(), appObj, nil)
	var ge *Error
	require.True(t, errors.As(err, &ge))
	require.Equal(t, CodeAuthorizationDenied, ge.Code)
	require.Equal(t, "req-"+CodeAuthorizationDenied, ge.RequestID)
	require.Equal(t, rotor.ClassPermanent, rotor.ClassOf(err))
	require.Equal(t, 1, b.count())

	_, err = b.client.GetServicePrincipal(t.Context(), keyGUID, nil)
	require.ErrorIs(t, err, rotor.ErrNotFound)
	require.Equal(t, rotor.ClassNotFound, rotor.ClassOf(err))
	require.Equal(t, 2, b.count())
}

func TestWritesAreNeverRetried(t *testing.T) {
	t.Parallel()
	status := map[int]int{1: http.StatusServiceUnavailable, 2: http.StatusTooManyRequests, 3: http.StatusBadRequest}
	b := setup(t, func(w http.ResponseWriter, r *http.Request, n int) {
		require.Equal(t, "POST", r.Method)
		graphError(w, status[n], fmt.Sprintf("code%d", status[n]), map[string]string{"Retry-After": "1"})
	})
	end := time.Date(2027, 5, 1, 0, 0, 0, 0, time.UTC)
	_, err := b.client.AddPassword(t.Context(), Applications, appObj, "rotor:r1", time.Time{}, end)
	require.Error(t, err)
	require.True(t, Ambiguous(err), "a 5xx may hide an applied write")
	require.Equal(t, 1, b.count())

	_, err = b.client.AddPassword(t.Context(), Applications, appObj, "rotor:r1", time.Time{}, end)
	require.False(t, Ambiguous(err), "a 429 was refused before it was applied")
	require.Equal(t, rotor.ClassThrottled, rotor.ClassOf(err))
	require.Equal(t, time.Second, rotor.RetryAfterOf(err))

	err = b.client.RemovePassword(t.Context(), Applications, appObj, keyGUID)
	require.False(t, Ambiguous(err))
	require.Equal(t, 3, b.count(), "no write was sent twice")
	require.Empty(t, b.clock.Waits())
}

func TestTransportFailureOnWriteIsAmbiguous(t *testing.T) {
	t.Parallel()
	b := setup(t, func(w http.ResponseWriter, r *http.Request, n int) {
		io.ReadAll(r.Body)
		conn, _, err := w.(http.Hijacker).Hijack()
		require.NoError(t, err)
		conn.Close() // the write "happened", the answer is lost
	})
	_, err := b.client.AddPassword(t.Context(), ServicePrincipals, appObj, "rotor:r2", time.Time{}, time.Time{})
	require.Error(t, err)
	require.True(t, Ambiguous(err))
	require.Equal(t, 1, b.count())

	_, err = b.client.GetApplication(t.Context(), appObj, nil)
	require.Error(t, err)
	require.Equal(t, 1+4, b.count(), "a read is retried after a dropped connection")
}

func TestAddPassword(t *testing.T) {
	t.Parallel()
	b := setup(t, func(w http.ResponseWriter, r *http.Request, n int) {
		require.Equal(t, "/v1.0/servicePrincipals/"+appObj+"/addPassword", r.URL.Path)
		var body struct {
			PasswordCredential map[string]any `json:"passwordCredential"`
		}
		require.NoError(t, json.NewDecoder(r.Body).Decode(&body))
		require.Equal(t, map[string]any{"displayName": "rotor:r3", "endDateTime": "2027-05-01T00:00:00Z"}, body.PasswordCredential)
		writeJSON(w, map[string]any{"keyId": keyGUID, "displayName": "rotor:r3", "hint": "fak", "secretText": fakeText,
			"startDateTime": "2026-11-21T09:00:00Z", "endDateTime": "2027-05-01T00:00:00Z"})
	})
	pc, err := b.client.AddPassword(t.Context(), ServicePrincipals, appObj, "rotor:r3", time.Time{}, time.Date(2027, 5, 1, 0, 0, 0, 0, time.UTC))
	require.NoError(t, err)
	require.Equal(t, keyGUID, pc.KeyID)
	require.Equal(t, fakeText, pc.SecretText.Reveal())
	require.NotContains(t, fmt.Sprintf("%+v %v", pc, *pc), fakeText)
	out, err := json.Marshal(pc)
	require.NoError(t, err)
	require.NotContains(t, string(out), fakeText)
}

func TestSlowsDownNearTheQuota(t *testing.T) {
	t.Parallel()
	b := setup(t, func(w http.ResponseWriter, r *http.Request, n int) {
		if n == 1 {
			w.Header().Set("x-ms-throttle-limit-percentage", "1.3")
		}
		writeJSON(w, map[string]any{"id": appObj})
	})
	for range 3 {
		_, err := b.client.GetApplication(t.Context(), appObj, nil)
		require.NoError(t, err)
	}
	require.Equal(t, []time.Duration{5 * time.Second}, b.clock.Waits(), "one pause of (1.3-0.8) x 10 s before the next request")
	require.Equal(t, 5*time.Second, b.at[1].Sub(b.at[0]))
	require.Equal(t, time.Duration(0), b.at[2].Sub(b.at[1]))
}

func TestDelta(t *testing.T) {
	t.Parallel()
	var b *bundle
	b = setup(t, func(w http.ResponseWriter, r *http.Request, n int) {
		switch {
		case r.URL.Query().Get("$deltatoken") == "latest":
			require.Equal(t, "id,passwordCredentials", r.URL.Query().Get("$select"))
			writeJSON(w, map[string]any{"value": []any{}, "@odata.deltaLink": b.srv.URL + "/v1.0/applications/delta?$deltatoken=t0"})
		case r.URL.Query().Get("$deltatoken") == "t0":
			writeJSON(w, map[string]any{"value": []any{
				map[string]any{"id": "a1", "passwordCredentials": []any{map[string]any{"keyId": keyGUID, "endDateTime": "2027-01-01T00:00:00Z"}}},
				map[string]any{"id": "a2", "@removed": map[string]any{"reason": "deleted"}},
			}, "@odata.nextLink": b.srv.URL + "/v1.0/applications/delta?$skiptoken=s1"})
		case r.URL.Query().Get("$skiptoken") == "s1":
			writeJSON(w, map[string]any{"value": []any{}, "@odata.deltaLink": b.srv.URL + "/v1.0/applications/delta?$deltatoken=t1"})
		case r.URL.Query().Get("$deltatoken") == "gone":
			graphError(w, http.StatusBadRequest, CodeSyncStateNotFound, nil)
		default:
			t.Errorf("unexpected %s", r.URL)
		}
	})
	link, err := b.client.DeltaLatest(t.Context(), Applications, []string{"id", "passwordCredentials"})
	require.NoError(t, err)
	require.True(t, strings.HasSuffix(link, "$deltatoken=t0"))

	var seen []Application
	next, err := b.client.ApplicationsDelta(t.Context(), link, nil, func(p []Application) error { seen = append(seen, p...); return nil })
	require.NoError(t, err)
	require.True(t, strings.HasSuffix(next, "$deltatoken=t1"))
	require.Len(t, seen, 2)
	require.Nil(t, seen[0].DisplayName, "a delta carries only what changed")
	require.Len(t, *seen[0].PasswordCredentials, 1)
	require.Equal(t, "deleted", seen[1].Removed.Reason)

	_, err = b.client.ApplicationsDelta(t.Context(), b.srv.URL+"/v1.0/applications/delta?$deltatoken=gone", nil, func([]Application) error { return nil })
	require.True(t, DeltaExpired(err))
	require.False(t, DeltaExpired(errors.New("other")))
}

func TestFiltersEscapeValues(t *testing.T) {
	t.Parallel()
	got := make(chan string, 1)
	b := setup(t, func(w http.ResponseWriter, r *http.Request, n int) {
		got <- r.URL.Query().Get("$filter")
		writeJSON(w, map[string]any{"value": []any{}})
	})
	inj, err := Eq("displayName", "x' or startswith(displayName,'")
	require.NoError(t, err)
	pre, err := StartsWith("displayName", "O'Brien")
	require.NoError(t, err)
	f := And(inj, pre)
	require.NoError(t, b.client.ListApplications(t.Context(), Query{Filter: f}, func([]Application) error { return nil }))
	require.Equal(t, `(displayName eq 'x'' or startswith(displayName,''') and (startswith(displayName,'O''Brien'))`, <-got)

	for _, bad := range []struct{ prop, val, msg string }{
		{"appId", "x' or 1 eq 1 or appId eq '", "is not a GUID"},
		{"id", "", "is not a GUID"},
		{"displayName", "line\nbreak", "control character"},
		{"displayName", "", "1 to 256"},
		{"passwordCredentials", "x", "not supported"},
	} {
		_, err := Eq(bad.prop, bad.val)
		require.ErrorContains(t, err, bad.msg, bad.prop)
	}
	_, err = b.client.GetApplication(t.Context(), "../../users", nil)
	require.ErrorContains(t, err, "not a GUID", "ids in paths are validated too")
	require.ErrorContains(t, b.client.RemovePassword(t.Context(), Applications, appObj, "x/../y"), "not a GUID")
}

func TestRoute(t *testing.T) {
	t.Parallel()
	require.Equal(t, "/applications/{id}/addPassword", route("https://g/v1.0/applications/"+appObj+"/addPassword", "/v1.0"))
	require.Equal(t, "/applications/{id}", route("https://g/v1.0/applications(appId='"+appObj+"')", "/v1.0"))
	require.Equal(t, "/applications/delta", route("https://g/v1.0/applications/delta?$deltatoken=x", "/v1.0"))
}
