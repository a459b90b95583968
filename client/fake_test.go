package client

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/coder/websocket"

	"github.com/actorhub/actorhub/events"
)

// fakeNode plays the worker side of a node (PROTOCOL.md: offsets, acks,
// refusals) over a store shared by all its servers, as nodes share Redis.
type fakeNode struct {
	mu        sync.Mutex
	jobs      map[string]*fakeJob
	skipOnce  map[string]int64             // job → an offset to drop silently, once
	dropAfter int                          // first ws connection: close after this many emits, without acking
	fail503   int                          // the first POSTs of events answer 503
	frames    int                          // ws frames received
	hold      map[string]bool              // jobs whose emits are taken silently: neither applied nor acked
	emitters  map[string][]*websocket.Conn // job → the ws connections that emitted to it
	holder    map[string]int               // job → the server that holds it: acks on the others name it
	servedBy  map[string][]int             // job → the server that took each of its events (ws)
	wg        sync.WaitGroup               // ws handlers
	done      chan struct{}
}

type fakeJob struct {
	next     int64
	names    []string
	finished bool
}

func newFakeNode(t *testing.T, servers int) (*fakeNode, []string) {
	t.Helper()
	n := &fakeNode{jobs: map[string]*fakeJob{}, skipOnce: map[string]int64{}, hold: map[string]bool{},
		emitters: map[string][]*websocket.Conn{}, holder: map[string]int{}, servedBy: map[string][]int{},
		done: make(chan struct{})}
	var urls []string
	for i := 0; i < servers; i++ {
		s := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { n.serveAt(i, w, r) }))
		urls = append(urls, s.URL)
		t.Cleanup(s.Close)
	}
	t.Cleanup(func() { close(n.done); n.wg.Wait() })
	return n, urls
}

func (n *fakeNode) create(id string) {
	n.mu.Lock()
	n.jobs[id] = &fakeJob{}
	n.mu.Unlock()
}

// apply takes one event; it returns the job's next offset and a refusal code,
// or ok false for an event it drops without a word.
func (n *fakeNode) apply(jobID string, off int64, name string) (next int64, code string, ok bool) {
	n.mu.Lock()
	defer n.mu.Unlock()
	j := n.jobs[jobID]
	switch {
	case j == nil:
		return -1, events.CodeNotFound, true
	case off < j.next:
		return j.next, "", true
	case j.finished:
		return j.next, events.CodeJobFinished, true
	case off > j.next:
		return j.next, events.CodeOffsetGap, true
	}
	if s, ok := n.skipOnce[jobID]; ok && s == off {
		delete(n.skipOnce, jobID)
		return 0, "", false
	}
	j.next++
	j.names = append(j.names, name)
	j.finished = events.Terminal(name)
	return j.next, "", true
}

// createHeld creates job jobID, held by server i: answers on the others name it.
func (n *fakeNode) createHeld(jobID string, i int) {
	n.mu.Lock()
	n.jobs[jobID] = &fakeJob{}
	n.holder[jobID] = i
	n.mu.Unlock()
}

// atHolders reports whether the last event of each job went to its holder.
func (n *fakeNode) atHolders(jobs []string) bool {
	n.mu.Lock()
	defer n.mu.Unlock()
	for _, j := range jobs {
		if by := n.servedBy[j]; len(by) == 0 || by[len(by)-1] != n.holder[j] {
			return false
		}
	}
	return true
}

// served returns how many events of each job the servers took so far.
func (n *fakeNode) served(jobs []string) map[string]int {
	n.mu.Lock()
	defer n.mu.Unlock()
	m := make(map[string]int, len(jobs))
	for _, j := range jobs {
		m[j] = len(n.servedBy[j])
	}
	return m
}

