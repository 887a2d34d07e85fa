package server

import (
	"encoding/hex"
	"encoding/json"
	"fmt"
	"time"

	"github.com/rotorhq/rotor"
	"github.com/rotorhq/rotor/auth"
	"github.com/rotorhq/rotor/inventory"
	"github.com/rotorhq/rotor/planner"
	"github.com/rotorhq/rotor/runner"
)

// The API's resources. Field names are snake_case, times RFC 3339 in UTC (absent when unset),
// durations strings such as "30d", "12h" or "90s". No resource ever carries a secret value.

func tp(t time.Time) *time.Time {
	if t.IsZero() {
		return nil
	}
	u := t.UTC()
	return &u
}

// fmtDuration writes d in days when it is whole days, else as Go does.
func fmtDuration(d time.Duration) string {
	day := 24 * time.Hour
	if d != 0 && d%day == 0 {
		return fmt.Sprintf("%dd", d/day)
	}
	return d.String()
}

type tenantJSON struct {
	Name                      string         `json:"name"`
	TenantID                  string         `json:"tenant_id"`
	DisplayName               string         `json:"display_name,omitempty"`
	Configured                bool           `json:"configured"`
	ApplicationsSyncedAt      *time.Time     `json:"applications_synced_at,omitempty"`
	ServicePrincipalsSyncedAt *time.Time     `json:"service_principals_synced_at,omitempty"`
	LastFullSyncAt            *time.Time     `json:"last_full_sync_at,omitempty"`
	Credentials               *int           `json:"credentials,omitempty"`
	CredentialsByState        map[string]int `json:"credentials_by_state,omitempty"`
}

type appJSON struct {
	Tenant         string     `json:"tenant"`
	ID             string     `json:"id"`
	AppID          string     `json:"app_id"`
	DisplayName    string     `json:"display_name"`
	SignInAudience string     `json:"sign_in_audience,omitempty"`
	Tags           []string   `json:"tags"`
	CreatedAt      *time.Time `json:"created_at,omitempty"`
	SyncedAt       *time.Time `json:"synced_at,omitempty"`
	Credentials    int        `json:"credentials"`
	Expired        int        `json:"expired"`
	NextEndAt      *time.Time `json:"next_end_at,omitempty"`
	Bindings       int        `json:"bindings"`
}

func appOf(a *rotor.AppSummary) appJSON {
	tags := a.Tags
	if tags == nil {
		tags = []string{}
	}
	return appJSON{Tenant: a.Tenant, ID: a.ID, AppID: a.AppID, DisplayName: a.DisplayName, SignInAudience: a.SignInAudience, Tags: tags,
		CreatedAt: tp(a.CreatedAt), SyncedAt: tp(a.SyncedAt), Credentials: a.Credentials, Expired: a.Expired, NextEndAt: tp(a.NextEndAt),
		Bindings: a.Bindings}
}

type credentialJSON struct {
	Tenant      string     `json:"tenant"`
	KeyID       string     `json:"key_id"`
	Kind        string     `json:"kind"`
	OwnerKind   string     `json:"owner_kind"`
	OwnerID     string     `json:"owner_id"`
	OwnerName   string     `json:"owner_name"`
	AppID       string     `json:"app_id"`
	DisplayName string     `json:"display_name"`
	Hint        string     `json:"hint,omitempty"`
	Thumbprint  string     `json:"thumbprint,omitempty"`
	StartAt     *time.Time `json:"start_at,omitempty"`
	EndAt       time.Time  `json:"end_at"`
	State       string     `json:"state"`
	Urgency     string     `json:"urgency"`
	BindingID   string     `json:"binding_id,omitempty"`
	FirstSeenAt *time.Time `json:"first_seen_at,omitempty"`
	RemovedAt   *time.Time `json:"removed_at,omitempty"`
	RemovedBy   string     `json:"removed_by,omitempty"`
}

func credentialOf(r inventory.Row) credentialJSON {
	c := r.Credential
	return credentialJSON{Tenant: c.Tenant, KeyID: c.KeyID, Kind: string(c.Kind), OwnerKind: string(c.OwnerKind), OwnerID: c.OwnerID,
		OwnerName: c.OwnerName, AppID: c.AppID, DisplayName: c.DisplayName, Hint: c.Hint, Thumbprint: c.Thumbprint, StartAt: tp(c.StartAt),
		EndAt: c.EndAt.UTC(), State: string(r.State), Urgency: r.Urgency.String(), BindingID: r.BindingID, FirstSeenAt: tp(c.FirstSeenAt),
		RemovedAt: tp(c.RemovedAt), RemovedBy: c.RemovedBy}
}

