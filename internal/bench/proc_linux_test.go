package bench

import (
	"runtime"
	"syscall"
	"testing"
	"time"
)

// TestProcSelf: the CPU time /proc gives for this process agrees with the
// kernel's getrusage, and cpuPercent turns it into a share of wall time. It
// waits for CPU time used, not for wall time, so that a busy machine (where a
// busy loop gets a fraction of a core) changes nothing.
func TestProcSelf(t *testing.T) {
	rusage := func() time.Duration {
		var ru syscall.Rusage
		if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
			t.Fatal(err)
		}
		return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
	}
	a, ra := sampleCPU("self"), rusage()
	for deadline := time.Now().Add(time.Minute); rusage()-ra < 300*time.Millisecond && time.Now().Before(deadline); {
	}
	b, rb := sampleCPU("self"), rusage()
	used := b.cpu - a.cpu
	// /proc counts in clock ticks (10 ms): allow a few, and the other
	// goroutines' share between the two readings
	if !a.ok || !b.ok || used < rb-ra-50*time.Millisecond || used > rb-ra+50*time.Millisecond {
		t.Errorf("/proc says this process used %v of CPU, getrusage %v (ok %v %v)", used, rb-ra, a.ok, b.ok)
	}
	if pct, ok := cpuPercent(a, b); !ok || pct <= 0 || pct > 100*float64(runtime.NumCPU())+10 {
		t.Errorf("cpuPercent = %.0f%% (ok %v) for %v of CPU in %v", pct, ok, used, b.at.Sub(a.at))
	}
	if kb, err := procRSS("self"); err != nil || kb <= 0 {
		t.Errorf("procRSS(self) = %d, %v", kb, err)
	}
	if _, err := procRSS("0"); err == nil {
		t.Errorf("procRSS of no process succeeded")
	}
}
