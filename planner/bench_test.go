package planner

import (
	"math/rand/v2"
	"testing"
	"time"

	"github.com/rotorhq/rotor"
)

// BenchmarkDecide1M decides for 1,000,000 bindings whose credentials end anywhere in the next
// two years, a third of them under a policy with maintenance windows.
func BenchmarkDecide1M(b *testing.B) {
	const n = 1_000_000
	rnd := rand.New(rand.NewPCG(1, 2))
	plain := &rotor.Policy{Lifetime: 180 * day, RotateBefore: 30 * day, EmergencyWithin: 3 * day}
	windowed := *plain
	windowed.Windows = []rotor.MaintenanceWindow{{Cron: "0 2 * * 1-5", Duration: 4 * time.Hour, TimeZone: "Europe/Amsterdam"}}
	facts := make([]Facts, n)
	for i := range facts {
		end := now.Add(time.Duration(rnd.Int64N(int64(730 * day))))
		p := plain
		if i%3 == 0 {
			p = &windowed
		}
		facts[i] = Facts{Binding: &rotor.Binding{KeyID: "k", RotateOffset: time.Duration(rnd.Int64N(int64(6 * time.Hour)))},
			Policy: p, Current: &rotor.Credential{StartAt: end.Add(-180 * day), EndAt: end}}
	}
	b.ResetTimer()
	due := 0
	for range b.N {
		due = 0
		for i := range facts {
			if Decide(facts[i], now).Due {
				due++
			}
		}
	}
	b.ReportMetric(float64(b.Elapsed().Milliseconds())/float64(b.N), "ms/1M")
	b.ReportMetric(float64(due), "due")
}
