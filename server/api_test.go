package server

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/stretchr/testify/require"

	"github.com/rotorhq/rotor"
)

// memOutbox is an in-memory Notifications.
type memOutbox struct {
	mu    sync.Mutex
	items []OutboxItem // newest first
}

func (m *memOutbox) Notifiers(context.Context) ([]NotifierInfo, error) {
	return []NotifierInfo{{Name: "ops-mail", Type: "email", Target: "SMTP smtp.example.com", Routes: []string{"platform"}}}, nil
}

func (m *memOutbox) Outbox(_ context.Context, q OutboxQuery) ([]OutboxItem, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	var out []OutboxItem
	for _, it := range m.items {
		if q.Before != nil && !(it.CreatedAt.Before(q.Before.CreatedAt) || it.CreatedAt.Equal(q.Before.CreatedAt) && it.ID < q.Before.ID) {
			continue
		}
		if len(q.Statuses) > 0 && !contains(q.Statuses, it.Status) {
			continue
		}
		out = append(out, it)
		if len(out) == q.Limit {
			break
		}
	}
	return out, nil
}

func (m *memOutbox) Retry(_ context.Context, id, _ string) (*OutboxItem, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	for i, it := range m.items {
		if it.ID == id {
			if it.Status != "failed" {
				return nil, conflictf("notification %s has not failed", id)
			}
			m.items[i].Status, m.items[i].Attempt = "pending", 0
			return &m.items[i], nil
		}
	}
	return nil, fmt.Errorf("notification %s: %w", id, rotor.ErrNotFound)
}

func contains(ss []string, s string) bool {
	for _, x := range ss {
		if x == s {
			return true
		}
	}
	return false
}

type itemsOf[T any] struct {
	Items      []T    `json:"items"`
	NextCursor string `json:"next_cursor"`
}

// pages follows next_cursor from path to the last page and returns every item.
func pages[T any](b *bundle, role, path string) []T {
	b.t.Helper()
	var all []T
	next := ""
	for range 100 {
		p := path
		if next != "" {
			sep := "?"
			if strings.Contains(p, "?") {
				sep = "&"
			}
			p += sep + "cursor=" + next
		}
		var pg itemsOf[T]
		b.api(role, "GET", p, nil, http.StatusOK, &pg)
		all = append(all, pg.Items...)
		if pg.NextCursor == "" {
			return all
		}
		next = pg.NextCursor
	}
	b.t.Fatal("too many pages")
	return nil
}

