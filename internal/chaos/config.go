package chaos

import (
	"fmt"
	"io"
	"strings"
	"time"

	"github.com/actorhub/actorhub/internal/procsig"
)

// Fault kinds.
const (
	FaultKill         = "kill"          // SIGKILL a node; it restarts after a pause
	FaultStop         = "stop"          // SIGSTOP a node past failure detection, then SIGCONT
	FaultTerm         = "term"          // SIGTERM (drain, exit 0 expected), then start it again
	FaultRestart      = "restart"       // SIGKILL and start again at once
	FaultRedisRestart = "redis-restart" // SIGKILL redis-server, start it again (AOF keeps what it acked)
	// FaultRedisFailover runs the store as a primary, a replica and a
	// sentinel (redis+sentinel://): SIGKILL the primary, the sentinel
	// promotes a replica, the old primary comes back as a replica.
	FaultRedisFailover = "redis-failover"
	// FaultPartition cuts a node's cluster traffic from the others (both
	// ways) for 6 s with nftables; it keeps its clients and Redis.
	FaultPartition = "partition"
	// FaultAsymmetric is a partition one way: the node reaches the others,
	// they do not reach it.
	FaultAsymmetric = "asymmetric"
	// FaultIsolateStore cuts one node from Redis (nftables, its store
	// connections come from its own address) for 6 s; gossip stays.
	FaultIsolateStore = "isolate-store"
	// FaultSlowNet makes all traffic between the nodes slow and lossy for 8 s
	// (tc on lo; slownet.go).
	FaultSlowNet = "slow-net"
)

// AllFaults lists every kind.
// (redis-failover changes the store's topology, and the network faults need
// root, nftables and tc, so those are asked for by name).
var AllFaults = []string{FaultKill, FaultStop, FaultTerm, FaultRestart, FaultRedisRestart}

// KnownFaults lists every kind, redis-failover included.
var KnownFaults = append(append([]string(nil), AllFaults...), FaultRedisFailover, FaultPartition, FaultAsymmetric,
	FaultIsolateStore, FaultSlowNet)

// Config describes one chaos run.
type Config struct {
	// Bin is the actorhub binary the nodes run.
	Bin string
	// Nodes is the cluster size.
	Nodes int
	// Store is a shared store URL to use instead of a private redis-server
	// (then redis-restart faults are skipped).
	Store string
	// Faults are the kinds to inject, in a seeded random order.
	Faults []string
	// Every is the mean time between faults (±25 %, seeded); Duration the
	// length of the streaming phase.
	Every, Duration time.Duration
	// Seed makes the schedule (kinds, targets, jitter) reproducible.
	Seed int64
	// Jobs streaming at once, Rate chunks/s per job, Clients subscriber
	// connections (spread over the nodes), each following Follow of the jobs
	// (0: every job).
	Jobs    int
	Rate    float64
	Clients int
	Follow  int
	// ChunkBytes is the length of each chunk's text (at least its number).
	ChunkBytes int
	// JobChunks ends each job after this many chunks and starts the next in
	// its place, its clients following it (0: every job streams the whole
	// run). An ended job is verified as soon as its stream is over and then
	// forgotten; the nodes keep it RetentionAfterEnd (jobs.go).
	JobChunks int
	// NoWait runs the nodes of a redis-failover run without
	// --store-wait-replicas: an event is acknowledged once the primary has it,
	// and what a failover loses shows as violations of invariant 2.
	NoWait bool
	// Dir receives the nodes' logs, report.json and timeline.svg.
	Dir string
	// Progress receives one line per fault and the summary.
	Progress io.Writer
}

// DefaultConfig is a one-minute run of every fault kind on 3 nodes.
func DefaultConfig() Config {
	return Config{Nodes: 3, Faults: AllFaults, Every: 5 * time.Second, Duration: 60 * time.Second, Seed: 1,
		Jobs: 12, Rate: 20, Clients: 6, ChunkBytes: 16}
}

func (c Config) withDefaults() (Config, error) {
	d := DefaultConfig()
	if c.Nodes <= 0 {
		c.Nodes = d.Nodes
	}
	if len(c.Faults) == 0 {
		c.Faults = d.Faults
	}
	if c.Every <= 0 {
		c.Every = d.Every
	}
	if c.Duration <= 0 {
		c.Duration = d.Duration
	}
	if c.Jobs <= 0 {
		c.Jobs = d.Jobs
	}
	if c.Rate <= 0 {
		c.Rate = d.Rate
	}
	if c.Clients <= 0 {
		c.Clients = d.Clients
	}
	if c.ChunkBytes <= 0 {
		c.ChunkBytes = d.ChunkBytes
	}
	if c.Progress == nil {
		c.Progress = io.Discard
	}
	for _, f := range c.Faults {
		switch f {
		case FaultKill, FaultTerm, FaultRestart, FaultRedisRestart, FaultPartition, FaultAsymmetric, FaultSlowNet:
		case FaultStop:
			if !procsig.Pauses() {
				return c, fmt.Errorf("chaos: stop pauses a node with SIGSTOP, which this system has not; drop it from --faults")
			}
		case FaultIsolateStore:
			if c.Store != "" {
				return c, fmt.Errorf("chaos: isolate-store cuts a node from the harness's own Redis; drop --store")
			}
		case FaultRedisFailover:
			if c.Store != "" {
				return c, fmt.Errorf("chaos: redis-failover needs the harness's own Redis (a primary, replicas and a sentinel); drop --store")
			}
		default:
			return c, fmt.Errorf("chaos: unknown fault %q; use %s", f, strings.Join(KnownFaults, ","))
		}
	}
	if c.Bin == "" || c.Dir == "" {
		return c, fmt.Errorf("chaos: Bin and Dir are required")
	}
	if c.JobChunks < 0 {
		return c, fmt.Errorf("chaos: --job-chunks %d: want 0 (jobs stream the whole run) or more", c.JobChunks)
	}
	if c.Nodes < 2 {
		return c, fmt.Errorf("chaos: --nodes %d: faults need at least 2 nodes", c.Nodes)
	}
	return c, nil
}
