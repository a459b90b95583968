package chaos

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"maps"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/actorhub/actorhub/internal/svgplot"
)

// Sample is one reading of a node's process: its resident memory and
// goroutines, and when the process started (a restart starts a new series).
type Sample struct {
	AtS        float64 `json:"atS"`
	RSSMB      float64 `json:"rssMB"`
	Goroutines int     `json:"goroutines"`
	StartedS   float64 `json:"started"` // process_start_time_seconds
	// JobActors and Feeds are the node's live job actors and feeds: with J
	// jobs, more than J job actors on one node is a leak.
	JobActors int `json:"jobActors"`
	Feeds     int `json:"feeds"`
}

// maxSamples bounds the samples kept per node: a long run (--soak) samples
// less often, so that the report stays the same size.
const maxSamples = 720

// sampler reads every node's /metrics at an interval until stopped.
type sampler struct {
	mu    sync.Mutex
	start time.Time
	every time.Duration
	byID  map[string][]Sample
}

func newSampler(start time.Time, length time.Duration) *sampler {
	return &sampler{start: start, every: max(time.Second, length/maxSamples), byID: map[string][]Sample{}}
}

// run samples the nodes until ctx ends.
func (s *sampler) run(ctx context.Context, nodes []*node) {
	tick := time.NewTicker(s.every)
	defer tick.Stop()
	hc := &http.Client{Timeout: 2 * time.Second}
	for {
		for _, n := range nodes {
			if sm, ok := readSample(ctx, hc, n); ok {
				sm.AtS = time.Since(s.start).Seconds()
				s.mu.Lock()
				if len(s.byID[n.id]) < 2*maxSamples { // a run past its length samples no more than this
					s.byID[n.id] = append(s.byID[n.id], sm)
				}
				s.mu.Unlock()
			}
		}
		select {
		case <-ctx.Done():
			return
		case <-tick.C:
		}
	}
}

// readSample reads one node's process metrics (false when it does not answer).
func readSample(ctx context.Context, hc *http.Client, n *node) (Sample, bool) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, n.url("/metrics"), nil)
	if err != nil {
		return Sample{}, false
	}
	resp, err := hc.Do(req)
	if err != nil {
		return Sample{}, false
	}
	defer resp.Body.Close()
	var sm Sample
	found := 0
	sc := bufio.NewScanner(io.LimitReader(resp.Body, 8<<20))
	sc.Buffer(make([]byte, 64<<10), 1<<20)
	for sc.Scan() {
		name, v, ok := strings.Cut(sc.Text(), " ")
		if !ok {
			continue
		}
		f, err := strconv.ParseFloat(v, 64)
		if err != nil {
			continue
		}
		switch name {
		case "process_resident_memory_bytes":
			sm.RSSMB, found = f/(1<<20), found+1
		case "go_goroutines":
			sm.Goroutines, found = int(f), found+1
		case "process_start_time_seconds":
			sm.StartedS, found = f, found+1
		case "actorhub_job_actors_active":
			sm.JobActors = int(f)
		case "actorhub_job_feeds_active":
			sm.Feeds = int(f)
		}
	}
	return sm, found == 3
}

// NodeResources summarises a node's samples: its last process's memory and
// goroutines at the first and last sample and at most, and their trend over
// that process's second half (a leak shows as a slope that does not flatten).
type NodeResources struct {
	Samples           []Sample `json:"samples"`
	RSSFirstMB        float64  `json:"rssFirstMB"`
	RSSLastMB         float64  `json:"rssLastMB"`
	RSSMaxMB          float64  `json:"rssMaxMB"`
	RSSSlopeMBPerHour float64  `json:"rssSlopeMBPerHour"`
	GoroutinesFirst   int      `json:"goroutinesFirst"`
	GoroutinesLast    int      `json:"goroutinesLast"`
	GoroutinesMax     int      `json:"goroutinesMax"`
	GoroutinesPerHour float64  `json:"goroutinesSlopePerHour"`
	JobActorsLast     int      `json:"jobActorsLast"`
	JobActorsMax      int      `json:"jobActorsMax"`
	FeedsLast         int      `json:"feedsLast"`
	FeedsMax          int      `json:"feedsMax"`
	Restarts          int      `json:"restarts"`
	SpanS             float64  `json:"spanS"` // of the last process's samples
}

