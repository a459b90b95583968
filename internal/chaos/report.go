package chaos

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"maps"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/actorhub/actorhub/client"
	"github.com/actorhub/actorhub/internal/svgplot"
)

// Fault is one injected fault.
type Fault struct {
	Kind      string  `json:"kind"`
	Target    string  `json:"target"`
	AtS       float64 `json:"atS"`       // seconds since the start
	ResumedMs int64   `json:"resumedMs"` // until every stream moved again; -1: not within resumeWindow
	// per stream, the longest time without an event while the target
	// rejoined (kill, term): what its return cost the streams
	RejoinGapsMs []int64 `json:"rejoinGapsMs,omitempty"`
	Note         string  `json:"note,omitempty"`
}

// Report is what a run found.
type Report struct {
	Config             map[string]any        `json:"config"`
	Start              time.Time             `json:"start"`
	Faults             []Fault               `json:"faults"`
	Emitted            int64                 `json:"emitted"`
	Acked              int64                 `json:"acked"`
	WorkerMoved        int64                 `json:"workerMoved"` // jobs the worker moved to the connection on their node (an ack named it)
	Delivered          int64                 `json:"delivered"`
	JobsVerified       int64                 `json:"jobsVerified"` // jobs ended, each checked against its journal
	DeliveredPerSec    []int64               `json:"deliveredPerSec"`
	StaleWritesRefused int64                 `json:"staleWritesRefused"`
	Stall              map[string]StallStats `json:"stallMsByFault"`
	Rejoin             StallStats            `json:"rejoinGapMs"` // over every stream of every rejoin
	// EndLag: for each job that ended during the run (--job-chunks), the time
	// from its terminal event's ack until every follower had received it
	EndLag          StallStats          `json:"endLagMs"`
	Violations      map[string][]string `json:"violations"` // examples (up to 1,000 per invariant)
	ViolationCounts map[string]int      `json:"violationCounts"`
	// Nodes holds each node's memory and goroutines over the run.
	Nodes map[string]NodeResources `json:"nodes"`
}

// StallStats are percentiles of ResumedMs for one fault kind, over the N
// faults that have one. Over counts the faults after which not every stream
// moved again within resumeWindow (30 s, hence its JSON name): they have no
// time to sort in, and left out silently they would make the kind look better
// than it was.
type StallStats struct {
	N    int   `json:"n"`
	P50  int64 `json:"p50"`
	P99  int64 `json:"p99"`
	Max  int64 `json:"max"`
	Over int   `json:"over30s,omitempty"`
}

// Failed reports whether any invariant was violated.
func (r *Report) Failed() bool {
	for _, v := range r.Violations {
		if len(v) > 0 {
			return true
		}
	}
	return false
}

func reportConfig(c Config) map[string]any {
	return map[string]any{"nodes": c.Nodes, "faults": c.Faults, "everyS": c.Every.Seconds(), "durationS": c.Duration.Seconds(),
		"seed": c.Seed, "jobs": c.Jobs, "ratePerJob": c.Rate, "clients": c.Clients, "follow": c.Follow, "chunkBytes": c.ChunkBytes, "jobChunks": c.JobChunks, "store": c.Store}
}

func (r *Report) finishStats(rec *record, ws client.WorkerStats) {
	rec.mu.Lock()
	r.Violations, r.ViolationCounts = map[string][]string{}, map[string]int{}
	for _, inv := range []string{Inv1Seq, Inv2Acked, Inv3Durable, Inv4OneOwner, Inv5Journal, Inv6NoCrash} {
		r.Violations[inv] = append([]string{}, rec.viol[inv]...)
		r.ViolationCounts[inv] = max(len(rec.viol[inv]), rec.violN[inv])
	}
	rec.mu.Unlock()
	r.Emitted, r.Acked, r.WorkerMoved = ws.Emitted, ws.Acked, ws.Moved
	last := 0
	for i := range rec.delivered {
		n := rec.delivered[i].Load()
		r.DeliveredPerSec = append(r.DeliveredPerSec, n)
		r.Delivered += n
		if n > 0 {
			last = i
		}
	}
	r.DeliveredPerSec = r.DeliveredPerSec[:last+1]
	r.Stall = stallByKind(r.Faults)
	var gaps []int64
	for _, f := range r.Faults {
		gaps = append(gaps, f.RejoinGapsMs...)
	}
	if len(gaps) > 0 {
		r.Rejoin = stallStats(gaps)
	}
	rec.mu.Lock()
	if len(rec.endLags) > 0 {
		r.EndLag = stallStats(slices.Clone(rec.endLags))
	}
	rec.mu.Unlock()
}

// stallByKind gives the stall after each fault kind; a fault after which the
// streams did not all move again within resumeWindow counts in Over.
func stallByKind(faults []Fault) map[string]StallStats {
	by := map[string][]int64{}
	for _, f := range faults {
		if f.ResumedMs >= 0 {
			by[f.Kind] = append(by[f.Kind], f.ResumedMs)
		}
	}
	stall := map[string]StallStats{}
	for k, v := range by {
		stall[k] = stallStats(v)
	}
	for _, f := range faults {
		if f.ResumedMs < 0 {
			s := stall[f.Kind]
			s.Over++
			stall[f.Kind] = s
		}
	}
	return stall
}

