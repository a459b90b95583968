//go:build !windows && !plan9 && !js && !wasip1

package actors

import (
	"os"
	"runtime"
)

// A netGate lets a long stretch of work on one P (a wide fan-out) give the P
// up until the scheduler has next polled the network, so that what came over
// the network meanwhile (a worker's emits, Redis's replies) runs between its
// slices. runtime.Gosched alone does not: a yielding goroutine stays
// runnable, and a P polls the network only when nothing is runnable, or
// sysmon does after 10ms. Here the caller parks until a pipe's reader wakes
// it, and the pipe's readiness reaches that reader only through the same poll
// that brings in every socket that is ready (the self-pipe trick;
// docs/BENCHMARKS.md C26).
type netGate struct {
	r, w *os.File
	one  [1]byte
	woke chan struct{}
	done chan struct{} // closed when the reader returns
}

// newNetGate makes a gate and starts its reader; close stops it.
func newNetGate() (*netGate, error) {
	r, w, err := os.Pipe()
	if err != nil {
		return nil, err
	}
	g := &netGate{r: r, w: w, woke: make(chan struct{}), done: make(chan struct{})}
	go g.read()
	return g, nil
}

func (g *netGate) read() {
	defer close(g.done)
	var buf [64]byte
	for {
		n, err := g.r.Read(buf[:])
		for range n {
			g.woke <- struct{}{} // one waiter per byte: each wrote one before it waited
		}
		if err != nil {
			return // EOF: close
		}
	}
}

// yield parks the caller until the network has been polled (a nil gate, or
// one that cannot be written: runtime.Gosched).
func (g *netGate) yield() {
	if g == nil {
		runtime.Gosched()
		return
	}
	if _, err := g.w.Write(g.one[:]); err != nil {
		runtime.Gosched()
		return
	}
	<-g.woke
}

// close stops the reader, once no one yields any more.
func (g *netGate) close() {
	if g == nil {
		return
	}
	_ = g.w.Close()
	<-g.done
	_ = g.r.Close()
}
