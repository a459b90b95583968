package client

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/coder/websocket"

	"github.com/actorhub/actorhub/events"
)

// scriptConn is a connection accepted by a scripted server, driven by the test.
type scriptConn struct {
	t      *testing.T
	server string
	c      *websocket.Conn
	r      *http.Request
}

func (s *scriptConn) send(objs ...string) {
	s.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := s.c.Write(ctx, websocket.MessageText, []byte(strings.Join(objs, "\n"))); err != nil {
		s.t.Fatalf("server %s: write: %v", s.server, err)
	}
}

// expectSubscribe reads one frame and checks it subscribes jobID from fromSeq.
func (s *scriptConn) expectSubscribe(jobID string, fromSeq int64) {
	s.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	_, frame, err := s.c.Read(ctx)
	if err != nil {
		s.t.Fatalf("server %s: read subscribe: %v", s.server, err)
	}
	var m events.Inbound
	if err := json.Unmarshal(frame, &m); err != nil || m.Type != "subscribe" || m.JobID != jobID ||
		m.FromSeq == nil || *m.FromSeq != fromSeq {
		s.t.Fatalf("server %s: got %s, want a subscribe to %s from %d", s.server, frame, jobID, fromSeq)
	}
}

// expectObject reads one frame and checks it is exactly want.
func (s *scriptConn) expectObject(want string) {
	s.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	_, frame, err := s.c.Read(ctx)
	if err != nil || string(frame) != want {
		s.t.Fatalf("server %s: got %s (%v), want %s", s.server, frame, err, want)
	}
}

// scriptServers starts n WebSocket servers that hand their connections to the test.
func scriptServers(t *testing.T, n int) ([]string, chan *scriptConn) {
	conns := make(chan *scriptConn, 8)
	done := make(chan struct{})
	var wg sync.WaitGroup
	var urls []string
	for i := 0; i < n; i++ {
		name := string(rune('A' + i))
		s := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			c, err := websocket.Accept(w, r, nil)
			if err != nil {
				return
			}
			wg.Add(1)
			defer wg.Done()
			conns <- &scriptConn{t: t, server: name, c: c, r: r}
			<-done
			c.CloseNow()
		}))
		t.Cleanup(s.Close)
		urls = append(urls, "ws"+strings.TrimPrefix(s.URL, "http")+"/ws")
	}
	t.Cleanup(func() { close(done); wg.Wait() })
	return urls, conns
}

func next(t *testing.T, conns chan *scriptConn, server string) *scriptConn {
	t.Helper()
	select {
	case c := <-conns:
		if c.server != server {
			t.Fatalf("connection went to server %s, want %s", c.server, server)
		}
		return c
	case <-time.After(5 * time.Second):
		t.Fatalf("no connection to server %s", server)
		return nil
	}
}

func ev(seq int64) string {
	return fmt.Sprintf(`{"type":"event","jobId":"j1","seq":%d,"event":"model:chunk:v1","data":{"chunk":"c%d"},"ts":1}`, seq, seq)
}

func TestSubscriberResumesWithoutDuplicates(t *testing.T) {
	urls, conns := scriptServers(t, 2)
	var (
		mu     sync.Mutex
		seqs   []int64
		chunks []string
		kinds  []string
	)
	s := NewSubscriber(SubscriberConfig{URLs: urls, User: "bob", Token: "tok",
		Backoff: Backoff{Min: time.Millisecond, Max: 5 * time.Millisecond},
		Handler: func(e events.Event) {
			var d events.ChunkData
			_ = json.Unmarshal(e.Data, &d)
			mu.Lock()
			seqs = append(seqs, e.Seq)
			chunks = append(chunks, d.Chunk)
			mu.Unlock()
		},
		OnStatus: func(kind string, _ StatusInfo) {
			mu.Lock()
			kinds = append(kinds, kind)
			mu.Unlock()
		},
	})
	s.Subscribe("j1", 0)
	ctx, cancel := context.WithCancel(context.Background())
	runErr := make(chan error, 1)
	go func() { runErr <- s.Run(ctx) }()

	c := next(t, conns, "A")
	if c.r.URL.Query().Get("user") != "bob" || c.r.Header.Get("Authorization") != "Bearer tok" {
		t.Errorf("handshake: user %q, authorization %q", c.r.URL.Query().Get("user"), c.r.Header.Get("Authorization"))
	}
	c.send(`{"type":"connected","sessionId":"s1","nodeId":"A","userId":"bob"}`)
	c.expectSubscribe("j1", 0)
	c.send(`{"type":"subscribed","jobId":"j1","status":"running","lastSequence":3,"epoch":1}`, ev(1), ev(2), ev(3))
	c.send(ev(3), ev(2), ev(5)) // a duplicate, an old one, a gap
	waitFor(t, 5*time.Second, func() error {
		if s.LastSeq("j1") != 5 {
			return fmt.Errorf("last seq %d, want 5", s.LastSeq("j1"))
		}
		return nil
	})
	c.c.CloseNow()

	c = next(t, conns, "B") // reconnects rotate
	c.send(`{"type":"connected","sessionId":"s2","nodeId":"B","userId":"bob"}` + "\n" + ev(5))
	c.expectSubscribe("j1", 5)
	c.send(ev(6), `{"type":"error","jobId":"j1","code":"slow_consumer","message":"m"}`,
		`{"type":"reconnect","afterMs":1,"reason":"draining"}`, ev(7)) // ev(7) comes after reconnect: ignored

	c = next(t, conns, "A")
	c.send(`{"type":"connected","sessionId":"s3","nodeId":"A","userId":"bob"}`)
	c.expectSubscribe("j1", 6)
	s.Subscribe("j2", 10) // live: sent at once
	c.expectSubscribe("j2", 10)
	s.Unsubscribe("j2")
	c.expectObject(`{"type":"unsubscribe","jobId":"j2"}`)
	c.send(`{"type":"event","jobId":"j2","seq":11,"event":"model:chunk:v1","data":{"chunk":"late"},"ts":1}`)
	if s.LastSeq("j2") != 0 {
		t.Errorf("LastSeq of an unsubscribed job = %d, want 0", s.LastSeq("j2"))
	}

	cancel()
	if err := <-runErr; !errors.Is(err, context.Canceled) {
		t.Errorf("Run returned %v, want context.Canceled", err)
	}
	mu.Lock()
	defer mu.Unlock()
	if !slices.Equal(seqs, []int64{1, 2, 3, 5, 6}) {
		t.Errorf("handler got seqs %v, want 1 2 3 5 6", seqs)
	}
	if !slices.Equal(chunks, []string{"c1", "c2", "c3", "c5", "c6"}) {
		t.Errorf("handler got chunks %v", chunks)
	}
	st := s.Stats()
	want := SubscriberStats{Connects: 3, Reconnects: 2, Events: 5, DuplicatesDropped: 3, OutOfOrder: 1,
		Gaps: 1, MissedSeqs: 1, Errors: map[string]int64{"slow_consumer": 1}}
	if fmt.Sprint(st) != fmt.Sprint(want) {
		t.Errorf("stats %+v, want %+v", st, want)
	}
	for _, k := range []string{StatusConnected, StatusSubscribed, StatusGap, StatusError, StatusReconnect, StatusDisconnected} {
		if !slices.Contains(kinds, k) {
			t.Errorf("OnStatus never got %q (got %v)", k, kinds)
		}
	}
}

