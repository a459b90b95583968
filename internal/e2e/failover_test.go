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
// → the stream moving again on the new owner. `make failover` runs 20 kills
// (ACTORHUB_KILLS=20) and prints the percentiles; `make test` runs 3.
func TestFailoverStall(t *testing.T) {
	kills := 3
	if v, err := strconv.Atoi(os.Getenv("ACTORHUB_KILLS")); err == nil && v > 0 {
		kills = v
	}
	rs := redistest.Start(t)
	nodes := nodetest.StartCluster(t, 3, rs.URL())
	var all []time.Duration
	for k := 0; k < kills; k++ {
		victim := nodes[k%3]
		var survivors []*nodetest.Node
		for _, n := range nodes {
			if n != victim {
				survivors = append(survivors, n)
			}
		}
		stalls := failoverOnce(t, rs, victim, survivors, fmt.Sprintf("fo%d", k))
		sort.Slice(stalls, func(i, j int) bool { return stalls[i] < stalls[j] })
		t.Logf("kill %2d of %s: stall median %v max %v over %d streams", k+1, victim.ID,
			stalls[len(stalls)/2].Round(time.Millisecond), stalls[len(stalls)-1].Round(time.Millisecond), len(stalls))
		all = append(all, stalls...)
		victim.RestartWith(t, "--join", survivors[0].Gossip)
		nodetest.WaitConverged(t, nodes, 3, 30*time.Second)
	}
	sort.Slice(all, func(i, j int) bool { return all[i] < all[j] })
	pct := func(p float64) time.Duration {
		return all[min(len(all)-1, int(p*float64(len(all))))].Round(time.Millisecond)
	}
	t.Logf("failover stall over %d kills, %d streams: p50 %v p99 %v max %v", kills, len(all), pct(0.50), pct(0.99), all[len(all)-1].Round(time.Millisecond))
	if out := os.Getenv("ACTORHUB_FAILOVER_OUT"); out != "" {
		line := fmt.Sprintf("| %d | %d | %v | %v | %v |\n", kills, len(all), pct(0.50), pct(0.99), all[len(all)-1].Round(time.Millisecond))
		if err := os.WriteFile(out, []byte(line), 0o644); err != nil {
			t.Fatal(err)
		}
	}
}

// failoverOnce streams to three jobs owned by victim, with subscribers on the
// survivors, kills the victim and returns the stalls seen.
func failoverOnce(t *testing.T, rs *redistest.Server, victim *nodetest.Node, survivors []*nodetest.Node, prefix string) []time.Duration {
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
	time.Sleep(4 * time.Second)
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
	return stalls
}