type stepSpecJSON struct {
	Name      string          `json:"name"`
	Type      string          `json:"type"`
	OnFailure string          `json:"on_failure"`
	Params    json.RawMessage `json:"params,omitempty"`
}

func stepSpecsOf(specs []rotor.StepSpec) []stepSpecJSON {
	if specs == nil {
		return nil
	}
	out := make([]stepSpecJSON, len(specs))
	for i, s := range specs {
		out[i] = stepSpecJSON{Name: s.Name, Type: s.Type, OnFailure: string(s.OnFailure), Params: s.Params}
	}
	return out
}

type decisionJSON struct {
	Due        bool       `json:"due"`
	Trigger    string     `json:"trigger,omitempty"`
	At         *time.Time `json:"at,omitempty"`
	NextWindow *time.Time `json:"next_window,omitempty"`
	Reason     string     `json:"reason"`
}

func decisionOf(d planner.Decision) decisionJSON {
	return decisionJSON{Due: d.Due, Trigger: string(d.Trigger), At: tp(d.At), NextWindow: tp(d.NextWindow), Reason: d.Reason}
}

type bindingJSON struct {
	ID        string         `json:"id"`
	Tenant    string         `json:"tenant"`
	OwnerKind string         `json:"owner_kind"`
	OwnerID   string         `json:"owner_id"`
	AppID     string         `json:"app_id"`
	Kind      string         `json:"kind"`
	Policy    string         `json:"policy"`
	KeyID     string         `json:"key_id,omitempty"`
	Steps     []stepSpecJSON `json:"steps"` // null: the policy's steps
	Source    string         `json:"source"`
	Paused    bool           `json:"paused"`
	CreatedAt time.Time      `json:"created_at"`
	// UpdatedAt is the binding's version: send it back as If-Match (or expected_updated_at) to
	// update it without overwriting someone else's change.
	UpdatedAt time.Time     `json:"updated_at"`
	Next      *decisionJSON `json:"next,omitempty"`
}

func bindingOf(b *rotor.Binding) bindingJSON {
	return bindingJSON{ID: b.ID, Tenant: b.Tenant, OwnerKind: string(b.OwnerKind), OwnerID: b.OwnerID, AppID: b.AppID, Kind: string(b.Kind),
		Policy: b.Policy, KeyID: b.KeyID, Steps: stepSpecsOf(b.Steps), Source: string(b.Source), Paused: b.Paused,
		CreatedAt: b.CreatedAt.UTC(), UpdatedAt: b.UpdatedAt.UTC()}
}

type windowJSON struct {
	Cron     string `json:"cron"`
	Duration string `json:"duration"`
	TimeZone string `json:"time_zone,omitempty"`
}

type policyJSON struct {
	Name                   string         `json:"name"`
	Lifetime               string         `json:"lifetime"`
	RotateBefore           string         `json:"rotate_before"`
	RotateAtFraction       float64        `json:"rotate_at_fraction,omitempty"`
	GracePeriod            string         `json:"grace_period"`
	Jitter                 string         `json:"jitter,omitempty"`
	EmergencyWithin        string         `json:"emergency_within"`
	MaxConcurrentPerTenant int            `json:"max_concurrent_per_tenant"`
	Windows                []windowJSON   `json:"windows"`
	Verify                 verifyJSON     `json:"verify"`
	Select                 *selectJSON    `json:"select,omitempty"`
	Adopt                  string         `json:"adopt,omitempty"`
	Steps                  []stepSpecJSON `json:"steps"`
}

type verifyJSON struct {
	Successes int    `json:"successes"`
	Interval  string `json:"interval"`
	Timeout   string `json:"timeout"`
	Scope     string `json:"scope"`
}

type selectJSON struct {
	Tenants      []string `json:"tenants,omitempty"`
	DisplayNames []string `json:"display_names,omitempty"`
	AppIDs       []string `json:"app_ids,omitempty"`
	Tags         []string `json:"tags,omitempty"`
	Owners       []string `json:"owners,omitempty"`
}

