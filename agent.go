package rotor

import "time"

// Agent is a `rotor agent` process on a host that runs host-local steps for the server.
type Agent struct {
	ID         string
	Name       string
	Hostname   string
	Version    string
	Labels     map[string]string
	CreatedAt  time.Time
	LastSeenAt time.Time
	Disabled   bool
}
