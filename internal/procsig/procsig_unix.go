//go:build !windows && !plan9 && !js && !wasip1

package procsig

import (
	"os"
	"syscall"
)

// Stop pauses a process (SIGSTOP): it keeps its connections and answers
// nothing, as a hung one does. Cont resumes it (SIGCONT).
var Stop, Cont os.Signal = syscall.SIGSTOP, syscall.SIGCONT
