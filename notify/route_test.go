package notify

import (
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

func TestRouteMatch(t *testing.T) {
	t.Parallel()
	const payrollID = "3f4c2a9e-1b7d-4e0a-9c55-8d2e6f1a0b3c"
	e := func(typ, tenant, policy, appID, name string) *Event {
		return &Event{Type: typ, Tenant: tenant, Policy: policy, AppID: appID, AppDisplayName: name}
	}
	tests := map[string]struct {
		route Route
		event *Event
		want  bool
	}{
		"default events include failures":     {Route{}, e("rotation.failed", "contoso", "", "", ""), true},
		"default events leave routine out":    {Route{}, e("step.succeeded", "contoso", "", "", ""), false},
		"default events include expiry":       {Route{}, e(EventExpiring, "contoso", "", "", ""), true},
		"glob":                                {Route{Events: []string{"rotation.*"}}, e("rotation.cancelled", "", "", "", ""), true},
		"glob does not cross the dot":         {Route{Events: []string{"rotation.*"}}, e("step.failed", "", "", "", ""), false},
		"tenant":                              {Route{Tenants: []string{"contoso"}}, e("rotation.failed", "fabrikam", "", "", ""), false},
		"policy":                              {Route{Policies: []string{"standard"}}, e("rotation.failed", "contoso", "standard", "", ""), true},
		"unmanaged does not match a policy":   {Route{Policies: []string{"standard"}}, e("rotation.failed", "contoso", "", "", ""), false},
		"app by client id, any case":          {Route{Apps: []string{"3F4C2A9E-1B7D-4E0A-9C55-8D2E6F1A0B3C"}}, e("rotation.failed", "", "", payrollID, "x"), true},
		"app by display name glob":            {Route{Apps: []string{"payroll-*"}}, e("rotation.failed", "", "", "", "payroll-api"), true},
		"app glob is case sensitive":          {Route{Apps: []string{"payroll-*"}}, e("rotation.failed", "", "", "", "Payroll-api"), false},
		"app with no name matches no glob":    {Route{Apps: []string{"*"}}, e("rotation.failed", "", "", payrollID, ""), false},
		"every filter must hold":              {Route{Tenants: []string{"contoso"}, Apps: []string{"payroll-*"}}, e("rotation.failed", "fabrikam", "", "", "payroll-api"), false},
		"any entry of a filter may match":     {Route{Apps: []string{"billing", "payroll-*"}}, e("rotation.failed", "", "", "", "payroll-api"), true},
		"an explicit list replaces defaults":  {Route{Events: []string{"step.succeeded"}}, e("rotation.failed", "", "", "", ""), false},
		"out-of-band changes are by default":  {Route{}, e(ActionCredentialAddedOutOfBand, "", "", "", ""), true},
		"out-of-band removals are by default": {Route{}, e(ActionCredentialRemovedOutOfBd, "", "", "", ""), true},
	}
	for name, tt := range tests {
		require.Equal(t, tt.want, tt.route.Match(tt.event), name)
	}
}

func TestDigestDay(t *testing.T) {
	t.Parallel()
	cet := time.FixedZone("CET", 3600)
	d := &DigestSchedule{At: 8 * time.Hour, Location: cet}
	tests := []struct {
		now  time.Time
		date string
		due  bool
	}{
		{time.Date(2026, 11, 2, 6, 59, 0, 0, time.UTC), "2026-11-02", false},
		{time.Date(2026, 11, 2, 7, 0, 0, 0, time.UTC), "2026-11-02", true},
		{time.Date(2026, 11, 2, 23, 30, 0, 0, time.UTC), "2026-11-03", false}, // 00:30 CET the next day
	}
	for _, tt := range tests {
		date, due := d.day(tt.now)
		require.Equal(t, tt.date, date, tt.now)
		require.Equal(t, tt.due, due, tt.now)
	}
}

func TestEventTitles(t *testing.T) {
	t.Parallel()
	tests := map[string]struct {
		e    Event
		want string
	}{
		"expiring":        {Event{Type: EventExpiring, CredentialKind: "certificate", AppDisplayName: "billing", Threshold: 24 * time.Hour}, "Certificate of billing expires within 1 day"},
		"expired, no app": {Event{Type: EventExpired, AppID: "3f4c"}, "Credential of app 3f4c has expired"},
		"parked":          {Event{Type: ActionRotationParked, CredentialKind: "secret", AppDisplayName: "billing"}, "Rotation of the client secret of billing stopped after repeated failures"},
		"out of band":     {Event{Type: ActionCredentialRemovedOutOfBd, CredentialKind: "secret", Tenant: "contoso"}, "Client secret removed from an application in contoso outside rotor"},
		"unknown":         {Event{Type: "rotation.planned", AppDisplayName: "billing"}, "rotation.planned: billing"},
	}
	for name, tt := range tests {
		require.Equal(t, tt.want, tt.e.Title(), name)
	}
}
