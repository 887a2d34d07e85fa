package config

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/rotorhq/rotor/notify"
	"github.com/rotorhq/rotor/secret"
)

const tenantsAndPolicy = `tenants:
  - name: contoso
    tenant_id: 72f988bf-86f1-41af-91ab-2d7cd011db47
    auth: {method: azure_cli}
encryption:
  key: env:ROTOR_KEY
policies:
  - name: standard
`

func TestNotifiersAndRoutes(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	subject := filepath.Join(dir, "subject.tmpl")
	require.NoError(t, os.WriteFile(subject, []byte("[{{.Event.Tenant}}] {{.Title}}"), 0o600))
	src := tenantsAndPolicy + `notifiers:
  - name: ops-mail
    type: email
    host: smtp.example.com
    username: rotor@example.com
    password: env:ROTOR_SMTP_PASSWORD
    from: "rotor <rotor@example.com>"
    to: [platform@example.com]
    templates:
      subject: ` + subject + `
  - name: relay
    type: email
    host: localhost
    port: 25
    tls: none
    from: rotor@example.com
  - name: teams-platform
    type: teams
    url: env:ROTOR_TEAMS_WEBHOOK_URL
  - name: slack-ops
    type: slack
    url: file:/etc/rotor/slack-webhook-url
  - name: siem
    type: webhook
    url: ${SIEM_URL}
    signing_key: env:ROTOR_WEBHOOK_SIGNING_KEY
notifications:
  routes:
    - name: platform
      notifiers: [ops-mail, teams-platform]
    - name: owners
      events: [credential.expiring, credential.expired, "rotation.*"]
      tenants: [contoso]
      policies: [standard]
      apps: ["payroll-*", 3f4c2a9e-1b7d-4e0a-9c55-8d2e6f1a0b3c]
      notifiers: [ops-mail]
      to_owners: true
      include_secret: true
    - name: daily
      notifiers: [slack-ops, siem]
      digest:
        time_zone: Europe/Amsterdam
`
	c, err := Parse("rotor.yaml", []byte(src), Options{LookupEnv: env("SIEM_URL", "https://siem.example.com/hooks/rotor")})
	require.NoError(t, err)
	require.Len(t, c.Notifiers, 5)

	mail := c.Notifiers[0].Email
	require.NotNil(t, mail)
	require.Equal(t, "starttls", mail.TLS, "default")
	require.Equal(t, "auto", mail.Auth, "default with a username")
	require.Equal(t, secret.Ref("env:ROTOR_SMTP_PASSWORD"), mail.Password)
	require.NotNil(t, c.Notifiers[0].Template(notify.TemplateSubject), "parsed when loaded")
	require.Nil(t, c.Notifiers[0].Template(notify.TemplateHTML), "built-in")
	require.Equal(t, "none", c.Notifiers[1].Email.Auth)
	require.Equal(t, secret.Ref("env:ROTOR_TEAMS_WEBHOOK_URL"), c.Notifiers[2].Teams.URL)
	require.Equal(t, secret.Ref("file:/etc/rotor/slack-webhook-url"), c.Notifiers[3].Slack.URL)
	require.Equal(t, "https://siem.example.com/hooks/rotor", c.Notifiers[4].Webhook.URL, "${...} expanded in a notifier's settings")

	require.Equal(t, []time.Duration{30 * day, 7 * day}, c.NotifyThresholds(), "from thresholds.warn and .critical")
	require.Equal(t, DefaultNotifyMaxAttempts, c.Notifications.MaxAttempts)
	routes, err := c.NotifyRoutes()
	require.NoError(t, err)
	require.Len(t, routes, 3)
	require.True(t, routes[1].ToOwners)
	require.True(t, routes[1].IncludeSecret)
	require.Nil(t, routes[0].Digest)
	require.Equal(t, 8*time.Hour, routes[2].Digest.At)
	require.Equal(t, "Europe/Amsterdam", routes[2].Digest.Location.String())
	n, ok := c.Notifier("siem")
	require.True(t, ok)
	require.Equal(t, NotifierWebhook, n.Type)
}

const day = 24 * time.Hour

