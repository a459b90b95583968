package bench

import (
	"bufio"
	"fmt"
	"os"
	"strconv"
	"strings"
	"time"
)

// clockTicks is USER_HZ, the unit of utime and stime in /proc/<pid>/stat: 100
// on every Linux architecture Go supports.
const clockTicks = 100

// parseStatCPU returns utime+stime of a /proc/<pid>/stat line, in ticks. The
// command name (field 2) may hold spaces and parentheses: fields are counted
// from the last ')'.
func parseStatCPU(line string) (uint64, error) {
	i := strings.LastIndexByte(line, ')')
	if i < 0 {
		return 0, fmt.Errorf("stat line has no ')': %.80q", line)
	}
	f := strings.Fields(line[i+1:])
	// after ')': state(3) ppid(4) … utime(14) stime(15), so utime is f[11]
	if len(f) < 13 {
		return 0, fmt.Errorf("stat line has %d fields after the command, want ≥ 13", len(f))
	}
	ut, err1 := strconv.ParseUint(f[11], 10, 64)
	st, err2 := strconv.ParseUint(f[12], 10, 64)
	if err1 != nil || err2 != nil {
		return 0, fmt.Errorf("stat utime %q stime %q: not numbers", f[11], f[12])
	}
	return ut + st, nil
}

// parseVmRSS returns VmRSS of a /proc/<pid>/status text, in KiB.
func parseVmRSS(status string) (int64, error) {
	sc := bufio.NewScanner(strings.NewReader(status))
	for sc.Scan() {
		rest, ok := strings.CutPrefix(sc.Text(), "VmRSS:")
		if !ok {
			continue
		}
		f := strings.Fields(rest)
		if len(f) != 2 || f[1] != "kB" {
			return 0, fmt.Errorf("VmRSS line %q: want N kB", sc.Text())
		}
		return strconv.ParseInt(f[0], 10, 64)
	}
	return 0, fmt.Errorf("no VmRSS line (a kernel thread, or a process that exited)")
}

// procCPU returns the CPU time process pid used so far ("self" for this one).
func procCPU(pid string) (time.Duration, error) {
	b, err := os.ReadFile("/proc/" + pid + "/stat")
	if err != nil {
		return 0, err
	}
	t, err := parseStatCPU(string(b))
	if err != nil {
		return 0, fmt.Errorf("/proc/%s/stat: %w", pid, err)
	}
	return time.Duration(t) * time.Second / clockTicks, nil
}

// procRSS returns the resident memory of process pid, in KiB.
func procRSS(pid string) (int64, error) {
	b, err := os.ReadFile("/proc/" + pid + "/status")
	if err != nil {
		return 0, err
	}
	kb, err := parseVmRSS(string(b))
	if err != nil {
		return 0, fmt.Errorf("/proc/%s/status: %w", pid, err)
	}
	return kb, nil
}

// cpuSample is a process's CPU time at a moment.
type cpuSample struct {
	at  time.Time
	cpu time.Duration
	ok  bool
}

func sampleCPU(pid string) cpuSample {
	c, err := procCPU(pid)
	return cpuSample{at: time.Now(), cpu: c, ok: err == nil}
}

// sampleCPUs sums the CPU time of processes; not ok when there are none or
// one cannot be read.
func sampleCPUs(pids []string) cpuSample {
	s := cpuSample{at: time.Now(), ok: len(pids) > 0}
	for _, pid := range pids {
		c, err := procCPU(pid)
		s.cpu += c
		s.ok = s.ok && err == nil
	}
	return s
}

// cpuPercent returns the CPU used between two samples as % of one core.
func cpuPercent(a, b cpuSample) (float64, bool) {
	wall := b.at.Sub(a.at)
	if !a.ok || !b.ok || wall <= 0 {
		return 0, false
	}
	return 100 * float64(b.cpu-a.cpu) / float64(wall), true
}