// resources summarises what the sampler read, by node id.
func (s *sampler) resources() map[string]NodeResources {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := map[string]NodeResources{}
	for id, all := range s.byID {
		if len(all) == 0 {
			continue
		}
		r := NodeResources{Samples: slices.Clone(all)}
		last := all[len(all)-1:] // the samples of the last process
		for i := len(all) - 2; i >= 0 && all[i].StartedS == all[len(all)-1].StartedS; i-- {
			last = all[i:]
		}
		for i := 1; i < len(all); i++ {
			if all[i].StartedS != all[i-1].StartedS {
				r.Restarts++
			}
		}
		r.RSSFirstMB, r.RSSLastMB = last[0].RSSMB, last[len(last)-1].RSSMB
		r.GoroutinesFirst, r.GoroutinesLast = last[0].Goroutines, last[len(last)-1].Goroutines
		for _, sm := range last {
			r.RSSMaxMB, r.GoroutinesMax = max(r.RSSMaxMB, sm.RSSMB), max(r.GoroutinesMax, sm.Goroutines)
			r.JobActorsMax, r.FeedsMax = max(r.JobActorsMax, sm.JobActors), max(r.FeedsMax, sm.Feeds)
		}
		r.JobActorsLast, r.FeedsLast = last[len(last)-1].JobActors, last[len(last)-1].Feeds
		r.SpanS = last[len(last)-1].AtS - last[0].AtS
		half := last[len(last)/2:]
		r.RSSSlopeMBPerHour = 3600 * slope(half, func(sm Sample) float64 { return sm.RSSMB })
		r.GoroutinesPerHour = 3600 * slope(half, func(sm Sample) float64 { return float64(sm.Goroutines) })
		out[id] = r
	}
	return out
}

// slope is the least-squares slope of y over AtS (per second); 0 with fewer
// than two samples.
func slope(ss []Sample, y func(Sample) float64) float64 {
	if len(ss) < 2 {
		return 0
	}
	var sx, sy, sxx, sxy float64
	for _, sm := range ss {
		x, v := sm.AtS, y(sm)
		sx, sy, sxx, sxy = sx+x, sy+v, sxx+x*x, sxy+x*v
	}
	n := float64(len(ss))
	d := n*sxx - sx*sx
	if d == 0 {
		return 0
	}
	return (n*sxy - sx*sy) / d
}

// minTrendSpan is the shortest process life whose trend the table prints.
const minTrendSpan = 10 * time.Minute

// printResources writes the per-node table of the report.
func printResources(w io.Writer, res map[string]NodeResources) {
	if len(res) == 0 {
		return
	}
	fmt.Fprintln(w, "\nnodes (their last process; the trend over its second half): memory, goroutines, job actors and feeds")
	fmt.Fprintln(w, "\n| node | restarts | sampled s | RSS MB first / last / max | RSS MB per hour | goroutines first / last / max | goroutines per hour | job actors last / max | feeds last / max |\n|---|---|---|---|---|---|---|---|---|")
	for _, id := range slices.Sorted(maps.Keys(res)) {
		r := res[id]
		rss, gs := "—", "—" // a trend over minutes says little about hours
		if r.SpanS >= minTrendSpan.Seconds() {
			rss, gs = fmt.Sprintf("%+.1f", r.RSSSlopeMBPerHour), fmt.Sprintf("%+.0f", r.GoroutinesPerHour)
		}
		fmt.Fprintf(w, "| %s | %d | %.0f | %.1f / %.1f / %.1f | %s | %d / %d / %d | %s | %d / %d | %d / %d |\n", id, r.Restarts, r.SpanS,
			r.RSSFirstMB, r.RSSLastMB, r.RSSMaxMB, rss, r.GoroutinesFirst, r.GoroutinesLast, r.GoroutinesMax, gs,
			r.JobActorsLast, r.JobActorsMax, r.FeedsLast, r.FeedsMax)
	}
}

// resourcesSVG draws every node's resident memory over the run, faults marked.
func resourcesSVG(res map[string]NodeResources, faults []Fault) string {
	c := svgplot.Chart{Title: "resident memory of each node (MB), faults marked", XUnit: "s", YUnit: " MB"}
	for _, id := range slices.Sorted(maps.Keys(res)) {
		line := svgplot.Series{Name: id}
		for _, sm := range res[id].Samples {
			line.Points = append(line.Points, svgplot.Point{X: sm.AtS, Y: sm.RSSMB})
		}
		c.Series = append(c.Series, line)
	}
	for _, f := range faults {
		c.Marks = append(c.Marks, svgplot.Mark{X: f.AtS, Label: f.Kind + " " + f.Target})
	}
	return svgplot.Render(c)
}
