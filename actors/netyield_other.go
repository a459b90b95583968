//go:build windows || plan9 || js || wasip1

package actors

import "runtime"

// netGate: where a pipe is not polled with the sockets, a yield only.
type netGate struct{}

func newNetGate() (*netGate, error) { return nil, nil }

func (g *netGate) yield() { runtime.Gosched() }

func (g *netGate) close() {}
