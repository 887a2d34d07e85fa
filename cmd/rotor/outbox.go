package main

import (
	"context"
	"net/url"
	"time"

	"github.com/rotorhq/rotor"
	"github.com/rotorhq/rotor/config"
	"github.com/rotorhq/rotor/server"
)

// outbox shows the notification outbox of the store and the configured notifiers to the API and
// the web UI (server.Notifications).
type outbox struct {
	store rotor.Store
	cfg   *config.Config
	now   func() time.Time
}

var _ server.Notifications = outbox{}

// Notifiers describes the configured notifiers without their secrets: where an email goes, the
// host of a webhook; Teams and Slack webhook URLs are secrets and are not shown.
func (o outbox) Notifiers(context.Context) ([]server.NotifierInfo, error) {
	var out []server.NotifierInfo
	for _, n := range o.cfg.Notifiers {
		info := server.NotifierInfo{Name: n.Name, Type: n.Type, Routes: []string{}}
		switch {
		case n.Email != nil:
			info.Target = "SMTP " + n.Email.Host
		case n.Teams != nil:
			info.Target = "Microsoft Teams incoming webhook"
		case n.Slack != nil:
			info.Target = "Slack incoming webhook"
		case n.Webhook != nil:
			if u, err := url.Parse(n.Webhook.URL); err == nil {
				info.Target = u.Scheme + "://" + u.Host
			}
		}
		for _, r := range o.cfg.Notifications.Routes {
			for _, name := range r.Notifiers {
				if name == n.Name {
					info.Routes = append(info.Routes, r.Name)
				}
			}
		}
		out = append(out, info)
	}
	return out, nil
}

func (o outbox) Outbox(ctx context.Context, q server.OutboxQuery) ([]server.OutboxItem, error) {
	p := &rotor.NotificationListParams{Notifier: q.Notifier, Tenant: q.Tenant, Event: q.Event, Limit: q.Limit}
	for _, s := range q.Statuses {
		p.Statuses = append(p.Statuses, rotor.NotificationStatus(s))
	}
	if q.Before != nil {
		p.Before = &rotor.NotificationCursor{CreatedAt: q.Before.CreatedAt, ID: q.Before.ID}
	}
	ns, err := o.store.NotificationList(ctx, p)
	if err != nil {
		return nil, err
	}
	out := make([]server.OutboxItem, 0, len(ns))
	for _, n := range ns {
		out = append(out, itemOf(n))
	}
	return out, nil
}

// Retry makes a failed notification due again, with an audit event naming who asked.
func (o outbox) Retry(ctx context.Context, id, actor string) (*server.OutboxItem, error) {
	var out *rotor.Notification
	err := o.store.InTx(ctx, func(tx rotor.Store) error {
		var err error
		now := o.now()
		if out, err = tx.NotificationRequestRetry(ctx, id, now); err != nil {
			return err
		}
		return tx.AuditAppend(ctx, &rotor.AuditEvent{At: now, Actor: actor, Action: "notification.retry_requested", Tenant: out.Tenant,
			AppID: out.AppID, KeyID: out.KeyID, RotationID: out.RotationID, Outcome: rotor.OutcomeInfo,
			Details: map[string]string{"notification_id": out.ID, "notifier": out.Notifier, "event": out.Event}})
	})
	if err != nil {
		return nil, err
	}
	it := itemOf(out)
	return &it, nil
}

func itemOf(n *rotor.Notification) server.OutboxItem {
	tp := func(t time.Time) *time.Time {
		if t.IsZero() {
			return nil
		}
		u := t.UTC()
		return &u
	}
	it := server.OutboxItem{ID: n.ID, Route: n.Route, Notifier: n.Notifier, Event: n.Event, Tenant: n.Tenant, AppID: n.AppID, KeyID: n.KeyID,
		RotationID: n.RotationID, Status: string(n.Status), Attempt: n.Attempt, LastError: n.LastError, Recipients: n.Recipients,
		CreatedAt: n.CreatedAt.UTC(), UpdatedAt: n.UpdatedAt.UTC(), SentAt: tp(n.SentAt)}
	if n.Status == rotor.NotificationPending || n.Status == rotor.NotificationRetrying {
		it.NextAttemptAt = tp(n.NextAttemptAt)
	}
	return it
}
