package bench

import (
	"fmt"
	"io"
	"strings"
	"time"

	"github.com/actorhub/actorhub/client"
)

// Config describes one run. Zero fields take DefaultConfig's values.
type Config struct {
	// Bin is the actorhub binary; Run starts it as `Bin serve` on free
	// loopback ports, with node id bench1. Needed unless Target is set.
	Bin string
	// Target is http://host:port of a running node to drive instead of
	// starting one; the node's CPU and RSS are then not measured.
	Target string
	// Store is the child nodes' --store. Default: a bolt file in a temporary
	// folder that Run removes (one node only).
	Store string
	// Nodes is the number of child nodes Run starts as one cluster (default
	// 1); they need a shared store (Store redis://…). Subscriber i connects to
	// node i mod Nodes, and the worker has a lane on every node.
	Nodes int
	// Conns is the number of subscribers, one WebSocket each; subscriber i
	// follows job i mod Jobs.
	Conns int
	// Jobs is the number of jobs, created before the subscribers connect.
	Jobs int
	// Rate is the total events/s the worker emits, spread evenly over the
	// jobs; the subscribers receive Rate × Conns / Jobs msgs/s in all (see
	// RateForDelivered).
	Rate float64
	// Duration is how long the worker emits.
	Duration time.Duration
	// Warmup is the start of the stream left out of latency and throughput.
	Warmup time.Duration
	// ChunkBytes is the length of each chunk's text.
	ChunkBytes int
	// WorkerConns is the number of worker lanes: WebSockets (ws; default one per node),
	// or POSTs in flight (http; default one per job, at most 256, as the
	// baseline's HTTP worker has one sender per job).
	WorkerConns int
	// Transport is the worker's: client.TransportWS or client.TransportHTTP.
	Transport string
	// CreateOn is where the jobs are made, which is where they live:
	// "worker" (default), by the Worker, through the node of the lane each
	// job's id hashes to; or "subscriber", by a plain POST /api/jobs through
	// the node of the job's first subscriber (subscriber j, on node j mod
	// Nodes), as an application that makes a user's job where the user is
	// connected: the worker's lanes then start on other nodes for most jobs.
	CreateOn string
	// DialConcurrency bounds the subscribers connecting at the same time.
	DialConcurrency int
	// Grace is how long Run waits, after the last emit is acked, for the
	// subscribers to receive what is still on its way.
	Grace time.Duration
	// Settle is the pause after the subscribers connected before the RSS is read.
	Settle time.Duration
	// NodeEnv is added to the child node's environment (KEY=VALUE); the
	// caller's ACTORHUB_* variables are removed from it, as actorhub reads
	// them as flags.
	NodeEnv []string
	// NodeStderr, when set, receives the child node's stdout and stderr.
	NodeStderr io.Writer
	// Pprof, when set (host:port), makes node i serve net/http/pprof on
	// port+i, so that a profile can be taken of every node of the run.
	Pprof string
}

// DefaultConfig is the C1000-N1 configuration of the Socket.IO baseline:
// 1000 subscribers over 100 jobs, 10 chunks/s per job, 10,000 msg/s delivered.
func DefaultConfig() Config {
	return Config{Conns: 1000, Jobs: 100, Rate: 1000, Duration: 20 * time.Second, Warmup: 2 * time.Second,
		ChunkBytes: 32, Transport: client.TransportWS, DialConcurrency: 64,
		Grace: 5 * time.Second, Settle: 2 * time.Second}
}

// withDefaults fills zero fields and rejects contradictions.
func (c Config) withDefaults() (Config, error) {
	d := DefaultConfig()
	if c.Conns <= 0 {
		c.Conns = d.Conns
	}
	if c.Jobs <= 0 {
		c.Jobs = d.Jobs
	}
	if c.Rate <= 0 {
		c.Rate = d.Rate
	}
	if c.Duration <= 0 {
		c.Duration = d.Duration
	}
	if c.Warmup <= 0 {
		c.Warmup = d.Warmup
	}
	if c.ChunkBytes <= 0 {
		c.ChunkBytes = d.ChunkBytes
	}
	if c.Transport == "" {
		c.Transport = d.Transport
	}
	switch c.CreateOn {
	case "":
		c.CreateOn = "worker"
	case "worker", "subscriber":
	default:
		return c, fmt.Errorf("bench: CreateOn %q: use worker or subscriber", c.CreateOn)
	}
	if c.Nodes <= 0 {
		c.Nodes = 1
	}
	if c.WorkerConns <= 0 {
		c.WorkerConns = c.Nodes
		if c.Transport == client.TransportHTTP {
			c.WorkerConns = min(c.Jobs, 256)
		}
	}
	if c.DialConcurrency <= 0 {
		c.DialConcurrency = d.DialConcurrency
	}
	if c.Grace <= 0 {
		c.Grace = d.Grace
	}
	if c.Settle <= 0 {
		c.Settle = d.Settle
	}
	switch {
	case c.Bin == "" && c.Target == "":
		return c, fmt.Errorf("bench: give the actorhub binary (Bin) or a running node's address (Target)")
	case c.Bin != "" && c.Target != "":
		return c, fmt.Errorf("bench: Bin and Target both set; give one")
	case c.Target != "" && !strings.HasPrefix(c.Target, "http://") && !strings.HasPrefix(c.Target, "https://"):
		return c, fmt.Errorf("bench: Target %q: use http://host:port", c.Target)
	case c.Nodes > 1 && c.Target != "":
		return c, fmt.Errorf("bench: Nodes %d with Target: a running cluster is driven through one node; drop Nodes", c.Nodes)
	case c.Nodes > 1 && !strings.HasPrefix(c.Store, "redis://") && !strings.HasPrefix(c.Store, "rediss://"):
		return c, fmt.Errorf("bench: Nodes %d need a shared store: give Store redis://host:port/db (a bolt file is one node's)", c.Nodes)
	case c.Transport != client.TransportWS && c.Transport != client.TransportHTTP:
		return c, fmt.Errorf("bench: Transport %q: use ws or http", c.Transport)
	case c.Warmup >= c.Duration:
		return c, fmt.Errorf("bench: Warmup %v leaves no steady window in Duration %v", c.Warmup, c.Duration)
	case c.ChunkBytes > 16<<10:
		return c, fmt.Errorf("bench: ChunkBytes %d: at most 16384", c.ChunkBytes)
	}
	return c, nil
}
