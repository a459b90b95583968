package e2e

import (
	"context"
	"fmt"
	"os"
	"sort"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/actorhub/actorhub/client"
	"github.com/actorhub/actorhub/events"
	"github.com/actorhub/actorhub/internal/nodetest"
	"github.com/actorhub/actorhub/internal/redistest"
)

// arrivals records when each (subscriber, job) received each event.
type arrivals struct {
	mu   sync.Mutex
	at   map[string][]time.Time
	last map[string]int64
	bad  []string
}

func (a *arrivals) handler(sub string) func(events.Event) {
	return func(ev events.Event) {
		now := time.Now()
		k := sub + "/" + ev.JobID
		a.mu.Lock()
		defer a.mu.Unlock()
		if ev.Seq != a.last[k]+1 {
			a.bad = append(a.bad, fmt.Sprintf("%s: seq %d after %d", k, ev.Seq, a.last[k]))
		}
		a.last[k] = ev.Seq
		a.at[k] = append(a.at[k], now)
	}
}

// stalls returns, per (subscriber, job), the longest time without an event
// in [from, to].
func (a *arrivals) stalls(from, to time.Time) []time.Duration {
	a.mu.Lock()
	defer a.mu.Unlock()
	var out []time.Duration
	for _, ts := range a.at {
		prev, worst := from, time.Duration(0)
		for _, t := range ts {
			if t.Before(from) {
				prev = from
				continue
			}
			if t.After(to) {
				break
			}
			worst = max(worst, t.Sub(prev))
			prev = t
		}
		out = append(out, worst)
	}
	return out
}

// TestFailoverStall kills the owner of streaming jobs again and again (the
// victim restarts and rejoins each time) and measures, at subscribers on the
// surviving nodes, the longest pause in each stream around the kill: kill -9
// → the stream moving again on the new owner; and how long until every
// survivor's view shows the victim dead (the failure detection). `make
// failover` runs 20 kills (ACTORHUB_KILLS=20) and prints the percentiles,
// `make cluster` also on ten nodes (ACTORHUB_NODES=10); `make test` runs 3
// kills on three nodes.
func TestFailoverStall(t *testing.T) {
	kills, size := 3, 3
	if v, err := strconv.Atoi(os.Getenv("ACTORHUB_KILLS")); err == nil && v > 0 {
		kills = v
	}
	if v, err := strconv.Atoi(os.Getenv("ACTORHUB_NODES")); err == nil && v >= 3 {
		size = v
	}
	rs := redistest.Start(t)
	nodes := nodetest.StartCluster(t, size, rs.URL())
	var all, seen []time.Duration
	for k := 0; k < kills; k++ {
		victim := nodes[k%size]
		var survivors []*nodetest.Node
		for _, n := range nodes {
			if n != victim {
				survivors = append(survivors, n)
			}
		}
		stalls, dead := failoverOnce(t, rs, victim, survivors, fmt.Sprintf("fo%d", k))
		sort.Slice(stalls, func(i, j int) bool { return stalls[i] < stalls[j] })
		t.Logf("kill %2d of %s: stall median %v max %v over %d streams; seen dead by all %d others after %v", k+1, victim.ID,
			stalls[len(stalls)/2].Round(time.Millisecond), stalls[len(stalls)-1].Round(time.Millisecond), len(stalls),
			len(survivors), dead.Round(time.Millisecond))
		all, seen = append(all, stalls...), append(seen, dead)
		victim.RestartWith(t, "--join", survivors[0].Gossip)
		nodetest.WaitConverged(t, nodes, size, 30*time.Second)
	}
	pct := func(ds []time.Duration, p float64) time.Duration {
		sort.Slice(ds, func(i, j int) bool { return ds[i] < ds[j] })
		return ds[min(len(ds)-1, int(p*float64(len(ds))))].Round(time.Millisecond)
	}
	t.Logf("failover stall over %d kills on %d nodes, %d streams: p50 %v p99 %v max %v; seen dead by all: p50 %v max %v",
		kills, size, len(all), pct(all, 0.50), pct(all, 0.99), pct(all, 1), pct(seen, 0.5), pct(seen, 1))
	if out := os.Getenv("ACTORHUB_FAILOVER_OUT"); out != "" {
		line := fmt.Sprintf("| %d | %d | %d | %v | %v | %v | %v | %v |\n", size, kills, len(all), pct(all, 0.50), pct(all, 0.99),
			pct(all, 1), pct(seen, 0.5), pct(seen, 1))
		if err := os.WriteFile(out, []byte(line), 0o644); err != nil {
			t.Fatal(err)
		}
	}
}

