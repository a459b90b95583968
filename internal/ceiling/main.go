// Command ceiling judges and reports the ceiling sweep of scripts/ceiling.sh:
// the highest delivered rate one node sustains with p99 latency within a bound,
// per system (Socket.IO + Redis adapter, actorhub, Centrifugo) and per shape
// (J = 100 jobs, many clients on each; J = C, one job per client).
//
//	ceiling pass JSON        exit 0 when one run of the peer harness's loadgen meets the bar, 1 when not
//	ceiling report DIR       DIR/results.jsonl -> DIR/table.md and DIR/ceiling.svg
//
// The bar: p99 ≤ -p99 ms, delivered ≥ -min-delivered × offered, nothing lost,
// no sequence going backwards or repeated.
package main

import (
	"bufio"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sort"
	"strings"

	"github.com/actorhub/actorhub/internal/svgplot"
)

// run is the part of a loadgen JSON line the sweep reads.
type run struct {
	Label        string  `json:"label"`
	Target       string  `json:"target"`
	Conns        int     `json:"conns"`
	Nodes        int     `json:"nodes"`
	Jobs         int     `json:"jobs"`
	Offered      float64 `json:"offered_msgs_s"`
	Delivered    float64 `json:"delivered_msgs_s"`
	P50          float64 `json:"lat_p50_ms"`
	P99          float64 `json:"lat_p99_ms"`
	Lost         int64   `json:"lost"`
	OutOfOrder   int64   `json:"out_of_order"`
	Duplicates   int64   `json:"duplicates"`
	Error        string  `json:"error"`
	Contaminated bool    `json:"contaminated"`
	CPU          struct {
		Servers   []float64 `json:"servers_pct"`
		Redis     float64   `json:"redis_pct"`
		Foreign   float64   `json:"foreign_cores"`
		Generator float64   `json:"generator_pct"`
		Worker    float64   `json:"worker_pct"`
		Busy      float64   `json:"system_busy_pct"`
	} `json:"cpu"`
}

// saturated is the share of its one core (%) past which a single-threaded
// load process (the generator, the worker; the harness runs each on
// GOMAXPROCS=1) counts as the limit of a run rather than the server.
const saturated = 90

type bar struct {
	p99          float64
	minDelivered float64
}

// why says what keeps r under the bar ("" when it meets it).
func (b bar) why(r run) string {
	switch {
	case r.Error != "":
		return "error: " + r.Error
	case r.Offered <= 0:
		return "no offered rate"
	case r.P99 > b.p99:
		return fmt.Sprintf("p99 %.1f ms > %.0f", r.P99, b.p99)
	case r.Delivered < b.minDelivered*r.Offered:
		return fmt.Sprintf("delivered %.0f/s < %.0f%% of offered", r.Delivered, 100*b.minDelivered)
	case r.Lost > 0:
		return fmt.Sprintf("%d lost", r.Lost)
	case r.OutOfOrder+r.Duplicates > 0:
		return fmt.Sprintf("%d out of order or repeated", r.OutOfOrder+r.Duplicates)
	}
	return ""
}

func (r run) target() string {
	if r.Target == "" {
		return "socketio"
	}
	return r.Target
}

// shape names a curve's J: "J=100" or "J=C".
func (r run) shape() string {
	if r.Jobs == r.Conns {
		return "J=C"
	}
	return fmt.Sprintf("J=%d", r.Jobs)
}

func main() {
	fs := flag.NewFlagSet("ceiling", flag.ExitOnError)
	var b bar
	fs.Float64Var(&b.p99, "p99", 50, "p99 bound in ms")
	fs.Float64Var(&b.minDelivered, "min-delivered", 0.97, "delivered rate at least this share of the offered rate")
	_ = fs.Parse(os.Args[1:])
	if err := cmd(fs.Args(), b, os.Stdout); errors.Is(err, errBelow) {
		os.Exit(1)
	} else if err != nil {
		fmt.Fprintln(os.Stderr, "ceiling:", err)
		os.Exit(2)
	}
}

var errBelow = errors.New("below the bar")