// TestSubscriberRetriesARefusedSubscribe: a subscribe the node refuses for a
// while (unavailable: its job could not be reached) is sent again after a
// backoff on the same connection, from the last seq; one refused for good
// (not_found) is not. It used to wait, silent, until the next reconnect.
func TestSubscriberRetriesARefusedSubscribe(t *testing.T) {
	urls, conns := scriptServers(t, 1)
	s := NewSubscriber(SubscriberConfig{URLs: urls, Backoff: Backoff{Min: time.Millisecond, Max: 5 * time.Millisecond}})
	s.Subscribe("j1", 4)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	go func() { _ = s.Run(ctx) }()
	c := next(t, conns, "A")
	c.send(`{"type":"connected","sessionId":"s1","nodeId":"A","userId":"u"}`)
	c.expectSubscribe("j1", 4)
	c.send(`{"type":"error","jobId":"j1","code":"unavailable","message":"the store does not answer"}`)
	c.expectSubscribe("j1", 4)
	c.send(`{"type":"error","jobId":"j1","code":"timeout","message":"m"}`)
	c.expectSubscribe("j1", 4)
	c.send(`{"type":"subscribed","jobId":"j1","status":"running","lastSequence":5,"epoch":2}`, ev(5))
	waitFor(t, 5*time.Second, func() error {
		if s.LastSeq("j1") != 5 {
			return fmt.Errorf("last seq %d, want 5", s.LastSeq("j1"))
		}
		return nil
	})
	s.Subscribe("j2", 0)
	c.expectSubscribe("j2", 0)
	c.send(`{"type":"error","jobId":"j2","code":"not_found","message":"Job not found"}`)
	s.Subscribe("j3", 0) // the next frame is j3's: j2 was not sent again
	c.expectSubscribe("j3", 0)
}

func TestSubscriberRejectsBadHandshake(t *testing.T) {
	urls, conns := scriptServers(t, 1)
	var disconnects atomic.Int64
	s := NewSubscriber(SubscriberConfig{URLs: urls, Backoff: Backoff{Min: time.Millisecond, Max: time.Millisecond},
		OnStatus: func(kind string, info StatusInfo) {
			if kind == StatusDisconnected {
				disconnects.Add(1)
			}
		}})
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	runErr := make(chan error, 1)
	go func() { runErr <- s.Run(ctx) }()
	next(t, conns, "A").send(`{"type":"subscribed","jobId":"j"}`) // not connected first
	next(t, conns, "A").send(`not json`)
	waitFor(t, 5*time.Second, func() error {
		if disconnects.Load() < 2 {
			return fmt.Errorf("%d disconnects reported, want 2", disconnects.Load())
		}
		return nil
	})
	if st := s.Stats(); st.Connects != 0 || st.DialFailures < 2 {
		t.Errorf("stats %+v: want no connect and ≥2 failures", st)
	}
	if err := s.Run(ctx); !errors.Is(err, ErrRunning) {
		t.Errorf("a second Run: %v, want ErrRunning", err)
	}
	cancel()
	<-runErr
}

func TestSubscriberConfigErrors(t *testing.T) {
	t.Parallel()
	for _, urls := range [][]string{nil, {"ftp://h:1"}} {
		if err := NewSubscriber(SubscriberConfig{URLs: urls}).Run(context.Background()); err == nil || errors.Is(err, context.Canceled) {
			t.Errorf("URLs %v: Run = %v, want a config error", urls, err)
		}
	}
}
