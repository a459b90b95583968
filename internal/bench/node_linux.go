package bench

import (
	"fmt"
	"syscall"
)

// childAttr makes the kernel kill the node if this process dies first.
func childAttr() *syscall.SysProcAttr { return &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL} }

// checkFDs fails early when this process cannot open conns sockets (Go
// raises the soft limit to the hard one at start-up).
func checkFDs(conns int) error {
	var lim syscall.Rlimit
	if err := syscall.Getrlimit(syscall.RLIMIT_NOFILE, &lim); err != nil {
		return nil
	}
	if need := uint64(conns) + 256; lim.Cur < need {
		return fmt.Errorf("bench: %d connections need about %d open files; the limit is %d (raise ulimit -n)", conns, need, lim.Cur)
	}
	return nil
}
