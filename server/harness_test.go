package server

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/stretchr/testify/require"

	"github.com/rotorhq/rotor"
	"github.com/rotorhq/rotor/auth"
	"github.com/rotorhq/rotor/internal/testclock"
	"github.com/rotorhq/rotor/lifecycle"
	"github.com/rotorhq/rotor/runner"
	"github.com/rotorhq/rotor/seal"
	"github.com/rotorhq/rotor/secret"
	"github.com/rotorhq/rotor/store/sqlstore"
	"github.com/rotorhq/rotor/target/all"
)

var start = time.Date(2026, 11, 21, 9, 0, 0, 0, time.UTC)

const day = 24 * time.Hour

// bundle is a server over a real SQLite store and a real rotation engine whose directory is an
// in-memory fake, with an API token per role and a few applications.
type bundle struct {
	t      *testing.T
	store  *sqlstore.Store
	clock  *testclock.Jumping
	srv    *Server
	h      http.Handler
	dir    *fakeDir
	tokens map[string]string // viewer, operator, admin, expired, revoked -> token value
	apps   []*rotor.App      // contoso's applications, by display name
	policy *rotor.Policy
	spec   *specChecker // validates API answers against openapi.yaml, when set
}

// option changes the server's configuration or wraps its handlers.
type option struct {
	cfg   func(*Config)
	wrap  func(*route, handlerFunc) handlerFunc
	clock *testclock.Jumping // the clock to use, shared with other test servers
}

func setup(t *testing.T, opts ...option) *bundle {
	t.Helper()
	b := &bundle{t: t, clock: testclock.NewJumping(start), tokens: map[string]string{}}
	for _, o := range opts {
		if o.clock != nil {
			b.clock = o.clock
		}
	}
	st, err := sqlstore.OpenSQLite(t.Context(), filepath.Join(t.TempDir(), "rotor.db"), sqlstore.Options{Clock: b.clock})
	require.NoError(t, err)
	t.Cleanup(func() { st.Close() })
	b.store = st
	b.dir = newFakeDir()
	ctx := t.Context()
	for _, tn := range []string{"contoso", "fabrikam"} {
		require.NoError(t, st.TenantUpsert(ctx, &rotor.Tenant{Name: tn, TenantID: uuid.NewString(), CreatedAt: start, UpdatedAt: start}))
	}
	// contoso: 30 apps named app-00..app-29; app-i has a secret ending in i*5-20 days.
	for i := range 30 {
		a := &rotor.App{Tenant: "contoso", ID: uuid.NewString(), AppID: uuid.NewString(), DisplayName: fmt.Sprintf("app-%02d", i),
			Tags: []string{"team:payments"}, SyncedAt: start}
		require.NoError(t, st.AppUpsertBatch(ctx, []*rotor.App{a}))
		c := &rotor.Credential{KeyID: uuid.NewString(), Kind: rotor.KindSecret, DisplayName: "prod", Hint: "abc",
			StartAt: start.Add(-300 * day), EndAt: start.Add(time.Duration(i*5-20) * day)}
		_, err := st.CredentialSyncOwners(ctx, &rotor.CredentialSyncOwnersParams{Tenant: "contoso", Now: start, Owners: []rotor.OwnerCredentials{
			{OwnerKind: rotor.OwnerApplication, OwnerID: a.ID, OwnerName: a.DisplayName, AppID: a.AppID, Credentials: []*rotor.Credential{c}}}})
		require.NoError(t, err)
		b.dir.put(rotor.OwnerRef{Kind: rotor.OwnerApplication, ID: a.ID}, c)
		b.apps = append(b.apps, a)
	}
	b.policy = &rotor.Policy{Name: "standard", Lifetime: 180 * day, RotateBefore: 30 * day, GracePeriod: 7 * day, EmergencyWithin: 3 * day,
		MaxConcurrentPerTenant: 5, Verify: rotor.VerifySettings{Successes: 1, Interval: time.Second, Timeout: time.Minute, Scope: "https://graph.microsoft.com/.default"}}
	kv, err := seal.GenerateKEK()
	require.NoError(t, err)
	kek, err := seal.ParseKEK(kv)
	require.NoError(t, err)
	reg := all.Registry(all.Deps{Clock: b.clock})
	eng, err := runner.New(runner.Config{Store: st, Clock: b.clock, Keyring: seal.NewKeyring(kek),
		Directory: func(string) (rotor.Directory, error) { return b.dir, nil },
		Verifier:  okVerifier{},
		Target:    func(_ string, spec rotor.StepSpec) (rotor.Target, error) { return reg.Build(spec) },
		Policy: func(name string) (*rotor.Policy, error) {
			if name != b.policy.Name {
				return nil, fmt.Errorf("no policy %q: %w", name, rotor.ErrNotFound)
			}
			return b.policy, nil
		},
		Worker: "test"})
	require.NoError(t, err)
	cfg := Config{Store: st, Clock: b.clock, Thresholds: lifecycle.DefaultThresholds, Engine: eng, Registry: reg,
		Policies: map[string]*rotor.Policy{"standard": b.policy}, Tenants: []string{"contoso", "fabrikam"},
		SyncNow:   func(string) error { return nil },
		Metrics:   http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { fmt.Fprintln(w, "rotor_up 1") }),
		PublicURL: "http://rotor.test", SessionKey: secret.New(randomKey()), SessionLifetime: 8 * time.Hour,
		Roles:   auth.RoleMap{AppRoles: map[string]auth.Role{"Rotor.Admin": auth.Admin}},
		Version: "test"}
	var wrap func(*route, handlerFunc) handlerFunc
	for _, o := range opts {
		if o.cfg != nil {
			o.cfg(&cfg)
		}
		if o.wrap != nil {
			wrap = o.wrap
		}
	}
	s, err := newServer(cfg, wrap)
	require.NoError(t, err)
	b.srv, b.h = s, s.Handler()
	for _, role := range []string{"viewer", "operator", "admin"} {
		_, v, err := CreateToken(ctx, st, start, "test", "t-"+role, role, "90d")
		require.NoError(t, err)
		b.tokens[role] = v
	}
	_, v, err := CreateToken(ctx, st, start.Add(-10*day), "test", "t-expired", "admin", "1d")
	require.NoError(t, err)
	b.tokens["expired"] = v
	tok, v, err := CreateToken(ctx, st, start, "test", "t-revoked", "admin", "90d")
	require.NoError(t, err)
	_, err = RevokeToken(ctx, st, start, "test", tok.ID)
	require.NoError(t, err)
	b.tokens["revoked"] = v
	return b
}

