// Package leakcheck fails a test binary whose own goroutines outlive its tests
// (the check STYLE.md §7 asks of packages that own goroutines). It looks only at
// goroutines running code of the packages named, so library goroutines (the
// go-redis pool, protoactor's dispatchers) do not count.
package leakcheck

import (
	"fmt"
	"os"
	"runtime"
	"strings"
	"time"
)

// VerifyTestMain runs the tests, then waits up to 5 s for every goroutine
// whose stack mentions one of pkgs (import paths, e.g.
// "github.com/actorhub/actorhub/client.") to end; it exits 1 if any remain.
// m is a *testing.M, or what wraps one (nodetest.Tests).
func VerifyTestMain(m interface{ Run() int }, pkgs ...string) {
	code := m.Run()
	if code == 0 {
		if leaked := wait(5*time.Second, pkgs); leaked != "" {
			fmt.Fprintf(os.Stderr, "leakcheck: goroutines outlived the tests:\n%s\n", leaked)
			code = 1
		}
	}
	os.Exit(code)
}

func wait(d time.Duration, pkgs []string) string {
	deadline := time.Now().Add(d)
	for {
		leaked := own(pkgs)
		if leaked == "" || time.Now().After(deadline) {
			return leaked
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// own returns the stacks of goroutines running code of pkgs, but the caller's.
func own(pkgs []string) string {
	buf := make([]byte, 1<<20)
	buf = buf[:runtime.Stack(buf, true)]
	var out []string
	for i, g := range strings.Split(string(buf), "\n\n") {
		if i == 0 || strings.Contains(g, "leakcheck.") {
			continue
		}
		for _, p := range pkgs {
			if strings.Contains(g, p) {
				out = append(out, g)
				break
			}
		}
	}
	return strings.Join(out, "\n\n")
}