// TestAPI exercises every operation of the API, validating every answer against openapi.yaml,
// and checks at the end that each operation was exercised.
func TestAPI(t *testing.T) {
	t.Parallel()
	outbox := &memOutbox{}
	for i := range 5 {
		st := []string{"sent", "failed", "pending", "retrying", "sent"}[i]
		outbox.items = append(outbox.items, OutboxItem{ID: fmt.Sprintf("n%d", 5-i), Route: "platform", Notifier: "ops-mail", Event: "credential.expiring",
			Tenant: "contoso", Status: st, Attempt: i, CreatedAt: start.Add(-time.Duration(i) * time.Hour), UpdatedAt: start})
	}
	b := setup(t, option{cfg: func(c *Config) { c.Notifications = outbox }})
	b.spec = newSpecChecker(t)
	ctx := t.Context()
	deploy := t.TempDir()

	t.Run("me", func(t *testing.T) {
		b := b.with(t)
		for _, role := range []string{"viewer", "operator", "admin"} {
			var me meJSON
			b.api(role, "GET", "/api/v1/me", nil, http.StatusOK, &me)
			require.Equal(t, "token:t-"+role, me.Actor)
			require.Equal(t, role, me.Role)
		}
		var me meJSON
		b.api("admin", "GET", "/api/v1/me", nil, http.StatusOK, &me)
		require.Equal(t, []string{"entra:read", "entra:rotate", "entra:write"}, me.Permissions)
	})

	t.Run("summary", func(t *testing.T) {
		b := b.with(t)
		var s summaryJSON
		b.api("viewer", "GET", "/api/v1/summary", nil, http.StatusOK, &s)
		// app-i's secret ends in i*5-20 days: i<4 expired (and i=4 ends now), 5..5 within 7, ...
		require.Equal(t, 30, s.Total)
		require.Equal(t, 5, s.Expired, "ends at or before now")
		require.Equal(t, 25, s.Active)
		require.Equal(t, 1, s.Within7d)
		require.Equal(t, 6, s.Within30d)
		require.Equal(t, 18, s.Within90d)
		require.Len(t, s.Weeks, dashboardWeeks)
		require.Len(t, s.MostUrgent, 10)
		require.Equal(t, "app-05", s.MostUrgent[0].OwnerName)
		b.api("viewer", "GET", "/api/v1/summary?tenant=fabrikam", nil, http.StatusOK, &s)
		require.Zero(t, s.Total)
	})

	t.Run("tenants", func(t *testing.T) {
		b := b.with(t)
		var ts itemsOf[tenantJSON]
		b.api("viewer", "GET", "/api/v1/tenants", nil, http.StatusOK, &ts)
		require.Len(t, ts.Items, 2)
		var tj tenantJSON
		b.api("viewer", "GET", "/api/v1/tenants/contoso", nil, http.StatusOK, &tj)
		require.Equal(t, 30, *tj.Credentials)
		rec := b.api("viewer", "GET", "/api/v1/tenants/nowhere", nil, http.StatusNotFound, nil)
		requireProblem(t, rec, "not-found", "nowhere")
		b.api("operator", "POST", "/api/v1/tenants/contoso/sync", nil, http.StatusAccepted, nil)
		b.api("operator", "POST", "/api/v1/tenants/nowhere/sync", nil, http.StatusNotFound, nil)
		evs, err := b.store.AuditSearch(ctx, &rotor.AuditSearchParams{Actor: "token:t-operator", ActionPrefix: "tenant.sync_requested"})
		require.NoError(t, err)
		require.Len(t, evs, 1)
	})

	t.Run("apps paged", func(t *testing.T) {
		b := b.with(t)
		apps := pages[appJSON](b, "viewer", "/api/v1/apps?limit=7")
		require.Len(t, apps, 30)
		names := map[string]bool{}
		for i, a := range apps {
			require.False(t, names[a.DisplayName], "each app once")
			names[a.DisplayName] = true
			if i > 0 {
				require.Less(t, apps[i-1].DisplayName, a.DisplayName)
			}
		}
		found := pages[appJSON](b, "viewer", "/api/v1/apps"+q("q", "APP-1"))
		require.Len(t, found, 10)
		exp := pages[appJSON](b, "viewer", "/api/v1/apps"+q("expiring_within", "30d", "tenant", "contoso"))
		require.Len(t, exp, 6)
		gone := pages[appJSON](b, "viewer", "/api/v1/apps"+q("expired", "true"))
		require.Len(t, gone, 5)
		require.Equal(t, 1, gone[0].Expired)
		rec := b.api("viewer", "GET", "/api/v1/apps?limit=0&expiring_within=soon&cursor=notacursor!", nil, http.StatusUnprocessableEntity, nil)
		p := requireProblem(t, rec, "invalid", "")
		require.ElementsMatch(t, []string{"limit", "expiring_within", "cursor"}, fields(p))
	})

	t.Run("app", func(t *testing.T) {
		b := b.with(t)
		a := b.apps[12]
		var d appDetailJSON
		b.api("viewer", "GET", "/api/v1/apps/contoso/"+a.ID, nil, http.StatusOK, &d)
		require.Equal(t, a.DisplayName, d.DisplayName)
		require.Len(t, d.CredentialList, 1)
		require.Equal(t, "active", d.CredentialList[0].State)
		var byClient appDetailJSON
		b.api("viewer", "GET", "/api/v1/apps/contoso/"+a.AppID, nil, http.StatusOK, &byClient)
		require.Equal(t, a.ID, byClient.ID, "by client id too")
		b.api("viewer", "GET", "/api/v1/apps/contoso/"+uuid.NewString(), nil, http.StatusNotFound, nil)
	})

	t.Run("credentials", func(t *testing.T) {
		b := b.with(t)
		all := pages[credentialJSON](b, "viewer", "/api/v1/credentials?limit=4")
		require.Len(t, all, 30)
		for i := 1; i < len(all); i++ {
			require.False(t, all[i].EndAt.Before(all[i-1].EndAt), "soonest end first")
		}
		exp := pages[credentialJSON](b, "viewer", "/api/v1/credentials"+q("state", "expired"))
		require.Len(t, exp, 5)
		several := pages[credentialJSON](b, "viewer", "/api/v1/credentials"+q("state", "expired", "state", "expiring", "kind", "secret"))
		require.Len(t, several, 11)
		soon := pages[credentialJSON](b, "viewer", "/api/v1/credentials"+q("expiring_within", "7d", "state", "expiring"))
		require.Len(t, soon, 1)
		rec := b.api("viewer", "GET", "/api/v1/credentials"+q("state", "sleeping", "kind", "password"), nil, http.StatusUnprocessableEntity, nil)
		require.ElementsMatch(t, []string{"state", "kind"}, fields(requireProblem(t, rec, "invalid", "")))
	})

	var binding bindingJSON
	envFile := filepath.Join(deploy, "app.env")
	fileStep := map[string]any{"name": "app-env", "type": "file", "params": map[string]any{"path": envFile, "format": "env", "key": "SECRET", "create": true}}
	t.Run("bindings", func(t *testing.T) {
		b := b.with(t)
		a := b.apps[20]
		creds, err := b.store.CredentialList(ctx, &rotor.CredentialListParams{OwnerID: a.ID})
		require.NoError(t, err)
		// Adoption is explicit: the app has a secret, so one must be named or a new one asked for.
		rec := b.api("admin", "POST", "/api/v1/bindings", map[string]any{"tenant": "contoso", "app": a.AppID, "policy": "standard"},
			http.StatusUnprocessableEntity, nil)
		require.Equal(t, []string{"adopt"}, fields(requireProblem(t, rec, "invalid", "already has a live secret")))
		rec = b.api("admin", "POST", "/api/v1/bindings", map[string]any{"tenant": "contoso", "app": a.AppID, "policy": "gold", "adopt": "x", "new": true},
			http.StatusUnprocessableEntity, nil)
		require.ElementsMatch(t, []string{"policy", "adopt"}, fields(requireProblem(t, rec, "invalid", "")))
		bad := map[string]any{"name": "Bad Name", "type": "file", "on_failure": "explode", "params": map[string]any{"paht": "x"}}
		rec = b.api("admin", "POST", "/api/v1/bindings", map[string]any{"tenant": "contoso", "app": a.ID, "policy": "standard", "new": true,
			"steps": []any{bad}}, http.StatusUnprocessableEntity, nil)
		p := requireProblem(t, rec, "invalid", "")
		require.ElementsMatch(t, []string{"steps[0].name", "steps[0].on_failure", "steps[0]"}, fields(p))
		require.Contains(t, p.Detail, `unknown field (did you mean "path"?)`)
		rec = b.api("admin", "POST", "/api/v1/bindings", map[string]any{"tenant": "contoso", "app": a.ID, "policy": "standard",
			"adopt": creds[0].KeyID, "steps": []any{fileStep}}, http.StatusCreated, &binding)
		require.Equal(t, "/api/v1/bindings/"+binding.ID, rec.Header().Get("Location"))
		require.Equal(t, creds[0].KeyID, binding.KeyID)
		require.Len(t, binding.Steps, 1)
		require.NotNil(t, binding.Next)
		b.api("admin", "POST", "/api/v1/bindings", map[string]any{"tenant": "contoso", "app": a.ID, "policy": "standard", "adopt": creds[0].KeyID},
			http.StatusConflict, nil)

		list := pages[bindingJSON](b, "viewer", "/api/v1/bindings?limit=1")
		require.Len(t, list, 1)
		require.Empty(t, pages[bindingJSON](b, "viewer", "/api/v1/bindings?paused=true"))

		rec = b.api("viewer", "GET", "/api/v1/bindings/"+binding.ID, nil, http.StatusOK, nil)
		etag := rec.Header().Get("ETag")
		require.NotEmpty(t, etag)
		b.clock.Advance(time.Second) // versions are times: the change gets a new one
		var upd bindingJSON
		rec = b.do(req{method: "PATCH", path: "/api/v1/bindings/" + binding.ID, body: map[string]any{"paused": true}, token: b.tokens["admin"],
			header: map[string]string{"If-Match": etag}})
		require.Equal(t, http.StatusOK, rec.Code, rec.Body.String())
		require.NoError(t, json.Unmarshal(rec.Body.Bytes(), &upd))
		require.True(t, upd.Paused)
		require.Contains(t, upd.Next.Reason, "paused")
		// The old ETag is stale now: someone else changed it.
		rec = b.do(req{method: "PATCH", path: "/api/v1/bindings/" + binding.ID, body: map[string]any{"paused": false}, token: b.tokens["admin"],
			header: map[string]string{"If-Match": etag}})
		require.Equal(t, http.StatusPreconditionFailed, rec.Code, rec.Body.String())
		b.api("admin", "PATCH", "/api/v1/bindings/"+binding.ID, map[string]any{"paused": false, "steps": nil}, http.StatusOK, &upd)
		require.Nil(t, upd.Steps, "null goes back to the policy's steps")
		b.api("admin", "PATCH", "/api/v1/bindings/"+binding.ID, map[string]any{"steps": []any{fileStep}}, http.StatusOK, &upd)
		require.Len(t, upd.Steps, 1)
		b.api("admin", "PATCH", "/api/v1/bindings/"+binding.ID, map[string]any{"policy": "gold"}, http.StatusUnprocessableEntity, nil)
		evs, err := b.store.AuditSearch(ctx, &rotor.AuditSearchParams{Actor: "token:t-admin", ActionPrefix: "binding."})
		require.NoError(t, err)
		require.Equal(t, []string{"binding.updated", "binding.updated", "binding.updated", "binding.created"}, actions(evs))
		binding = upd

		// A second binding, deleted again.
		var other bindingJSON
		b.api("admin", "POST", "/api/v1/bindings", map[string]any{"tenant": "contoso", "app": b.apps[21].ID, "policy": "standard", "new": true},
			http.StatusCreated, &other)
		b.api("admin", "DELETE", "/api/v1/bindings/"+other.ID, nil, http.StatusNoContent, nil)
		b.api("admin", "DELETE", "/api/v1/bindings/"+other.ID, nil, http.StatusNotFound, nil)
	})

	t.Run("policies", func(t *testing.T) {
		b := b.with(t)
		var ps itemsOf[policyJSON]
		b.api("viewer", "GET", "/api/v1/policies", nil, http.StatusOK, &ps)
		require.Len(t, ps.Items, 1)
		var p policyJSON
		b.api("viewer", "GET", "/api/v1/policies/standard", nil, http.StatusOK, &p)
		require.Equal(t, "180d", p.Lifetime)
		require.Equal(t, "7d", p.GracePeriod)
		b.api("viewer", "GET", "/api/v1/policies/gold", nil, http.StatusNotFound, nil)
	})

	t.Run("rotations", func(t *testing.T) {
		b := b.with(t)
		var plan planJSON
		b.api("operator", "POST", "/api/v1/rotations/plan", map[string]any{"binding_id": binding.ID}, http.StatusOK, &plan)
		require.True(t, plan.OK, "%+v", plan.Checks)
		require.Contains(t, strings.Join(plan.Would, "\n"), "step app-env (file, on failure abort)")
		var names []string
		for _, c := range plan.Checks {
			names = append(names, c.Name)
		}
		require.Contains(t, names, "step app-env (file)")
		_, err := os.Stat(envFile)
		require.True(t, os.IsNotExist(err), "a dry run changes nothing")
		b.api("operator", "POST", "/api/v1/rotations/plan", map[string]any{"binding_id": "nope"}, http.StatusNotFound, nil)
		b.api("operator", "POST", "/api/v1/rotations/plan", map[string]any{}, http.StatusUnprocessableEntity, nil)

		var r rotationJSON
		rec := b.api("operator", "POST", "/api/v1/rotations", map[string]any{"binding_id": binding.ID}, http.StatusCreated, &r)
		require.Equal(t, "/api/v1/rotations/"+r.ID, rec.Header().Get("Location"))
		require.Equal(t, "pending", r.State)
		require.Equal(t, "token:t-operator", r.RequestedBy)
		b.api("operator", "POST", "/api/v1/rotations", map[string]any{"binding_id": binding.ID}, http.StatusConflict, nil)
		b.api("admin", "DELETE", "/api/v1/bindings/"+binding.ID, nil, http.StatusConflict, nil)

		var got rotationJSON
		b.api("viewer", "GET", "/api/v1/rotations/"+r.ID, nil, http.StatusOK, &got)
		require.Equal(t, r.ID, got.ID)
		rs := pages[rotationJSON](b, "viewer", "/api/v1/rotations"+q("binding_id", binding.ID, "state", "pending"))
		require.Len(t, rs, 1)
		b.api("operator", "POST", "/api/v1/rotations/"+r.ID+"/retry", nil, http.StatusConflict, nil)
		var cancelled rotationJSON
		b.api("operator", "POST", "/api/v1/rotations/"+r.ID+"/cancel", nil, http.StatusAccepted, &cancelled)
		require.True(t, cancelled.CancelRequested)
		b.api("viewer", "GET", "/api/v1/rotations/nope", nil, http.StatusNotFound, nil)

		// A parked rotation is retried with a fresh attempt count.
		bd, err := b.store.BindingGet(ctx, binding.ID)
		require.NoError(t, err)
		failed := &rotor.Rotation{ID: uuid.NewString(), BindingID: bd.ID, Tenant: bd.Tenant, OwnerKind: bd.OwnerKind, OwnerID: bd.OwnerID, AppID: bd.AppID,
			Trigger: rotor.TriggerManual, State: rotor.RotationCancelled, CreatedAt: start, UpdatedAt: start}
		require.NoError(t, b.store.RotationInsert(ctx, failed))
		other := &rotor.Rotation{ID: uuid.NewString(), BindingID: b.insertBinding(t, 22).ID, Tenant: "contoso", OwnerKind: rotor.OwnerApplication,
			OwnerID: b.apps[22].ID, AppID: b.apps[22].AppID, Trigger: rotor.TriggerSchedule, State: rotor.RotationFailed, ResumeState: rotor.RotationVerifying,
			Attempt: 8, LastError: "verify: the new secret got no token", CreatedAt: start, UpdatedAt: start}
		require.NoError(t, b.store.RotationInsert(ctx, other))
		var retried rotationJSON
		b.api("operator", "POST", "/api/v1/rotations/"+other.ID+"/retry", nil, http.StatusOK, &retried)
		require.Equal(t, 0, retried.Attempt)
	})

	t.Run("audit", func(t *testing.T) {
		b := b.with(t)
		evs := pages[auditJSON](b, "viewer", "/api/v1/audit?limit=3")
		require.GreaterOrEqual(t, len(evs), 10)
		for i := 1; i < len(evs); i++ {
			require.Less(t, evs[i].Seq, evs[i-1].Seq, "newest first")
		}
		mine := pages[auditJSON](b, "viewer", "/api/v1/audit"+q("actor", "token:t-operator", "action", "rotation."))
		require.Equal(t, []string{"rotation.retry_requested", "rotation.cancel_requested", "rotation.planned"}, auditActions(mine))
		b.api("viewer", "GET", "/api/v1/audit"+q("outcome", "maybe", "since", "yesterday"), nil, http.StatusUnprocessableEntity, nil)
	})

	t.Run("notifications", func(t *testing.T) {
		b := b.with(t)
		var ns itemsOf[NotifierInfo]
		b.api("viewer", "GET", "/api/v1/notifiers", nil, http.StatusOK, &ns)
		require.Len(t, ns.Items, 1)
		all := pages[OutboxItem](b, "viewer", "/api/v1/notifications?limit=2")
		require.Len(t, all, 5)
		failed := pages[OutboxItem](b, "viewer", "/api/v1/notifications"+q("status", "failed"))
		require.Len(t, failed, 1)
		b.api("viewer", "POST", "/api/v1/notifications/"+failed[0].ID+"/retry", nil, http.StatusForbidden, nil)
		b.api("operator", "POST", "/api/v1/notifications/"+failed[0].ID+"/retry", nil, http.StatusOK, nil)
		b.api("operator", "POST", "/api/v1/notifications/"+failed[0].ID+"/retry", nil, http.StatusConflict, nil)
		b.api("operator", "POST", "/api/v1/notifications/nope/retry", nil, http.StatusNotFound, nil)
		b.api("viewer", "GET", "/api/v1/notifications?status=lost", nil, http.StatusUnprocessableEntity, nil)
	})

	t.Run("agents", func(t *testing.T) {
		b := b.with(t)
		require.NoError(t, b.store.AgentUpsert(ctx, &rotor.Agent{ID: uuid.NewString(), Name: "web-01", Hostname: "web-01.contoso.internal",
			Version: "test", CreatedAt: start, LastSeenAt: start}))
		var as itemsOf[agentJSON]
		b.api("viewer", "GET", "/api/v1/agents", nil, http.StatusOK, &as)
		require.Len(t, as.Items, 1)
	})

	t.Run("tokens", func(t *testing.T) {
		b := b.with(t)
		var created tokenJSON
		b.api("admin", "POST", "/api/v1/tokens", map[string]any{"name": "deploy-bot", "role": "operator", "expires_in": "30d"}, http.StatusCreated, &created)
		require.True(t, strings.HasPrefix(created.Token, "rotor_"))
		require.Equal(t, b.clock.Now().Add(30*day), created.ExpiresAt)
		b.tokens["new"] = created.Token
		var me meJSON
		b.api("new", "GET", "/api/v1/me", nil, http.StatusOK, &me)
		require.Equal(t, "token:deploy-bot", me.Actor)
		var list itemsOf[tokenJSON]
		b.api("admin", "GET", "/api/v1/tokens", nil, http.StatusOK, &list)
		for _, tk := range list.Items {
			require.Empty(t, tk.Token, "values are never listed")
		}
		got, err := b.store.APITokenGet(ctx, created.ID)
		require.NoError(t, err)
		require.Equal(t, b.clock.Now(), got.LastUsedAt, "its use is recorded")
		rec := b.api("admin", "POST", "/api/v1/tokens", map[string]any{"name": "Deploy Bot", "role": "root", "expires_in": "5y"}, http.StatusUnprocessableEntity, nil)
		require.ElementsMatch(t, []string{"name", "role", "expires_in"}, fields(requireProblem(t, rec, "invalid", "")))
		rec = b.api("admin", "POST", "/api/v1/tokens", map[string]any{"name": "deploy-bot", "role": "viewer"}, http.StatusUnprocessableEntity, nil)
		require.Equal(t, []string{"name"}, fields(requireProblem(t, rec, "invalid", "a token named deploy-bot exists")))
		b.api("admin", "POST", "/api/v1/tokens", map[string]any{"name": "x", "role": "viewer", "expires_in": "400d"}, http.StatusUnprocessableEntity, nil)
		var revoked tokenJSON
		b.api("admin", "DELETE", "/api/v1/tokens/"+created.ID, nil, http.StatusOK, &revoked)
		require.False(t, revoked.Active)
		b.api("new", "GET", "/api/v1/me", nil, http.StatusUnauthorized, nil)
		b.api("admin", "DELETE", "/api/v1/tokens/nope", nil, http.StatusNotFound, nil)
		var withRevoked itemsOf[tokenJSON]
		b.api("admin", "GET", "/api/v1/tokens?include_revoked=true", nil, http.StatusOK, &withRevoked)
		require.Greater(t, len(withRevoked.Items), len(list.Items)-1)
		evs, err := b.store.AuditSearch(ctx, &rotor.AuditSearchParams{ActionPrefix: "token."})
		require.NoError(t, err)
		for _, e := range evs {
			require.NotContains(t, fmt.Sprint(e.Details, e.Reason), created.Token, "the audit trail never holds a token value")
		}
	})

	t.Run("problems", func(t *testing.T) {
		b := b.with(t)
		b.api("", "GET", "/api/v1/openapi.json", nil, http.StatusOK, nil)
		rec := b.do(req{method: "GET", path: "/api/v1/nothing", token: b.tokens["admin"]})
		require.Equal(t, http.StatusNotFound, rec.Code)
		require.Equal(t, "application/problem+json", rec.Header().Get("Content-Type"))
		rec = b.do(req{method: "PUT", path: "/api/v1/bindings", token: b.tokens["admin"]})
		require.Equal(t, http.StatusMethodNotAllowed, rec.Code)
		require.Contains(t, rec.Header().Get("Allow"), "POST")
		requireProblem(t, rec, "method-not-allowed", "PUT")
		rec = b.do(req{method: "POST", path: "/api/v1/tokens", body: "name=x", token: b.tokens["admin"]})
		require.Equal(t, http.StatusUnsupportedMediaType, rec.Code)
		rec = b.do(req{method: "POST", path: "/api/v1/tokens", body: map[string]any{"name": "x", "role": "viewer", "colour": "red"}, token: b.tokens["admin"]})
		require.Equal(t, http.StatusBadRequest, rec.Code)
		requireProblem(t, rec, "bad-request", "unknown field")
	})

	// Every documented operation was exercised and its answers validated.
	var missing []string
	for _, item := range b.spec.doc.Paths.Map() {
		for _, op := range item.Operations() {
			if !b.spec.covered[op.OperationID] {
				missing = append(missing, op.OperationID)
			}
		}
	}
	sort.Strings(missing)
	require.Empty(t, missing, "operations no test exercised")
}