func randomKey() string {
	k := make([]byte, 32)
	_, _ = rand.Read(k)
	return base64.StdEncoding.EncodeToString(k)
}

// with returns the bundle for a subtest: failures are reported on t.
func (b *bundle) with(t *testing.T) *bundle {
	c := *b
	c.t = t
	return &c
}

// session returns the cookie and CSRF token of a signed-in user with role.
func (b *bundle) session(role auth.Role, name string) (*http.Cookie, string) {
	b.t.Helper()
	rec := httptest.NewRecorder()
	sess := &session{ID: randomID(24), Subject: uuid.NewString(), Username: name, DisplayName: name, Role: role,
		IssuedAt: b.clock.Now(), ExpiresAt: b.clock.Now().Add(time.Hour)}
	require.NoError(b.t, b.srv.setSession(rec, sess))
	c := rec.Result().Cookies()[0]
	return c, b.srv.csrfToken(&auth.Principal{SessionID: sess.ID})
}

// req is one request to the server.
type req struct {
	method, path string
	body         any    // JSON-encoded unless a string (sent as a form)
	token        string // bearer token value
	cookie       *http.Cookie
	csrf         string
	header       map[string]string
}

// do sends r through the server's handler and returns the answer. API answers are checked
// against the OpenAPI document when the bundle has a checker.
func (b *bundle) do(r req) *httptest.ResponseRecorder {
	b.t.Helper()
	var body io.Reader
	ct := ""
	var raw []byte
	switch v := r.body.(type) {
	case nil:
	case string:
		raw, ct = []byte(v), "application/x-www-form-urlencoded"
	default:
		var err error
		raw, err = json.Marshal(v)
		require.NoError(b.t, err)
		ct = "application/json"
	}
	if raw != nil {
		body = bytes.NewReader(raw)
	}
	hr := httptest.NewRequestWithContext(b.t.Context(), r.method, "http://rotor.test"+r.path, body)
	if ct != "" {
		hr.Header.Set("Content-Type", ct)
	}
	if r.token != "" {
		hr.Header.Set("Authorization", "Bearer "+r.token)
	}
	if r.cookie != nil {
		hr.AddCookie(r.cookie)
	}
	if r.csrf != "" {
		hr.Header.Set("X-CSRF-Token", r.csrf)
	}
	for k, v := range r.header {
		hr.Header.Set(k, v)
	}
	rec := httptest.NewRecorder()
	b.h.ServeHTTP(rec, hr)
	if b.spec != nil && strings.HasPrefix(r.path, "/api/v1/") {
		b.spec.check(b.t, r.method, r.path, raw, ct, r.header, rec)
	}
	return rec
}