// checkHeldSince fails t for each job with an event since mark (served) that
// went to another server than its holder, and returns the jobs whose first
// event did (they moved).
func (n *fakeNode) checkHeldSince(t *testing.T, jobs []string, mark map[string]int) (moved []string) {
	t.Helper()
	n.mu.Lock()
	defer n.mu.Unlock()
	for _, j := range jobs {
		by, h := n.servedBy[j], n.holder[j]
		for _, s := range by[mark[j]:] {
			if s != h {
				t.Errorf("job %s, held by %s: events went to %v", j, serverID(h), by)
			}
		}
		if by[0] != h {
			moved = append(moved, j)
		}
	}
	return moved
}

// serverID is the node id server i gives (Actorhub-Node) and acks name.
func serverID(i int) string { return fmt.Sprintf("s%d", i) }

// serveAt serves a request to server i.
func (n *fakeNode) serveAt(i int, w http.ResponseWriter, r *http.Request) {
	switch {
	case r.URL.Path == "/ws/worker":
		n.serveWorker(i, w, r)
	case r.Method == http.MethodPost && r.URL.Path == "/api/jobs":
		var req struct{ JobID string }
		_ = json.NewDecoder(r.Body).Decode(&req)
		n.mu.Lock()
		_, exists := n.jobs[req.JobID]
		if !exists {
			n.jobs[req.JobID] = &fakeJob{}
		}
		next := n.jobs[req.JobID].next
		n.mu.Unlock()
		status := map[bool]int{false: http.StatusCreated, true: http.StatusOK}[exists]
		w.WriteHeader(status)
		fmt.Fprintf(w, `{"jobId":%q,"status":"created","lastSequence":1,"nextOffset":%d}`, req.JobID, next)
	case r.Method == http.MethodPost && strings.HasSuffix(r.URL.Path, "/events"):
		n.servePost(i, w, r)
	default:
		http.NotFound(w, r)
	}
}

func (n *fakeNode) servePost(i int, w http.ResponseWriter, r *http.Request) {
	w.Header().Set("Actorhub-Node", serverID(i))
	id := strings.TrimSuffix(strings.TrimPrefix(r.URL.Path, "/api/jobs/"), "/events")
	n.mu.Lock()
	fail := n.fail503 > 0
	n.fail503--
	n.mu.Unlock()
	if fail {
		w.Header().Set("Retry-After", "0")
		w.WriteHeader(http.StatusServiceUnavailable)
		return
	}
	var req struct {
		Events []struct {
			Offset int64  `json:"offset"`
			Event  string `json:"event"`
		} `json:"events"`
	}
	if err := json.NewDecoder(r.Body).Decode(&req); err != nil {
		w.WriteHeader(http.StatusBadRequest)
		fmt.Fprintf(w, `{"error":"bad_request","message":%q}`, err.Error())
		return
	}
	next := int64(-1)
	for _, e := range req.Events {
		var code string
		next, code, _ = n.apply(id, e.Offset, e.Event)
		if code == "" {
			n.mu.Lock()
			n.servedBy[id] = append(n.servedBy[id], i)
			n.mu.Unlock()
		}
		switch code {
		case "":
		case events.CodeNotFound:
			w.WriteHeader(http.StatusNotFound)
			fmt.Fprintf(w, `{"error":"Job not found","jobId":%q}`, id)
			return
		default:
			w.WriteHeader(http.StatusConflict)
			fmt.Fprintf(w, `{"error":%q,"message":"refused","nextOffset":%d}`, code, next)
			return
		}
	}
	n.mu.Lock()
	h, held := n.holder[id]
	n.mu.Unlock()
	if held && h != i {
		fmt.Fprintf(w, `{"jobId":%q,"nextOffset":%d,"lastSequence":0,"node":%q}`, id, next, serverID(h))
		return
	}
	fmt.Fprintf(w, `{"jobId":%q,"nextOffset":%d,"lastSequence":0}`, id, next)
}