func cmd(args []string, b bar, out io.Writer) error {
	switch {
	case len(args) == 2 && args[0] == "pass":
		var r run
		if err := json.Unmarshal([]byte(args[1]), &r); err != nil {
			return fmt.Errorf("not a loadgen line: %w", err)
		}
		if why := b.why(r); why != "" {
			fmt.Fprintln(out, why)
			return errBelow
		}
		fmt.Fprintln(out, "ok")
		return nil
	case len(args) == 2 && args[0] == "report":
		runs, err := read(filepath.Join(args[1], "results.jsonl"))
		if err != nil {
			return err
		}
		if err := os.WriteFile(filepath.Join(args[1], "table.md"), []byte(table(runs, b)), 0o644); err != nil {
			return err
		}
		return os.WriteFile(filepath.Join(args[1], "ceiling.svg"), []byte(plot(runs, b)), 0o644)
	}
	return errors.New("usage: ceiling [-p99 MS] [-min-delivered F] pass JSON | report DIR")
}

func read(path string) ([]run, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	var runs []run
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 1<<20), 16<<20)
	for n := 1; sc.Scan(); n++ {
		if strings.TrimSpace(sc.Text()) == "" {
			continue
		}
		var r run
		if err := json.Unmarshal(sc.Bytes(), &r); err != nil {
			return nil, fmt.Errorf("%s:%d: %w", path, n, err)
		}
		runs = append(runs, r)
	}
	return runs, sc.Err()
}

// curve is one system at one shape, its runs by offered rate.
type curve struct {
	target, shape string
	runs          []run
}

func curves(runs []run) []curve {
	idx := map[string]int{}
	var cs []curve
	for _, r := range runs {
		k := r.target() + " " + r.shape()
		i, ok := idx[k]
		if !ok {
			i = len(cs)
			idx[k] = i
			cs = append(cs, curve{target: r.target(), shape: r.shape()})
		}
		cs[i].runs = append(cs[i].runs, r)
	}
	for _, c := range cs {
		sort.SliceStable(c.runs, func(i, j int) bool { return c.runs[i].Offered < c.runs[j].Offered })
	}
	sort.SliceStable(cs, func(i, j int) bool {
		if cs[i].shape != cs[j].shape {
			return cs[i].shape < cs[j].shape
		}
		return order(cs[i].target) < order(cs[j].target)
	})
	return cs
}

func order(target string) int {
	return map[string]int{"socketio": 0, "actorhub": 1, "centrifugo": 2}[target]
}

// ceiling is the highest offered rate of c that met the bar, with the run
// that did; 0 when none did.
func (c curve) ceiling(b bar) (float64, run) {
	var best run
	for _, r := range c.runs {
		if b.why(r) == "" && r.Offered > best.Offered {
			best = r
		}
	}
	return best.Offered, best
}

// next is the lowest rate of c above top, the ceiling: the one past which
// the curve stopped (it missed the bar, as every rate above top did); false
// when none above was tried.
func (c curve) next(top float64) (run, bool) {
	for _, r := range c.runs { // by offered rate
		if r.Offered > top {
			return r, true
		}
	}
	return run{}, false
}

// lowerBound says why c's ceiling at top may be the measurement's and not the
// server's ("" when it is the server's): no higher rate was tried, or the
// next one had the load generator or the worker at its core's limit
// (saturated), the server not. The ceiling is then at least top.
func (c curve) lowerBound(top float64) string {
	r, ok := c.next(top)
	if !ok {
		return "the highest rate tried"
	}
	srv := 0.0
	for _, v := range r.CPU.Servers {
		srv = max(srv, v)
	}
	switch {
	case srv >= saturated:
		return ""
	case r.CPU.Generator >= saturated:
		return fmt.Sprintf("at %.0f msg/s the load generator used %.0f%% of its core, the server %.0f%%", r.Offered, r.CPU.Generator, srv)
	case r.CPU.Worker >= saturated:
		return fmt.Sprintf("at %.0f msg/s the worker used %.0f%% of its core, the server %.0f%%", r.Offered, r.CPU.Worker, srv)
	}
	return ""
}

// limit describes the next rate above top: why it missed the bar, and where
// the box's CPU went ("" when none was tried).
func (c curve) limit(top float64, b bar) string {
	r, ok := c.next(top)
	if !ok {
		return ""
	}
	return fmt.Sprintf("%.0f msg/s: %s; server %.0f%%, generator %.0f%%, worker %.0f%%, Redis %.0f%%, box %.0f%% busy",
		r.Offered, b.why(r), sum(r.CPU.Servers), r.CPU.Generator, r.CPU.Worker, r.CPU.Redis, r.CPU.Busy)
}

