//go:build windows || plan9 || js || wasip1

package procsig

import "os"

// Stop and Cont are nil: this system cannot pause a process by a signal.
var Stop, Cont os.Signal
