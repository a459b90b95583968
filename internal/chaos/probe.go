package chaos

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"strings"
	"sync"
	"time"

	"github.com/actorhub/actorhub/events"
)

// A split-brain probe runs during a partition: one writer on each side of the
// cut appends to the same job, a job the cut node held before the cut. The
// events carry no offset, so the node appends each as it comes (no dedup):
// nothing but fencing keeps the two sides' owners from both appending at the
// seqs each believes are next. verify then checks that the job's journal has
// contiguous seqs and holds every acknowledged chunk exactly once. A hub
// that does not fence fails it (TestChaosCatchesNoFencing).
type probe struct {
	job    string
	fault  int // the fault's index, for messages
	mu     sync.Mutex
	acked  map[string]bool // the chunks acknowledged (each is sent once)
	tried  map[string]int  // per side: requests sent
	stop   chan struct{}
	wg     sync.WaitGroup
	client *http.Client
}

// probeWriters is how the sides are named in chunks and notes.
const (
	probeCut   = "m" // through the cut node: the minority side
	probeOther = "M" // through another node
)

// startProbe creates a job that n holds and starts a writer on each side:
// through n, and through another node. It returns nil and the reason when no
// such job could be made.
func (c *cluster) startProbe(ctx context.Context, n *node, fault int) (*probe, string) {
	p := &probe{fault: fault, acked: map[string]bool{}, tried: map[string]int{}, stop: make(chan struct{}),
		client: &http.Client{Timeout: time.Second}}
	var other *node
	for _, o := range c.nodes {
		if o != n {
			other = o
			break
		}
	}
	// a job id whose holder is n: one in len(nodes) lands there
	for k := 0; k < 20*len(c.nodes) && p.job == "" && ctx.Err() == nil; k++ {
		id := fmt.Sprintf("probe-%d-%d-%d", c.cfg.Seed, fault, k)
		if err := p.create(n, id); err != nil {
			return nil, "probe: " + err.Error()
		}
		if err := p.post(n, id, probeCut+"0 "); err != nil {
			return nil, "probe: " + err.Error()
		}
		if holder(p.client, n, id) == n.id {
			p.job = id
		}
	}
	if p.job == "" {
		return nil, "probe: no job landed on " + n.id
	}
	p.acked[probeCut+"0 "] = true
	for _, side := range []struct {
		name string
		via  *node
	}{{probeCut, n}, {probeOther, other}} {
		p.wg.Add(1)
		go func() {
			defer p.wg.Done()
			for i := 1; ; i++ {
				select {
				case <-p.stop:
					return
				case <-ctx.Done():
					return
				case <-time.After(20 * time.Millisecond):
				}
				chunk := fmt.Sprintf("%s%d ", side.name, i)
				err := p.post(side.via, p.job, chunk)
				p.mu.Lock()
				p.tried[side.name]++
				if err == nil {
					p.acked[chunk] = true
				}
				p.mu.Unlock()
			}
		}()
	}
	return p, ""
}

// end stops the writers and returns the probe's note.
func (p *probe) end() string {
	close(p.stop)
	p.wg.Wait()
	p.mu.Lock()
	defer p.mu.Unlock()
	n := map[string]int{}
	for chunk := range p.acked {
		n[chunk[:1]]++
	}
	return fmt.Sprintf("; probe %s: %d of %d acked through the cut node, %d of %d through another", p.job,
		n[probeCut], p.tried[probeCut]+1, n[probeOther], p.tried[probeOther])
}

func (p *probe) create(n *node, id string) error {
	body, _ := json.Marshal(map[string]string{"jobId": id, "userId": "chaos", "type": "probe"})
	resp, err := p.client.Post(n.url("/api/jobs"), "application/json", bytes.NewReader(body))
	if err != nil {
		return fmt.Errorf("create %s: %w", id, err)
	}
	resp.Body.Close()
	if resp.StatusCode != 200 && resp.StatusCode != 201 {
		return fmt.Errorf("create %s: status %d", id, resp.StatusCode)
	}
	return nil
}

// post appends one chunk without an offset; nil once the node acked it.
func (p *probe) post(n *node, id, chunk string) error {
	body, _ := json.Marshal(map[string]any{"events": []map[string]any{{"event": events.Chunk, "data": map[string]string{"chunk": chunk}}}})
	resp, err := p.client.Post(n.url("/api/jobs/"+id+"/events"), "application/json", bytes.NewReader(body))
	if err != nil {
		return err
	}
	resp.Body.Close()
	if resp.StatusCode != 200 {
		return fmt.Errorf("emit to %s through %s: status %d", id, n.id, resp.StatusCode)
	}
	return nil
}

// holder returns the node that holds id now, as n tells it ("" when unknown).
func holder(c *http.Client, n *node, id string) string {
	resp, err := c.Get(n.url("/api/job/" + id + "/status"))
	if err != nil {
		return ""
	}
	defer resp.Body.Close()
	var st struct {
		Node string `json:"node"`
	}
	if json.NewDecoder(resp.Body).Decode(&st) != nil {
		return ""
	}
	return st.Node
}

// verifyProbes checks each probe's journal: contiguous seqs, and every
// acknowledged chunk in it exactly once.
func (c *cluster) verifyProbes(rec *record) {
	for _, p := range c.probes {
		j, err := c.journal(p.job)
		if err != nil {
			rec.violate(Inv2Acked, "probe %s: journal unreadable: %v", p.job, err)
			continue
		}
		if j.dupSeq != "" {
			rec.violate(Inv4OneOwner, "probe %s (fault %d): two writers during the cut: %s", p.job, p.fault, j.dupSeq)
		}
		in := map[string]int{}
		for _, tok := range strings.SplitAfter(j.text, " ") {
			if tok != "" {
				in[tok]++
			}
		}
		for chunk := range p.acked {
			switch in[chunk] {
			case 1:
			case 0:
				rec.violate(Inv2Acked, "probe %s (fault %d): acked chunk %q is not in the journal", p.job, p.fault, chunk)
			default:
				rec.violate(Inv5Journal, "probe %s (fault %d): acked chunk %q is in the journal %d times", p.job, p.fault, chunk, in[chunk])
			}
		}
	}
}
