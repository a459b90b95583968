package chaos

import (
	"bytes"
	"strings"
	"testing"
)

// A fault after which the streams did not all move again within 30 s is
// counted in its kind's row, not left out of it.
func TestStallCountsFaultsNotResumed(t *testing.T) {
	faults := []Fault{
		{Kind: FaultRedisFailover, ResumedMs: 25000},
		{Kind: FaultRedisFailover, ResumedMs: -1},
		{Kind: FaultRedisFailover, ResumedMs: -1},
		{Kind: FaultKill, ResumedMs: 300},
		{Kind: FaultIsolateStore, ResumedMs: -1},
	}
	stall := stallByKind(faults)
	if s := stall[FaultRedisFailover]; s.N != 1 || s.Over != 2 || s.P99 != 25000 {
		t.Errorf("redis-failover: %+v, want n 1 (timed), over 2, p99 25000", s)
	}
	if s := stall[FaultKill]; s.N != 1 || s.Over != 0 {
		t.Errorf("kill: %+v, want n 1, over 0", s)
	}
	if s, ok := stall[FaultIsolateStore]; !ok || s.N != 0 || s.Over != 1 {
		t.Errorf("isolate-store: %+v (present %v), want n 0, over 1", s, ok)
	}

	r := &Report{Faults: faults, Stall: stall}
	var out bytes.Buffer
	r.Print(&out)
	for _, row := range []string{
		"| redis-failover | 3 | 25000 | 25000 | 25000 | 2 |",
		"| kill | 1 | 300 | 300 | 300 | 0 |",
		"| isolate-store | 1 | – | – | – | 1 |",
	} {
		if !strings.Contains(out.String(), row) {
			t.Errorf("report lacks the row %q:\n%s", row, out.String())
		}
	}
}