// seenDead returns how long after killAt every node of survivors showed
// victim dead (or gone) in its GET /api/cluster; it waits up to 15 s.
func seenDead(survivors []*nodetest.Node, victim *nodetest.Node, killAt time.Time) time.Duration {
	var mu sync.Mutex
	var worst time.Duration
	var wg sync.WaitGroup
	for _, n := range survivors {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for time.Since(killAt) < 15*time.Second {
				ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
				ms, err := client.ClusterMembers(ctx, nil, "http://"+n.Admin)
				cancel()
				gone := err == nil
				for _, m := range ms {
					if m.ID == victim.ID && (m.State == "alive" || m.State == "suspect") {
						gone = false
					}
				}
				if gone {
					mu.Lock()
					worst = max(worst, time.Since(killAt))
					mu.Unlock()
					return
				}
				time.Sleep(10 * time.Millisecond)
			}
			mu.Lock()
			worst = max(worst, 15*time.Second)
			mu.Unlock()
		}()
	}
	wg.Wait()
	return worst
}

// failoverOnce streams to three jobs owned by victim, with subscribers on the
// survivors, kills the victim and returns the stalls seen.
func failoverOnce(t *testing.T, rs *redistest.Server, victim *nodetest.Node, survivors []*nodetest.Node, prefix string) ([]time.Duration, time.Duration) {
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	jobs := heldBy(t, rs, victim, prefix, 3)
	w := client.NewWorker(client.WorkerConfig{BaseURLs: []string{survivors[0].URL(""), survivors[1].URL("")},
		AckTimeout: 2 * time.Second, Backoff: client.Backoff{Min: 10 * time.Millisecond, Max: 200 * time.Millisecond}})
	defer w.Close()
	for _, j := range jobs {
		if _, err := w.CreateJob(ctx, j, "u", "t", nil); err != nil {
			t.Fatal(err)
		}
	}
	arr := &arrivals{at: map[string][]time.Time{}, last: map[string]int64{}}
	var wg sync.WaitGroup
	for i, n := range survivors {
		sub := client.NewSubscriber(client.SubscriberConfig{URLs: []string{n.WS("/ws")}, Handler: arr.handler(strconv.Itoa(i))})
		for _, j := range jobs {
			sub.Subscribe(j, 0)
		}
		wg.Add(1)
		go func() { defer wg.Done(); _ = sub.Run(ctx) }()
	}
	stop := make(chan struct{})
	emitted := make(chan struct{})
	go func() {
		defer close(emitted)
		for {
			select {
			case <-stop:
				return
			case <-time.After(10 * time.Millisecond):
			}
			for _, j := range jobs {
				if _, err := w.Emit(ctx, j, events.Chunk, map[string]any{"chunk": "x"}); err != nil {
					t.Errorf("emit: %v", err)
					return
				}
			}
		}
	}()
	time.Sleep(700 * time.Millisecond)
	killAt := time.Now()
	victim.Kill()
	dead := seenDead(survivors, victim, killAt)
	if rest := 4*time.Second - time.Since(killAt); rest > 0 {
		time.Sleep(rest)
	}
	close(stop)
	<-emitted
	stalls := arr.stalls(killAt.Add(-200*time.Millisecond), killAt.Add(4*time.Second))
	cancel()
	wg.Wait()
	arr.mu.Lock()
	defer arr.mu.Unlock()
	if len(arr.bad) > 0 {
		t.Fatalf("streams broke the seq contract: %v", arr.bad[:min(5, len(arr.bad))])
	}
	return stalls, dead
}
