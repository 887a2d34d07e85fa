package sqlstore

import (
	"context"
	"encoding/json"
	"fmt"

	"github.com/rotorhq/rotor"
)

const agentCols = `id, name, hostname, version, labels, created_at, last_seen_at, disabled`

func scanAgent(sc interface{ Scan(...any) error }) (*rotor.Agent, error) {
	var a rotor.Agent
	var labels string
	var created, seen int64
	if err := sc.Scan(&a.ID, &a.Name, &a.Hostname, &a.Version, &labels, &created, &seen, &a.Disabled); err != nil {
		return nil, err
	}
	if err := json.Unmarshal([]byte(labels), &a.Labels); err != nil {
		return nil, fmt.Errorf("agent %s labels: %w", a.ID, err)
	}
	if len(a.Labels) == 0 {
		a.Labels = nil
	}
	a.CreatedAt, a.LastSeenAt = tm(created), tm(seen)
	return &a, nil
}

// AgentUpsert implements rotor.AgentStore.
func (s *Store) AgentUpsert(ctx context.Context, a *rotor.Agent) error {
	labels := a.Labels
	if labels == nil {
		labels = map[string]string{}
	}
	_, err := s.exec(ctx, `INSERT INTO agents (`+agentCols+`) VALUES (?, ?, ?, ?, ?, ?, ?, ?)
		ON CONFLICT (id) DO UPDATE SET name = excluded.name, hostname = excluded.hostname, version = excluded.version,
			labels = excluded.labels, last_seen_at = excluded.last_seen_at, disabled = excluded.disabled`,
		a.ID, a.Name, a.Hostname, a.Version, jsonText(labels), us(a.CreatedAt), us(a.LastSeenAt), a.Disabled)
	if err != nil {
		return fmt.Errorf("upsert agent %s: %w", a.Name, s.conflict(err, "agent name "+a.Name+" is taken"))
	}
	return nil
}

// AgentGet implements rotor.AgentStore.
func (s *Store) AgentGet(ctx context.Context, id string) (*rotor.Agent, error) {
	a, err := scanAgent(s.queryRow(ctx, `SELECT `+agentCols+` FROM agents WHERE id = ?`, id))
	if err != nil {
		return nil, notFound(err, "agent %s", id)
	}
	return a, nil
}

// AgentList implements rotor.AgentStore.
func (s *Store) AgentList(ctx context.Context) ([]*rotor.Agent, error) {
	as, err := queryAll(ctx, s, scanAgent, `SELECT `+agentCols+` FROM agents ORDER BY name`)
	if err != nil {
		return nil, fmt.Errorf("list agents: %w", err)
	}
	return as, nil
}