func policyOf(p *rotor.Policy) policyJSON {
	out := policyJSON{Name: p.Name, Lifetime: fmtDuration(p.Lifetime), RotateBefore: fmtDuration(p.RotateBefore), RotateAtFraction: p.RotateAtFraction,
		GracePeriod: fmtDuration(p.GracePeriod), EmergencyWithin: fmtDuration(p.EmergencyWithin), MaxConcurrentPerTenant: p.MaxConcurrentPerTenant,
		Windows: []windowJSON{}, Verify: verifyJSON{Successes: p.Verify.Successes, Interval: fmtDuration(p.Verify.Interval),
			Timeout: fmtDuration(p.Verify.Timeout), Scope: p.Verify.Scope}, Adopt: p.Adopt, Steps: stepSpecsOf(p.Steps)}
	if p.Jitter > 0 {
		out.Jitter = fmtDuration(p.Jitter)
	}
	if out.Steps == nil {
		out.Steps = []stepSpecJSON{}
	}
	for _, w := range p.Windows {
		out.Windows = append(out.Windows, windowJSON{Cron: w.Cron, Duration: fmtDuration(w.Duration), TimeZone: w.TimeZone})
	}
	if sel := p.Select; sel != nil {
		out.Select = &selectJSON{Tenants: sel.Tenants, DisplayNames: sel.DisplayNames, AppIDs: sel.AppIDs, Tags: sel.Tags, Owners: sel.Owners}
	}
	return out
}

type stepJSON struct {
	Name       string     `json:"name"`
	Ordinal    int        `json:"ordinal"`
	Type       string     `json:"type"`
	OnFailure  string     `json:"on_failure"`
	State      string     `json:"state"`
	Attempt    int        `json:"attempt"`
	Message    string     `json:"message,omitempty"`
	StartedAt  *time.Time `json:"started_at,omitempty"`
	FinishedAt *time.Time `json:"finished_at,omitempty"`
	DurationMS *int64     `json:"duration_ms,omitempty"`
}

func stepOf(s *rotor.RotationStep) stepJSON {
	out := stepJSON{Name: s.Name, Ordinal: s.Ordinal, Type: s.Type, OnFailure: string(s.OnFailure), State: string(s.State), Attempt: s.Attempt,
		Message: s.Message, StartedAt: tp(s.StartedAt), FinishedAt: tp(s.FinishedAt)}
	if !s.StartedAt.IsZero() && !s.FinishedAt.IsZero() {
		ms := s.FinishedAt.Sub(s.StartedAt).Milliseconds()
		out.DurationMS = &ms
	}
	return out
}

type rotationJSON struct {
	ID              string     `json:"id"`
	BindingID       string     `json:"binding_id"`
	Tenant          string     `json:"tenant"`
	OwnerKind       string     `json:"owner_kind"`
	OwnerID         string     `json:"owner_id"`
	AppID           string     `json:"app_id"`
	Trigger         string     `json:"trigger"`
	State           string     `json:"state"`
	ResumeState     string     `json:"resume_state,omitempty"`
	CancelRequested bool       `json:"cancel_requested"`
	OldKeyID        string     `json:"old_key_id,omitempty"`
	NewKeyID        string     `json:"new_key_id,omitempty"`
	NewEndAt        *time.Time `json:"new_end_at,omitempty"`
	NeedsAttention  bool       `json:"needs_attention"`
	Attempt         int        `json:"attempt"`
	NextAttemptAt   *time.Time `json:"next_attempt_at,omitempty"`
	Parked          bool       `json:"parked"`
	LastError       string     `json:"last_error,omitempty"`
	GraceUntil      *time.Time `json:"grace_until,omitempty"`
	CreatedAt       time.Time  `json:"created_at"`
	UpdatedAt       time.Time  `json:"updated_at"`
	FinishedAt      *time.Time `json:"finished_at,omitempty"`
	RequestedBy     string     `json:"requested_by,omitempty"`
	Steps           []stepJSON `json:"steps,omitempty"`
}

func rotationOf(r *rotor.Rotation) rotationJSON {
	return rotationJSON{ID: r.ID, BindingID: r.BindingID, Tenant: r.Tenant, OwnerKind: string(r.OwnerKind), OwnerID: r.OwnerID, AppID: r.AppID,
		Trigger: string(r.Trigger), State: string(r.State), ResumeState: string(r.ResumeState), CancelRequested: r.CancelRequested,
		OldKeyID: r.OldKeyID, NewKeyID: r.NewKeyID, NewEndAt: tp(r.NewEndAt), NeedsAttention: r.NeedsAttention, Attempt: r.Attempt,
		NextAttemptAt: tp(r.NextAttemptAt), Parked: r.State == rotor.RotationFailed && r.NextAttemptAt.IsZero(), LastError: r.LastError,
		GraceUntil: tp(r.GraceUntil), CreatedAt: r.CreatedAt.UTC(), UpdatedAt: r.UpdatedAt.UTC(), FinishedAt: tp(r.FinishedAt),
		RequestedBy: r.RequestedBy}
}