func TestNotifyErrorsNameFieldAndLine(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	badHTML := filepath.Join(dir, "body.html")
	require.NoError(t, os.WriteFile(badHTML, []byte("<h1>{{.Title}}</h1>\n<p>\n{{range .Facts}}{{.Name}}</p>\n"), 0o600))
	badField := filepath.Join(dir, "card.json")
	require.NoError(t, os.WriteFile(badField, []byte("{\n  \"text\": {{json .Event.Nope}}\n}\n"), 0o600))

	mail := "notifiers:\n  - name: m\n    type: email\n    host: smtp.example.com\n    from: rotor@example.com\n"
	tests := map[string]struct {
		src  string
		want string
	}{
		"unknown type":      {"notifiers:\n  - name: x\n    type: pager\n", `line 3: notifiers[0].type: unknown notifier type "pager": use email, teams, slack or webhook`},
		"missing host":      {"notifiers:\n  - name: m\n    type: email\n    from: rotor@example.com\n", "line 2: notifiers[0].host: required field is missing"},
		"typo":              {mail + "    hots: x\n", `line 6: notifiers[0].hots: unknown field (did you mean "host"?)`},
		"inline password":   {mail + "    username: u\n    password: hunter2\n", `line 7: notifiers[0].password: must be a reference "env:NAME" or "file:/path", not a value`},
		"bad tls":           {mail + "    tls: ssl\n", `line 6: notifiers[0].tls: unknown mode "ssl"`},
		"bad auth":          {mail + "    auth: ntlm\n    username: u\n    password: env:P\n", `line 6: notifiers[0].auth: unknown mechanism "ntlm"`},
		"user, auth none":   {mail + "    auth: none\n    username: u\n", "line 7: notifiers[0].username: set, but auth is none"},
		"auth, no pass":     {mail + "    auth: plain\n    username: u\n", "notifiers[0].password: required for auth plain"},
		"password in clear": {mail + "    tls: none\n    username: u\n    password: env:P\n", "line 6: notifiers[0].tls: none would send the SMTP password in clear to smtp.example.com"},
		"bad from":          {"notifiers:\n  - name: m\n    type: email\n    host: h\n    from: not an address\n", `line 5: notifiers[0].from: "not an address" is not a mail address`},
		"bad to":            {mail + "    to: [ops@example.com, ops]\n", `line 6: notifiers[0].to[1]: "ops" is not a mail address`},
		"missing ca":        {mail + "    ca_file: /nonexistent/ca.pem\n", "line 6: notifiers[0].ca_file: stat /nonexistent/ca.pem"},
		"teams no url":      {"notifiers:\n  - name: t\n    type: teams\n", "line 2: notifiers[0].url: required field is missing"},
		"teams url inline":  {"notifiers:\n  - name: t\n    type: teams\n    url: https://contoso.webhook.office.com/webhookb2/abc\n", `line 4: notifiers[0].url: unknown reference scheme "https"`},
		"webhook http":      {"notifiers:\n  - name: w\n    type: webhook\n    url: http://siem.example.com/x\n    signing_key: env:K\n", `line 4: notifiers[0].url: "http://siem.example.com/x": use https`},
		"webhook no key":    {"notifiers:\n  - name: w\n    type: webhook\n    url: https://siem.example.com/x\n", "notifiers[0].signing_key: required field is missing"},
		"duplicate name":    {"notifiers:\n  - {name: t, type: teams, url: env:A}\n  - {name: t, type: slack, url: env:B}\n", `line 3: notifiers[1].name: "t" is already the name of notifiers[0]`},
		"html template":     {mail + "    templates:\n      html: " + badHTML + "\n", "line 7: notifiers[0].templates.html: " + badHTML + " line 4: unexpected EOF"},
		"card template":     {"notifiers:\n  - name: t\n    type: teams\n    url: env:A\n    templates:\n      card: " + badField + "\n", "line 6: notifiers[0].templates.card: " + badField + " line 2: executing the template at <.Event.Nope>: can't evaluate field Nope"},
		"template missing":  {mail + "    templates:\n      text: /nonexistent/t.tmpl\n", "notifiers[0].templates.text: /nonexistent/t.tmpl: open /nonexistent/t.tmpl: no such file or directory"},

		"route no notifiers":  {"notifications:\n  routes:\n    - name: r\n", "line 3: notifications.routes[0].notifiers: required field is missing"},
		"route notifier":      {"notifications:\n  routes:\n    - name: r\n      notifiers: [nope]\n", `line 4: notifications.routes[0].notifiers[0]: no notifier is named "nope"`},
		"route event typo":    {mail + "notifications:\n  routes:\n    - name: r\n      notifiers: [m]\n      events: [rotation.faild]\n", `line 10: notifications.routes[0].events[0]: "rotation.faild" matches no event rotor emits (did you mean "rotation.failed"?)`},
		"route glob nothing":  {mail + "notifications:\n  routes:\n    - name: r\n      notifiers: [m]\n      events: [\"rotations.*\"]\n", `"rotations.*" matches no event rotor emits`},
		"route tenant":        {mail + "notifications:\n  routes:\n    - name: r\n      notifiers: [m]\n      tenants: [contoso]\n", `line 10: notifications.routes[0].tenants[0]: no tenant is named "contoso"`},
		"route policy":        {mail + "notifications:\n  routes:\n    - name: r\n      notifiers: [m]\n      policies: [gold]\n", `notifications.routes[0].policies[0]: no policy is named "gold"`},
		"route app pattern":   {mail + "notifications:\n  routes:\n    - name: r\n      notifiers: [m]\n      apps: [\"[payroll\"]\n", `notifications.routes[0].apps[0]: "[payroll" is not a valid pattern`},
		"secret to teams":     {tenantsAndPolicy + mail + "  - {name: t, type: teams, url: env:A}\nnotifications:\n  routes:\n    - name: r\n      notifiers: [m, t]\n      include_secret: true\n      events: [rotation.deployed]\n", `notifications.routes[0].notifiers[1]: "t" is a teams notifier: include_secret is allowed only on routes whose notifiers are all email`},
		"secret without key":  {mail + "notifications:\n  routes:\n    - name: r\n      notifiers: [m]\n      include_secret: true\n      events: [rotation.deployed]\n", "line 10: notifications.routes[0].include_secret: needs encryption.key"},
		"secret, no such ev":  {tenantsAndPolicy + mail + "notifications:\n  routes:\n    - name: r\n      notifiers: [m]\n      include_secret: true\n      events: [rotation.failed]\n", "notifications.routes[0].include_secret: the route is about none of rotation.deployed"},
		"secret in digest":    {tenantsAndPolicy + mail + "notifications:\n  routes:\n    - name: r\n      notifiers: [m]\n      include_secret: true\n      digest: {}\n", "notifications.routes[0].include_secret: a digest never carries secrets"},
		"owners, no email":    {"notifiers:\n  - {name: t, type: teams, url: env:A}\nnotifications:\n  routes:\n    - name: r\n      notifiers: [t]\n      to_owners: true\n", "line 7: notifications.routes[0].to_owners: the route has no email notifier"},
		"digest at":           {mail + "notifications:\n  routes:\n    - name: r\n      notifiers: [m]\n      digest: {at: 8am}\n", `line 10: notifications.routes[0].digest.at: "8am": use a time of day such as 08:00`},
		"digest zone":         {mail + "notifications:\n  routes:\n    - name: r\n      notifiers: [m]\n      digest: {time_zone: Mars/Olympus}\n", `notifications.routes[0].digest.time_zone: unknown time zone "Mars/Olympus"`},
		"duplicate route":     {mail + "notifications:\n  routes:\n    - {name: r, notifiers: [m]}\n    - {name: r, notifiers: [m]}\n", `line 9: notifications.routes[1].name: "r" is already the name of notifications.routes[0]`},
		"zero threshold":      {"notifications:\n  thresholds: [30d, 0s]\n", "line 2: notifications.thresholds[1]: must be longer than 0"},
		"duplicate threshold": {"notifications:\n  thresholds: [7d, 1w]\n", "notifications.thresholds[1]: 7d is listed twice"},
		"backoff":             {"notifications:\n  backoff_base: 2h\n", "notifications.backoff_base: 2h is longer than notifications.backoff_max (1h)"},
		"scan interval":       {"notifications:\n  scan_interval: 10s\n", "notifications.scan_interval: 10s is too short"},
	}
	for name, tt := range tests {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			errs := parseErrs(t, tt.src, env())
			var msgs []string
			for _, e := range errs {
				msgs = append(msgs, e.Error())
			}
			require.Contains(t, strings.Join(msgs, "\n"), tt.want)
		})
	}
}