func stallStats(v []int64) StallStats {
	slices.Sort(v)
	return StallStats{N: len(v), P50: v[len(v)/2], P99: v[min(len(v)-1, len(v)*99/100)], Max: v[len(v)-1]}
}

// Print writes the human summary.
func (r *Report) Print(w io.Writer) {
	fmt.Fprintf(w, "\nchaos: %d faults, %d events emitted, %d acked, %d delivered to clients, %d jobs verified, %d stale writes refused, %d moves of a job to its node's worker connection\n",
		len(r.Faults), r.Emitted, r.Acked, r.Delivered, r.JobsVerified, r.StaleWritesRefused, r.WorkerMoved)
	fmt.Fprintf(w, "\n| fault | n | streams resumed p50 ms | p99 ms | max ms | not within %v |\n|---|---|---|---|---|---|\n", resumeWindow)
	for _, k := range slices.Sorted(maps.Keys(r.Stall)) {
		s := r.Stall[k]
		if s.N == 0 {
			fmt.Fprintf(w, "| %s | %d | – | – | – | %d |\n", k, s.Over, s.Over)
			continue
		}
		fmt.Fprintf(w, "| %s | %d | %d | %d | %d | %d |\n", k, s.N+s.Over, s.P50, s.P99, s.Max, s.Over)
	}
	if r.Rejoin.N > 0 {
		fmt.Fprintf(w, "\nrejoin (a killed or drained node back in the cluster): per stream, the longest time without an event: p50 %d ms, p99 %d ms, max %d ms over %d streams\n",
			r.Rejoin.P50, r.Rejoin.P99, r.Rejoin.Max, r.Rejoin.N)
	}
	if r.EndLag.N > 0 {
		fmt.Fprintf(w, "\njobs ended during the run: from the ack of a job's terminal event until every follower had it: p50 %d ms, p99 %d ms, max %d ms over %d jobs\n",
			r.EndLag.P50, r.EndLag.P99, r.EndLag.Max, r.EndLag.N)
	}
	fmt.Fprintln(w, "\n| invariant | violations | first examples |\n|---|---|---|")
	for _, k := range slices.Sorted(maps.Keys(r.Violations)) {
		v := r.Violations[k]
		ex := v[:min(3, len(v))]
		fmt.Fprintf(w, "| %s | %d | %s |\n", k, max(len(v), r.ViolationCounts[k]), strings.Join(ex, "; "))
	}
	printResources(w, r.Nodes)
	if r.Failed() {
		fmt.Fprintln(w, "\nverdict: FAILED — invariants violated")
	} else {
		fmt.Fprintln(w, "\nverdict: ok — no invariant violated")
	}
}

// Write stores report.json, timeline.svg and resources.svg in dir.
func (r *Report) Write(dir string) error {
	b, err := json.MarshalIndent(r, "", "  ")
	if err != nil {
		return err
	}
	if err := os.WriteFile(filepath.Join(dir, "report.json"), append(b, '\n'), 0o644); err != nil {
		return err
	}
	if err := os.WriteFile(filepath.Join(dir, "timeline.svg"), []byte(r.svg()), 0o644); err != nil {
		return err
	}
	return os.WriteFile(filepath.Join(dir, "resources.svg"), []byte(resourcesSVG(r.Nodes, r.Faults)), 0o644)
}

// svg draws delivered events per second with the faults marked.
func (r *Report) svg() string {
	c := svgplot.Chart{Title: "delivered events per second (all clients), faults marked", XUnit: "s", YUnit: "/s"}
	line := svgplot.Series{Name: "delivered/s"}
	for i, v := range r.DeliveredPerSec {
		line.Points = append(line.Points, svgplot.Point{X: float64(i) + 0.5, Y: float64(v)})
	}
	c.Series = []svgplot.Series{line}
	for _, f := range r.Faults {
		c.Marks = append(c.Marks, svgplot.Mark{X: f.AtS, Label: f.Kind + " " + f.Target})
	}
	return svgplot.Render(c)
}

// staleWrites reads actorhub_stale_writes_refused_total from a node (0 when
// it does not answer).
func staleWrites(n *node) int64 {
	resp, err := http.Get(n.url("/metrics"))
	if err != nil {
		return 0
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	for _, l := range strings.Split(string(b), "\n") {
		if v, ok := strings.CutPrefix(l, "actorhub_stale_writes_refused_total "); ok {
			f, _ := strconv.ParseFloat(v, 64)
			return int64(f)
		}
	}
	return 0
}

// aliveMembers returns how many members a node lists as alive.
func aliveMembers(n *node) (int, error) {
	return client.AliveMembers(context.Background(), nil, n.url(""))
}