func table(runs []run, b bar) string {
	var s strings.Builder
	cs := curves(runs)
	fmt.Fprintf(&s, "Ceiling: the highest offered rate one node sustains with p99 ≤ %.0f ms, delivered ≥ %.0f%% of offered, nothing lost or repeated.\n", b.p99, 100*b.minDelivered)
	fmt.Fprintf(&s, "A ceiling marked ≥ is a lower bound: no higher rate was tried, or the load generator or the worker (one core each) ran out of CPU at the next rate while the server had some left.\n\n")
	fmt.Fprintf(&s, "| shape | system | ceiling msg/s | p50 / p99 ms there | CPU µs/msg there (server + Redis) | × Socket.IO | the next rate |\n|---|---|---|---|---|---|---|\n")
	type base struct {
		top   float64
		lower bool
	}
	bases := map[string]base{}
	for _, c := range cs {
		if c.target == "socketio" {
			top, _ := c.ceiling(b)
			bases[c.shape] = base{top, c.lowerBound(top) != ""}
		}
	}
	for _, c := range cs {
		top, r := c.ceiling(b)
		if top == 0 {
			fmt.Fprintf(&s, "| %s | %s | none met the bar | | | – | %s |\n", c.shape, c.target, c.limit(top, b))
			continue
		}
		lower := c.lowerBound(top)
		ceil, next := fmt.Sprintf("%.0f", top), c.limit(top, b)
		if lower != "" {
			ceil = "≥ " + ceil
			if next == "" {
				next = lower
			}
		}
		ratio := "–"
		if bs := bases[c.shape]; bs.top > 0 {
			x := top / bs.top
			switch {
			case c.target == "socketio":
				ratio = "1.00×"
			case lower == "" && !bs.lower:
				ratio = fmt.Sprintf("%.2f×", x)
			case lower != "" && !bs.lower:
				ratio = fmt.Sprintf("≥ %.2f×", x)
			case lower == "" && bs.lower:
				ratio = fmt.Sprintf("≤ %.2f×", x)
			}
		}
		fmt.Fprintf(&s, "| %s | %s | %s | %.2f / %.1f | %.1f | %s | %s |\n", c.shape, c.target, ceil, r.P50, r.P99, cpuPerMsg(r), ratio, next)
	}
	fmt.Fprintf(&s, "\nEvery run:\n\n| shape | system | offered msg/s | delivered msg/s | p50 ms | p99 ms | lost | CPU server %% | Redis %% | generator %% | worker %% | box busy %% | µs/msg | foreign cores | verdict |\n|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|\n")
	for _, c := range cs {
		for _, r := range c.runs {
			verdict := "ok"
			if why := b.why(r); why != "" {
				verdict = why
			}
			fmt.Fprintf(&s, "| %s | %s | %.0f | %.0f | %.2f | %.1f | %d | %.1f | %.1f | %.1f | %.1f | %.1f | %.1f | %.2f | %s |\n",
				c.shape, c.target, r.Offered, r.Delivered, r.P50, r.P99, r.Lost, sum(r.CPU.Servers), r.CPU.Redis,
				r.CPU.Generator, r.CPU.Worker, r.CPU.Busy, cpuPerMsg(r), r.CPU.Foreign, verdict)
		}
	}
	return s.String()
}

func sum(v []float64) float64 {
	var t float64
	for _, x := range v {
		t += x
	}
	return t
}

// cpuPerMsg is the servers' and Redis's CPU per delivered message in µs.
func cpuPerMsg(r run) float64 {
	if r.Delivered <= 0 {
		return 0
	}
	return (sum(r.CPU.Servers) + r.CPU.Redis) * 1e4 / r.Delivered
}

func plot(runs []run, b bar) string {
	colors := map[string]string{"socketio": "#57606a", "actorhub": "#1f6feb", "centrifugo": "#1a7f37"}
	c := svgplot.Chart{
		Title:  fmt.Sprintf("p99 latency against offered rate, one node (the ceiling is the last rate under %.0f ms)", b.p99),
		XLabel: "offered msg/s (delivered to all clients)", YLabel: "p99 latency", YUnit: " ms", LogY: true,
		Height: 420,
		Levels: []svgplot.Level{{Y: b.p99, Label: fmt.Sprintf("p99 %.0f ms", b.p99)}},
	}
	for _, cv := range curves(runs) {
		s := svgplot.Series{Name: cv.target + " " + cv.shape, Color: colors[cv.target], Dashed: cv.shape == "J=C"}
		for _, r := range cv.runs {
			if r.Error == "" {
				s.Points = append(s.Points, svgplot.Point{X: r.Offered, Y: r.P99})
			}
		}
		c.Series = append(c.Series, s)
	}
	return svgplot.Render(c)
}
