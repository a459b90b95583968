// Package freeport picks loopback ports for test servers outside the kernel's
// ephemeral range (32768–60999 on Linux), where outgoing connections take
// their local ports: a port picked with ":0", released, and bound again a few
// seconds later (a node restarted on the same ports) can meanwhile have become
// some client's local port. Ports handed out are not handed out again by the
// same process.
package freeport

import (
	"fmt"
	"math/rand/v2"
	"net"
	"strconv"
	"sync"
)

const lo, hi = 15000, 32700

var (
	mu    sync.Mutex
	given = map[int]bool{}
)

// Pick returns a port free for TCP and UDP on 127.0.0.1 a moment ago.
func Pick() (int, error) {
	mu.Lock()
	defer mu.Unlock()
	for i := 0; i < 200; i++ {
		p := lo + rand.IntN(hi-lo)
		if given[p] || !free(p) {
			continue
		}
		given[p] = true
		return p, nil
	}
	return 0, fmt.Errorf("freeport: no free port in %d–%d after 200 tries", lo, hi)
}

func free(p int) bool {
	addr := "127.0.0.1:" + strconv.Itoa(p)
	l, err := net.Listen("tcp", addr)
	if err != nil {
		return false
	}
	l.Close()
	pc, err := net.ListenPacket("udp", addr)
	if err != nil {
		return false
	}
	pc.Close()
	return true
}
