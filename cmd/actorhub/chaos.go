package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"path/filepath"
	"strings"
	"syscall"
	"time"

	"github.com/actorhub/actorhub/internal/chaos"
)

// errViolations makes `actorhub chaos` exit non-zero after printing its report.
var errViolations = errors.New("chaos: invariants violated (see the report)")

// runChaos is `actorhub chaos`: a local cluster of this binary, faults on a
// seeded schedule, invariants checked, a report (JSON and SVG) written.
func runChaos(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	d := chaos.DefaultConfig()
	c := d
	var faults, out string
	fs := flag.NewFlagSet("chaos", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.IntVar(&c.Nodes, "nodes", d.Nodes, "actorhub serve processes")
	fs.StringVar(&c.Store, "store", "", "shared store URL (default: a private redis-server with AOF, which redis-restart faults restart)")
	fs.StringVar(&faults, "faults", strings.Join(d.Faults, ","), "fault kinds: "+strings.Join(chaos.KnownFaults, ",")+
		" (redis-failover runs the store as a primary, a replica and a sentinel, the nodes on redis+sentinel:// with --store-wait-replicas 1)")
	fs.BoolVar(&c.NoWait, "no-wait", false, "redis-failover: nodes without --store-wait-replicas (events acknowledged by the primary alone; what a failover loses shows as invariant 2 violations)")
	fs.DurationVar(&c.Every, "every", d.Every, "mean time between faults (±25 %)")
	fs.DurationVar(&c.Duration, "duration", d.Duration, "length of the streaming phase")
	fs.Int64Var(&c.Seed, "seed", d.Seed, "seed of the schedule (kinds, targets, timing)")
	fs.IntVar(&c.Jobs, "jobs", d.Jobs, "jobs streaming at once")
	fs.Float64Var(&c.Rate, "rate", d.Rate, "chunks per second per job")
	fs.IntVar(&c.Clients, "clients", d.Clients, "subscriber connections, each following every job (or --follow of them)")
	fs.IntVar(&c.Follow, "follow", 0, "jobs each client follows, the clients spread evenly over the jobs (0: every job)")
	fs.IntVar(&c.ChunkBytes, "chunk-bytes", d.ChunkBytes, "length of each chunk's text")
	fs.IntVar(&c.JobChunks, "job-chunks", 0, "end each job after this many chunks and start the next in its place, its clients following it; each ended job is verified at once (0: every job streams the whole run)")
	fs.StringVar(&out, "out", "", "folder for logs, report.json, timeline.svg and resources.svg (default: chaos-<time>)")
	var soak time.Duration
	fs.DurationVar(&soak, "soak", 0, "a long run: --duration this, a fault every 30 s unless --every is given; the report stays bounded (samples, examples)")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if err := envOverlay(fs); err != nil {
		return err
	}
	c.Faults = strings.Split(faults, ",")
	if soak > 0 {
		c.Duration = soak
		every := false
		fs.Visit(func(f *flag.Flag) { every = every || f.Name == "every" })
		if !every {
			c.Every = 30 * time.Second
		}
	}
	if out == "" {
		out = "chaos-" + time.Now().Format("20060102-150405")
	}
	if err := os.MkdirAll(out, 0o755); err != nil {
		return err
	}
	abs, _ := filepath.Abs(out)
	c.Dir, c.Progress = abs, stdout
	exe, err := os.Executable()
	if err != nil {
		return fmt.Errorf("chaos: find this binary: %w", err)
	}
	c.Bin = exe
	ctx, stop := signal.NotifyContext(ctx, syscall.SIGTERM, os.Interrupt)
	defer stop()
	fmt.Fprintf(stdout, "chaos: %d nodes, faults %s every ~%s for %s, seed %d, %d jobs × %g chunks/s, %d clients; output in %s\n",
		c.Nodes, faults, c.Every, c.Duration, c.Seed, c.Jobs, c.Rate, c.Clients, abs)
	rep, err := chaos.Run(ctx, c)
	if err != nil {
		return err
	}
	rep.Print(stdout)
	if err := rep.Write(abs); err != nil {
		return fmt.Errorf("chaos: write the report: %w", err)
	}
	fmt.Fprintf(stdout, "report: %s, %s\n", filepath.Join(abs, "report.json"), filepath.Join(abs, "timeline.svg"))
	if rep.Failed() {
		return errViolations
	}
	return nil
}
