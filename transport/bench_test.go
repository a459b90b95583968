package transport_test

import (
	"bytes"
	"net"
	"runtime"
	"testing"
	"time"
)

// BenchmarkLiveHeapPerClient is what a client costs a node's heap: the part
// of RSS per connection (issue 11's goal 2) that the node's own code decides,
// without the GC's headroom that a reading of RSS may or may not catch. One
// op is a client WebSocket over loopback TCP, subscribed to the one job that
// every client watches (many clients on each job, as at J = 100), once the
// job's first event reached it. It reports the live heap after a GC, over
// the ops, as live-B/client. The clients are raw sockets (the upgrade request
// and a masked subscribe frame written by hand, then only read until the
// event came), so that their own side adds only its net.Conn.
//
//	go test -run '^$' -bench LiveHeapPerClient -benchtime 2000x ./transport
func BenchmarkLiveHeapPerClient(b *testing.B) {
	n := startNode(b, nil)
	if status, _ := n.post(b, "/api/jobs", `{"jobId":"heap","userId":"bench","type":"t"}`); status != 201 {
		b.Fatalf("create: %d", status)
	}
	liveHeap := func() uint64 {
		var ms runtime.MemStats
		runtime.GC()
		runtime.ReadMemStats(&ms)
		return ms.HeapAlloc
	}
	buf, acc := make([]byte, 4096), make([]byte, 0, 4096)
	// readUntil reads c until want came (the node's frames are unmasked, so
	// their JSON is plain in the stream).
	readUntil := func(c net.Conn, want string) {
		acc = acc[:0]
		_ = c.SetReadDeadline(time.Now().Add(10 * time.Second))
		for !bytes.Contains(acc, []byte(want)) {
			k, err := c.Read(buf)
			if err != nil {
				b.Fatalf("waiting for %s: %v (read %q)", want, err, acc)
			}
			acc = append(acc, buf[:k]...)
		}
	}
	before := liveHeap()
	b.ResetTimer()
	conns := make([]net.Conn, 0, b.N)
	b.Cleanup(func() { // one cleanup for all: one each would count in the heap
		for _, c := range conns {
			c.Close()
		}
	})
	for range b.N {
		c, err := net.Dial("tcp", n.addr)
		if err != nil {
			b.Fatal(err)
		}
		conns = append(conns, c)
		if _, err := c.Write(append([]byte(upgradeRequest(n.addr, "bench")), maskedText(`{"type":"subscribe","jobId":"heap"}`)...)); err != nil {
			b.Fatal(err)
		}
		readUntil(c, `"type":"subscribed"`)
	}
	if status, _ := n.post(b, "/api/jobs/heap/events", `{"events":[{"offset":0,"event":"model:chunk:v1","data":{"chunk":"hello"}}]}`); status != 200 {
		b.Fatalf("emit: %d", status)
	}
	for _, c := range conns {
		readUntil(c, `"type":"event"`)
	}
	b.StopTimer()
	after := liveHeap()
	b.ReportMetric(float64(int64(after)-int64(before))/float64(b.N), "live-B/client")
	runtime.KeepAlive(conns)
}
