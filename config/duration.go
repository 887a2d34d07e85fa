package config

import (
	"fmt"
	"strconv"
	"strings"
	"time"

	"gopkg.in/yaml.v3"
)

// Duration is a time.Duration written as Go does (90s, 1h30m) or in days and weeks (30d, 2w,
// 1d12h). Credential lifetimes are counted in days.
type Duration time.Duration

// D returns the time.Duration.
func (d Duration) D() time.Duration { return time.Duration(d) }

// DecodeNode implements NodeDecoder.
func (d *Duration) DecodeNode(n *yaml.Node) error {
	if n.Kind != yaml.ScalarNode {
		return fmt.Errorf("expected a duration such as 30d or 1h30m, got %s", kindName(n))
	}
	v, err := ParseDuration(n.Value)
	if err != nil {
		return err
	}
	*d = Duration(v)
	return nil
}

// ParseDuration parses a Go duration with, in addition, d (24h) and w (7d) units.
func ParseDuration(s string) (time.Duration, error) {
	in := strings.TrimSpace(s)
	if in == "" {
		return 0, fmt.Errorf("empty duration: use e.g. 30d, 12h or 90s")
	}
	var total time.Duration
	rest := in
	for rest != "" {
		i := 0
		for i < len(rest) && (rest[i] >= '0' && rest[i] <= '9' || rest[i] == '.') {
			i++
		}
		j := i
		for j < len(rest) && (rest[j] < '0' || rest[j] > '9') && rest[j] != '.' {
			j++
		}
		num, unit := rest[:i], rest[i:j]
		rest = rest[j:]
		if num == "" || unit == "" {
			return 0, fmt.Errorf("invalid duration %q: use e.g. 30d, 12h or 90s", in)
		}
		switch unit {
		case "d", "w":
			n, err := strconv.ParseFloat(num, 64)
			if err != nil {
				return 0, fmt.Errorf("invalid duration %q: use e.g. 30d, 12h or 90s", in)
			}
			mult := 24 * time.Hour
			if unit == "w" {
				mult *= 7
			}
			total += time.Duration(n * float64(mult))
		default:
			v, err := time.ParseDuration(num + unit)
			if err != nil {
				return 0, fmt.Errorf("invalid duration %q: unknown unit %q (use ms, s, m, h, d or w)", in, unit)
			}
			total += v
		}
	}
	if total < 0 {
		return 0, fmt.Errorf("invalid duration %q: must not be negative", in)
	}
	return total, nil
}

// String formats d in the largest whole unit among d, h, m and s, or as Go does.
func (d Duration) String() string { return FormatDuration(time.Duration(d)) }

// FormatDuration formats d as 30d, 12h, 90m or 45s when it is a whole number of one of them.
func FormatDuration(d time.Duration) string {
	switch {
	case d == 0:
		return "0s"
	case d%(24*time.Hour) == 0:
		return fmt.Sprintf("%dd", d/(24*time.Hour))
	case d%time.Hour == 0:
		return fmt.Sprintf("%dh", d/time.Hour)
	case d%time.Minute == 0:
		return fmt.Sprintf("%dm", d/time.Minute)
	}
	return d.String()
}