// api sends an API request with a token of role and decodes the JSON answer into out.
func (b *bundle) api(role, method, path string, body any, wantStatus int, out any) *httptest.ResponseRecorder {
	b.t.Helper()
	rec := b.do(req{method: method, path: path, body: body, token: b.tokens[role]})
	require.Equal(b.t, wantStatus, rec.Code, "%s %s: %s", method, path, rec.Body.String())
	if out != nil {
		require.NoError(b.t, json.Unmarshal(rec.Body.Bytes(), out), rec.Body.String())
	}
	return rec
}

// okVerifier accepts every credential at once.
type okVerifier struct{}

func (okVerifier) Verify(context.Context, string, string, string, secret.Value) error { return nil }

// fakeDir is an in-memory rotor.Directory.
type fakeDir struct {
	mu     sync.Mutex
	owners map[string][]*rotor.Credential
}

func newFakeDir() *fakeDir { return &fakeDir{owners: map[string][]*rotor.Credential{}} }

func (d *fakeDir) put(o rotor.OwnerRef, c *rotor.Credential) {
	d.mu.Lock()
	defer d.mu.Unlock()
	cp := *c
	d.owners[o.ID] = append(d.owners[o.ID], &cp)
}

func (d *fakeDir) AddSecret(_ context.Context, o rotor.OwnerRef, name string, end time.Time) (*rotor.NewSecret, error) {
	c := &rotor.Credential{KeyID: uuid.NewString(), Kind: rotor.KindSecret, DisplayName: name, StartAt: start, EndAt: end}
	d.put(o, c)
	return &rotor.NewSecret{KeyID: c.KeyID, DisplayName: name, StartAt: start, EndAt: end, Value: secret.New("test-value-" + c.KeyID[:8])}, nil
}

func (d *fakeDir) RemoveSecret(_ context.Context, o rotor.OwnerRef, keyID string) error {
	d.mu.Lock()
	defer d.mu.Unlock()
	cs := d.owners[o.ID]
	for i, c := range cs {
		if c.KeyID == keyID {
			d.owners[o.ID] = append(cs[:i], cs[i+1:]...)
			return nil
		}
	}
	return rotor.ErrNotFound
}

func (d *fakeDir) ListSecrets(_ context.Context, o rotor.OwnerRef) ([]*rotor.Credential, error) {
	d.mu.Lock()
	defer d.mu.Unlock()
	var out []*rotor.Credential
	for _, c := range d.owners[o.ID] {
		cp := *c
		out = append(out, &cp)
	}
	return out, nil
}

func (d *fakeDir) SecretRestriction(context.Context, rotor.OwnerRef) (rotor.SecretRestriction, error) {
	return rotor.SecretRestriction{}, nil
}

// pathOf fills a route pattern's wildcards with sample values.
func pathOf(pattern string) string {
	p := strings.ReplaceAll(pattern, "{$}", "")
	p = strings.NewReplacer("{tenant}", "contoso", "{id}", "x", "{name}", "standard", "{file}", "app.css").Replace(p)
	return p
}

func q(kv ...string) string {
	v := url.Values{}
	for i := 0; i+1 < len(kv); i += 2 {
		v.Add(kv[i], kv[i+1])
	}
	return "?" + v.Encode()
}