type auditJSON struct {
	Seq        int64             `json:"seq"`
	At         time.Time         `json:"at"`
	Actor      string            `json:"actor"`
	Action     string            `json:"action"`
	Tenant     string            `json:"tenant,omitempty"`
	AppID      string            `json:"app_id,omitempty"`
	KeyID      string            `json:"key_id,omitempty"`
	RotationID string            `json:"rotation_id,omitempty"`
	Outcome    string            `json:"outcome"`
	Reason     string            `json:"reason,omitempty"`
	Details    map[string]string `json:"details,omitempty"`
	Hash       string            `json:"hash"`
}

func auditOf(e *rotor.AuditEvent) auditJSON {
	return auditJSON{Seq: e.Seq, At: e.At.UTC(), Actor: e.Actor, Action: e.Action, Tenant: e.Tenant, AppID: e.AppID, KeyID: e.KeyID,
		RotationID: e.RotationID, Outcome: e.Outcome, Reason: e.Reason, Details: e.Details, Hash: hex.EncodeToString(e.Hash)}
}

type tokenJSON struct {
	ID         string     `json:"id"`
	Name       string     `json:"name"`
	Role       string     `json:"role"`
	Active     bool       `json:"active"`
	CreatedAt  time.Time  `json:"created_at"`
	CreatedBy  string     `json:"created_by"`
	ExpiresAt  time.Time  `json:"expires_at"`
	RevokedAt  *time.Time `json:"revoked_at,omitempty"`
	RevokedBy  string     `json:"revoked_by,omitempty"`
	LastUsedAt *time.Time `json:"last_used_at,omitempty"`
	// Token is the value, in the answer to its creation only.
	Token string `json:"token,omitempty"`
}

func tokenOf(t *rotor.APIToken, now time.Time) tokenJSON {
	return tokenJSON{ID: t.ID, Name: t.Name, Role: t.Role, Active: t.Active(now), CreatedAt: t.CreatedAt.UTC(), CreatedBy: t.CreatedBy,
		ExpiresAt: t.ExpiresAt.UTC(), RevokedAt: tp(t.RevokedAt), RevokedBy: t.RevokedBy, LastUsedAt: tp(t.LastUsedAt)}
}

type meJSON struct {
	Kind        string   `json:"kind"`
	Name        string   `json:"name"`
	DisplayName string   `json:"display_name,omitempty"`
	Actor       string   `json:"actor"`
	Role        string   `json:"role"`
	Permissions []string `json:"permissions"`
}

func meOf(p *auth.Principal) meJSON {
	out := meJSON{Kind: string(p.Kind), Name: p.Name, DisplayName: p.DisplayName, Actor: p.Actor(), Role: string(p.Role), Permissions: []string{}}
	for _, perm := range p.Role.Permissions() {
		out.Permissions = append(out.Permissions, string(perm))
	}
	return out
}

type checkJSON struct {
	Name    string `json:"name"`
	OK      bool   `json:"ok"`
	Warning bool   `json:"warning"`
	Message string `json:"message"`
}

func checksOf(cs []runner.Check) ([]checkJSON, bool) {
	out := make([]checkJSON, len(cs))
	ok := true
	for i, c := range cs {
		out[i] = checkJSON{Name: c.Name, OK: c.OK, Warning: c.Warning, Message: c.Message}
		ok = ok && c.OK
	}
	return out, ok
}

type agentJSON struct {
	ID         string            `json:"id"`
	Name       string            `json:"name"`
	Hostname   string            `json:"hostname,omitempty"`
	Version    string            `json:"version,omitempty"`
	Labels     map[string]string `json:"labels,omitempty"`
	CreatedAt  time.Time         `json:"created_at"`
	LastSeenAt *time.Time        `json:"last_seen_at,omitempty"`
	Disabled   bool              `json:"disabled"`
}

func agentOf(a *rotor.Agent) agentJSON {
	return agentJSON{ID: a.ID, Name: a.Name, Hostname: a.Hostname, Version: a.Version, Labels: a.Labels, CreatedAt: a.CreatedAt.UTC(),
		LastSeenAt: tp(a.LastSeenAt), Disabled: a.Disabled}
}