// insertBinding binds b.apps[i]'s secret directly in the store.
func (b *bundle) insertBinding(t *testing.T, i int) *rotor.Binding {
	t.Helper()
	a := b.apps[i]
	bd := &rotor.Binding{ID: uuid.NewString(), Tenant: "contoso", OwnerKind: rotor.OwnerApplication, OwnerID: a.ID, AppID: a.AppID,
		Kind: rotor.KindSecret, Policy: "standard", Source: rotor.BindingManual, CreatedAt: start, UpdatedAt: start}
	require.NoError(t, b.store.BindingInsert(t.Context(), bd))
	return bd
}

func requireProblem(t *testing.T, rec *httptest.ResponseRecorder, typ, detail string) problem {
	t.Helper()
	require.Equal(t, "application/problem+json", rec.Header().Get("Content-Type"))
	var p problem
	require.NoError(t, json.Unmarshal(rec.Body.Bytes(), &p))
	require.Equal(t, "urn:rotor:problem:"+typ, p.Type)
	require.Contains(t, p.Detail, detail)
	require.NotEmpty(t, p.Title)
	require.NotZero(t, p.Status)
	return p
}

func fields(p problem) []string {
	var out []string
	for _, f := range p.Errors {
		out = append(out, f.Field)
	}
	return out
}

func actions(evs []*rotor.AuditEvent) []string {
	out := make([]string, len(evs))
	for i, e := range evs {
		out[i] = e.Action
	}
	return out
}

func auditActions(evs []auditJSON) []string {
	out := make([]string, len(evs))
	for i, e := range evs {
		out[i] = e.Action
	}
	return out
}
