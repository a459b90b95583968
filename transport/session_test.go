package transport

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"io"
	"testing"
	"time"
)

// TestTakePong: a whole, well-formed client pong at the front of the buffer
// is taken (and ends the ping that waits), the start of one asks for more,
// and anything else stays for coder/websocket, byte for byte.
func TestTakePong(t *testing.T) {
	pong := func(b0 byte, masked bool, payload string) []byte {
		f := frame([]byte(payload), true, masked)
		f[0] = b0
		return f
	}
	text := frame([]byte(`{"type":"ping","id":"a"}`), true, true)
	long := pong(0x8A, true, "")
	long[1] = 0x80 | 126 // an extended length, which a control frame may not have
	long = append(long, make([]byte, 130)...)
	for _, tc := range []struct {
		name string
		in   []byte
		want front
		left int // bytes left at the front of the buffer
	}{
		{"pong", pong(0x8A, true, "17"), frontPong, 0},
		{"pong then text", append(pong(0x8A, true, "17"), text...), frontPong, len(text)},
		{"empty pong", pong(0x8A, true, ""), frontPong, 0},
		{"pong of 20 digits", pong(0x8A, true, "12345678901234567890"), frontPong, 0},
		{"pong larger than the buffer", pong(0x8A, true, string(make([]byte, 125))), frontOther, 6 + 125},
		{"unmasked pong", pong(0x8A, false, "17"), frontOther, 8 - 4},
		{"ping", pong(0x89, true, "17"), frontOther, 8},
		{"pong without FIN", pong(0x0A, true, "17"), frontOther, 8},
		{"pong with RSV1", pong(0xCA, true, "17"), frontOther, 8},
		{"extended length", long, frontOther, len(long)},
		{"text", text, frontOther, len(text)},
		{"half a pong", pong(0x8A, true, "17")[:5], frontShort, 5},
		{"a pong's first byte", []byte{0x8A}, frontShort, 1},
		{"a text's first byte", []byte{0x81}, frontOther, 1},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s := &session{}
			pc := s.startPing(t.Context())
			br := bufio.NewReaderSize(bytes.NewReader(tc.in), wsClientReadBuffer)
			got, err := s.takePong(br, true)
			if err != nil || got != tc.want {
				t.Fatalf("got %v, %v; want %v", got, err, tc.want)
			}
			rest, _ := io.ReadAll(br)
			if want := tc.in[len(tc.in)-tc.left:]; !bytes.Equal(rest, want) {
				t.Fatalf("left %x, want %x", rest, want)
			}
			took := tc.want == frontPong
			if got := s.endPing(pc); got != took {
				t.Fatalf("the ping saw a pong: %v", got)
			}
			if took {
				select {
				case <-pc.Done():
				default:
					t.Fatal("the ping's Done is open after its pong")
				}
				if pc.Err() == nil {
					t.Fatal("a ping that ended has no Err")
				}
			}
		})
	}

	// a pong in pieces: short until it is whole
	s := &session{}
	pr, pw := io.Pipe()
	br := bufio.NewReaderSize(pr, wsClientReadBuffer)
	p := pong(0x8A, true, "ok")
	go func() {
		for _, b := range p {
			_, _ = pw.Write([]byte{b})
		}
		_, _ = pw.Write(text)
		pw.Close()
	}()
	for i := range p {
		got, err := s.takePong(br, true)
		if want := map[bool]front{true: frontPong, false: frontShort}[i == len(p)-1]; err != nil || got != want {
			t.Fatalf("after %d of %d bytes: %v, %v", i+1, len(p), got, err)
		}
	}
	if got, err := s.takePong(br, true); err != nil || got != frontOther {
		t.Fatalf("the text after the pong: %v, %v", got, err)
	}
	if rest, _ := io.ReadAll(br); !bytes.Equal(rest, text) {
		t.Fatalf("left %x after the pong", rest)
	}
	if _, err := s.takePong(bufio.NewReader(bytes.NewReader(nil)), true); err != io.EOF {
		t.Fatalf("at the end of the connection: %v", err)
	}
}

// TestPingCtxPongEndsOnlyTheWait: a pong closes the ping's Done but not what
// Ping derived from it (coder/websocket closes a connection whose write
// context ends during the write); the ping's timeout ends both.
func TestPingCtxPongEndsOnlyTheWait(t *testing.T) {
	parent, cancel := context.WithCancel(t.Context())
	s := &session{}
	pc := s.startPing(parent)
	derived, cancelDerived := context.WithTimeout(pc, time.Hour)
	defer cancelDerived()
	pc.ponged()
	<-pc.Done()
	if derived.Err() != nil {
		t.Fatalf("the pong ended a derived context: %v", derived.Err())
	}
	if !s.endPing(pc) {
		t.Fatal("endPing missed the pong")
	}
	cancel()
	<-derived.Done() // the timeout (here its parent's cancel) ends it
	if !errors.Is(derived.Err(), context.Canceled) {
		t.Fatalf("derived: %v", derived.Err())
	}

	pc = s.startPing(t.Context())
	short, stop := context.WithTimeout(t.Context(), time.Millisecond)
	defer stop()
	pc2 := s.startPing(short)
	<-pc2.Done() // a ping without a pong ends at its timeout
	if s.endPing(pc2) || !errors.Is(pc2.Err(), context.DeadlineExceeded) {
		t.Fatalf("a ping that timed out: %v", pc2.Err())
	}
	select {
	case <-pc.Done():
		t.Fatal("a ping ended with another's timeout")
	default:
	}
}
