// Package procsig names the signals that pause and resume a process, for the
// fault injection of chaos runs and tests. Windows has neither: there Stop
// and Cont are nil, and Pauses reports false.
package procsig

// Pauses reports whether this system can pause a process with Stop and
// resume it with Cont.
func Pauses() bool { return Stop != nil }