func (n *fakeNode) serveWorker(i int, w http.ResponseWriter, r *http.Request) {
	w.Header().Set("Actorhub-Node", serverID(i))
	c, err := websocket.Accept(w, r, nil)
	if err != nil {
		return
	}
	n.wg.Add(1)
	defer n.wg.Done()
	defer c.CloseNow()
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	go func() {
		select {
		case <-n.done:
		case <-ctx.Done():
		}
		c.CloseNow()
	}()
	n.mu.Lock()
	budget := n.dropAfter
	n.dropAfter = 0
	n.mu.Unlock()
	for {
		_, frame, err := c.Read(ctx)
		if err != nil {
			return
		}
		n.mu.Lock()
		n.frames++
		n.mu.Unlock()
		var reply []byte
		for _, line := range strings.Split(string(frame), "\n") {
			var m events.Inbound
			if json.Unmarshal([]byte(line), &m) != nil || m.Offset == nil {
				reply = fmt.Appendf(reply, `{"type":"error","code":"bad_request","message":"?"}`+"\n")
				continue
			}
			if n.emitted(c, m.JobID) {
				continue // held: no answer
			}
			if budget > 0 {
				if budget--; budget == 0 {
					n.apply(m.JobID, *m.Offset, m.Event)
					return // dies before acking anything of this frame
				}
			}
			next, code, ok := n.apply(m.JobID, *m.Offset, m.Event)
			switch {
			case !ok:
			case code == "":
				n.mu.Lock()
				h, held := n.holder[m.JobID]
				n.servedBy[m.JobID] = append(n.servedBy[m.JobID], i)
				n.mu.Unlock()
				if held && h != i {
					reply = fmt.Appendf(reply, `{"type":"ack","jobId":%q,"nextOffset":%d,"node":%q}`+"\n", m.JobID, next, serverID(h))
					break
				}
				reply = fmt.Appendf(reply, `{"type":"ack","jobId":%q,"nextOffset":%d}`+"\n", m.JobID, next)
			default:
				reply = fmt.Appendf(reply, `{"type":"error","jobId":%q,"code":%q,"message":"refused","nextOffset":%d}`+"\n", m.JobID, code, next)
			}
		}
		if len(reply) > 0 && c.Write(ctx, websocket.MessageText, reply) != nil {
			return
		}
	}
}

// emitted records that c emitted to jobID and reports whether the job is held.
func (n *fakeNode) emitted(c *websocket.Conn, jobID string) bool {
	n.mu.Lock()
	defer n.mu.Unlock()
	if !slices.Contains(n.emitters[jobID], c) {
		n.emitters[jobID] = append(n.emitters[jobID], c)
	}
	return n.hold[jobID]
}

// cancel finishes a job, as a cancellation does, and pushes "cancelled" to
// the connections that emitted to it.
func (n *fakeNode) cancel(t *testing.T, jobID, reason string) {
	t.Helper()
	n.cancelOn(t, jobID, reason, -1)
}

// cancelOn is cancel, pushing only to the k-th connection that emitted to
// the job (all when k < 0).
func (n *fakeNode) cancelOn(t *testing.T, jobID, reason string, k int) {
	t.Helper()
	n.mu.Lock()
	if j := n.jobs[jobID]; j != nil {
		j.finished = true
		j.names = append(j.names, events.Cancelled)
	}
	conns := slices.Clone(n.emitters[jobID])
	if k >= 0 {
		conns = conns[k : k+1]
	}
	n.mu.Unlock()
	for _, c := range conns {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		err := c.Write(ctx, websocket.MessageText, events.AppendCancelled(nil, jobID, reason))
		cancel()
		if err != nil {
			t.Fatalf("push cancelled: %v", err)
		}
	}
}

func (n *fakeNode) names(jobID string) []string {
	n.mu.Lock()
	defer n.mu.Unlock()
	if j := n.jobs[jobID]; j != nil {
		return append([]string(nil), j.names...)
	}
	return nil
}

// waitFor polls cond until it returns nil or d passes.
func waitFor(t testing.TB, d time.Duration, cond func() error) {
	t.Helper()
	deadline := time.Now().Add(d)
	for {
		err := cond()
		if err == nil {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("after %v: %v", d, err)
		}
		time.Sleep(5 * time.Millisecond)
	}
}
