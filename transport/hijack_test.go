package transport

import (
	"bufio"
	"io"
	"net"
	"strings"
	"testing"
)

// TestRebufferKeepsBytesReadPastTheRequest: what net/http had buffered past
// the upgrade request comes first from the new reader, even after
// coder/websocket re-seats it on the bare connection (as Accept does).
func TestRebufferKeepsBytesReadPastTheRequest(t *testing.T) {
	for _, left := range []string{"", "first-frame", strings.Repeat("x", 3000)} {
		client, server := net.Pipe()
		old := bufio.NewReaderSize(io.MultiReader(strings.NewReader(left), server), 4096)
		if left != "" {
			if _, err := old.Peek(len(left)); err != nil {
				t.Fatal(err)
			}
		}
		brw := rebuffer(server, bufio.NewReadWriter(old, bufio.NewWriter(server)))
		if got := brw.Reader.Buffered(); got != len(left) {
			t.Fatalf("carried %d bytes into the new buffer, want %d", got, len(left))
		}
		// what coder/websocket's Accept does with the reader it is handed
		b, _ := brw.Reader.Peek(brw.Reader.Buffered())
		brw.Reader.Reset(io.MultiReader(strings.NewReader(string(b)), server))
		go func() { _, _ = client.Write([]byte("|then-the-wire")); client.Close() }()
		all, _ := io.ReadAll(brw.Reader)
		if want := left + "|then-the-wire"; string(all) != want {
			t.Fatalf("read %.40q…, want %.40q…", all, want)
		}
		if brw.Writer.Size() != wsWriteBuffer {
			t.Fatalf("write buffer %d, want %d", brw.Writer.Size(), wsWriteBuffer)
		}
		server.Close()
	}
}
