package main

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"strings"
	"syscall"
	"time"

	"github.com/actorhub/actorhub/internal/bench"
)

// runBench is `actorhub bench`: start a node (this binary) or drive a running
// one with C subscribers on J jobs and simulated workers, print a progress line
// per second, then the result as a table row (and JSON with --json).
func runBench(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	d := bench.DefaultConfig()
	c := d
	fs := flag.NewFlagSet("bench", flag.ContinueOnError)
	fs.SetOutput(stderr)
	var delivered float64
	var jsonOut string
	var nodeLog bool
	fs.StringVar(&c.Target, "target", "", "drive a running node (http://host:port) instead of starting one (no CPU/RSS then)")
	fs.StringVar(&c.Store, "store", "", "the started nodes' --store (default: a bolt file in a temp folder; redis://… for --nodes > 1)")
	fs.IntVar(&c.Nodes, "nodes", 1, "start this many nodes as one cluster (needs a redis store); subscriber i connects to node i mod N")
	fs.IntVar(&c.Conns, "conns", d.Conns, "subscriber connections (C); subscriber i follows job i mod J")
	fs.IntVar(&c.Jobs, "jobs", d.Jobs, "jobs (J)")
	fs.Float64Var(&c.Rate, "rate", d.Rate, "events/s the workers emit over all jobs (R)")
	fs.Float64Var(&delivered, "delivered", 0, "instead of --rate: the msgs/s all subscribers receive together (R = delivered × J / C)")
	fs.DurationVar(&c.Duration, "duration", d.Duration, "how long the workers emit")
	fs.DurationVar(&c.Warmup, "warmup", d.Warmup, "start of the stream left out of the statistics")
	fs.IntVar(&c.ChunkBytes, "chunk-bytes", d.ChunkBytes, "chunk text length")
	fs.StringVar(&c.Transport, "worker", d.Transport, "worker transport: ws or http")
	fs.IntVar(&c.WorkerConns, "worker-conns", 0, "worker connections (ws) or POSTs in flight (http); 0 = default")
	fs.StringVar(&c.CreateOn, "create-on", "worker", "where the jobs are made, and so live: worker (through the node of the worker's lane for the job) or subscriber (POST /api/jobs through the node of the job's first subscriber, as an app that makes a user's job where the user is)")
	fs.StringVar(&jsonOut, "json", "", "also write the report as JSON to this file (- for stdout)")
	fs.StringVar(&c.Pprof, "pprof", "", "started node i serves net/http/pprof on this host:port + i (keep it on loopback)")
	fs.Func("node-env", "KEY=VALUE added to the started nodes' environment (repeatable; ACTORHUB_<FLAG> sets a node flag)", func(v string) error {
		if k, _, ok := strings.Cut(v, "="); !ok || k == "" {
			return fmt.Errorf("want KEY=VALUE, got %q", v)
		}
		c.NodeEnv = append(c.NodeEnv, v)
		return nil
	})
	fs.BoolVar(&nodeLog, "node-log", false, "pass the started node's log through to stderr")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if err := envOverlay(fs); err != nil {
		return err
	}
	if delivered > 0 {
		c.Rate = bench.RateForDelivered(delivered, c.Conns, c.Jobs)
	}
	if c.Target == "" {
		exe, err := os.Executable()
		if err != nil {
			return fmt.Errorf("bench: find this binary to start a node: %w", err)
		}
		c.Bin = exe
	}
	if nodeLog {
		c.NodeStderr = stderr
	}
	ctx, stop := signal.NotifyContext(ctx, syscall.SIGTERM, os.Interrupt)
	defer stop()
	fmt.Fprintf(stderr, "bench: C=%d J=%d R=%.0f events/s (%.0f msgs/s delivered) for %s, worker %s, %d node(s)\n",
		c.Conns, c.Jobs, c.Rate, c.Rate*float64(c.Conns)/float64(c.Jobs), c.Duration, c.Transport, max(1, c.Nodes))
	start := time.Now()
	rep, err := bench.Run(ctx, c, stderr)
	if err != nil {
		return err
	}
	fmt.Fprintf(stderr, "bench: done in %s\n", time.Since(start).Round(time.Second))
	fmt.Fprint(stdout, rep.Markdown())
	fmt.Fprintln(stdout, rep.String())
	if jsonOut != "" {
		b, _ := json.MarshalIndent(rep, "", "  ")
		if jsonOut == "-" {
			fmt.Fprintln(stdout, string(b))
		} else if err := os.WriteFile(jsonOut, append(b, '\n'), 0o644); err != nil {
			return fmt.Errorf("bench: write %s: %w", jsonOut, err)
		}
	}
	return nil
}
