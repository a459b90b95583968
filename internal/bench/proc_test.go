package bench

import (
	"runtime"
	"syscall"
	"testing"
	"time"
)

func TestParseStatCPU(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		line    string
		want    uint64
		wantErr bool
	}{
		{"12345 (actorhub) S 1 12345 12345 0 -1 4194560 2000 0 0 0 150 25 0 0 20 0 12 0 100 1000000 2000 18446744073709551615 0 0 0 0 0 0 0 0 0 0 0 0 17 1 0 0 0 0 0",
			175, false},
		// a command name with spaces and parentheses
		{"7 (we ird) (x) R 1 7 7 0 -1 0 0 0 0 0 3 4 0 0 20 0 1 0 5 0 0", 7, false},
		{"7 (short) R 1 2", 0, true},
		{"7 no parens R 1", 0, true},
		{"7 (x) R 1 7 7 0 -1 0 0 0 0 0 a b 0 0", 0, true},
	} {
		got, err := parseStatCPU(tc.line)
		if (err != nil) != tc.wantErr || got != tc.want {
			t.Errorf("parseStatCPU(%.40q) = %d, %v; want %d (error %v)", tc.line, got, err, tc.want, tc.wantErr)
		}
	}
}

func TestParseVmRSS(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		status  string
		want    int64
		wantErr bool
	}{
		{"Name:\tactorhub\nVmPeak:\t  900 kB\nVmRSS:\t   23456 kB\nVmData:\t 1 kB\n", 23456, false},
		{"Name:\tkthreadd\nState:\tS\n", 0, true},
		{"VmRSS:\t12 MB\n", 0, true},
	} {
		got, err := parseVmRSS(tc.status)
		if (err != nil) != tc.wantErr || got != tc.want {
			t.Errorf("parseVmRSS = %d, %v; want %d (error %v)", got, err, tc.want, tc.wantErr)
		}
	}
}

// TestProcSelf: the CPU time /proc gives for this process agrees with the
// kernel's getrusage, and cpuPercent turns it into a share of wall time. It
// waits for CPU time used, not for wall time, so that a busy machine (where a
// busy loop gets a fraction of a core) changes nothing.
func TestProcSelf(t *testing.T) {
	if runtime.GOOS != "linux" {
		t.Skip("/proc is Linux's")
	}
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
