package persistence

import (
	"fmt"
	"log/slog"
	"net"
	"time"
)

// Config tunes both stores; each store reads the fields that concern it.
type Config struct {
	// Retention is how long a job stays in the store after its terminal event
	// (completed, failed, cancelled). Default 24h.
	Retention time.Duration

	// Logger receives what background work cannot return to a caller (failed
	// retention sweeps). Nil means silent.
	Logger *slog.Logger

	// DialTimeout bounds connecting to Redis. Default 1s.
	DialTimeout time.Duration
	// ReadTimeout bounds waiting for a Redis reply, so that a hung server makes
	// calls fail instead of blocking. Default 1s.
	ReadTimeout time.Duration
	// WriteTimeout bounds sending a command to Redis. Default 1s.
	WriteTimeout time.Duration
	// MaxRetries is how often go-redis retries a command that failed for a
	// transient reason before the error reaches the caller (who retries
	// itself). Default 1; -1 disables retries.
	MaxRetries int
	// PoolSize is the number of Redis connections per node. Default: go-redis's
	// (10 per GOMAXPROCS).
	PoolSize int
	// Writers is the number of group-commit pipelines to Redis that may be in
	// flight at once. Default 4.
	Writers int
	// CommitDelay is how long a Redis group commit may wait for more appends
	// once appends arrive faster than one per CommitDelay (when they are
	// rarer, each is sent at once). Waiting trades latency for fewer round
	// trips: with steady arrivals at 10,000 appends/s, 1ms cut the Redis
	// server's CPU by a third and the node's CPU per event by an eighth, and
	// added ~2.5ms to the median latency (docs/BENCHMARKS.md). Where appends
	// come in bursts the batches fill without waiting. Default 0: never wait.
	CommitDelay time.Duration
	// MaxBatch is the most appends one group commit carries (a Redis pipeline,
	// a bolt transaction). Default 256.
	MaxBatch int
	// QueueSize bounds the appends waiting for a writer (both stores); Append
	// blocks (until its ctx ends) while the queue is full, AppendAsync refuses.
	// Default 4096.
	QueueSize int

	// WaitReplicas, when above 0, makes every Redis group commit wait until
	// that many replicas have its writes (WAIT, in the same pipeline) before
	// any of its appends is acknowledged; with WaitAOF also until the primary
	// has fsynced them to its append-only file and the replicas to theirs
	// (WAITAOF 1 WaitReplicas). A commit they do not confirm within
	// WaitTimeout fails as unavailable: the worker resends and the offsets make
	// the resend harmless. Single-server Redis only (not Redis Cluster).
	WaitReplicas int
	WaitAOF      bool
	// WaitTimeout bounds that wait. Default 500ms.
	WaitTimeout time.Duration
	// TLSCert, TLSKey and TLSCA are PEM files for rediss://: a client
	// certificate and its key (for a server with tls-auth-clients), and the CA
	// that signs the server's certificate (default: the system's roots).
	TLSCert, TLSKey, TLSCA string
	// SourceAddr, when set, is the local IP address the Redis connections are
	// dialled from (a host with several addresses whose store is reached
	// through one of them; the chaos harness cuts one node from its store by
	// its address).
	SourceAddr string

	// SweepInterval is how often the embedded store deletes jobs whose
	// retention passed. Default 1m.
	SweepInterval time.Duration
	// BatchDelay is how long the embedded store waits to gather concurrent
	// writes other than appends (create, acquire, release) into one
	// transaction (one fsync). Default 2ms.
	BatchDelay time.Duration
	// LockTimeout is how long opening the embedded store waits for the lock on
	// its file before reporting that another process holds it. Default 1s.
	LockTimeout time.Duration
}

// DefaultConfig returns the configuration for production use.
func DefaultConfig() Config {
	return Config{
		Retention:     24 * time.Hour,
		WaitTimeout:   500 * time.Millisecond,
		DialTimeout:   time.Second,
		ReadTimeout:   time.Second,
		WriteTimeout:  time.Second,
		MaxRetries:    1,
		Writers:       4,
		MaxBatch:      256,
		QueueSize:     4096,
		SweepInterval: time.Minute,
		BatchDelay:    2 * time.Millisecond,
		LockTimeout:   time.Second,
	}
}

// DefaultLocalConfig returns fast timings for tests on one machine: short
// timeouts, a one-second retention and a 50ms sweep.
func DefaultLocalConfig() Config {
	c := DefaultConfig()
	c.Retention = time.Second
	c.DialTimeout = 500 * time.Millisecond
	c.ReadTimeout = 500 * time.Millisecond
	c.WriteTimeout = 500 * time.Millisecond
	c.SweepInterval = 50 * time.Millisecond
	c.BatchDelay = time.Millisecond
	c.LockTimeout = 200 * time.Millisecond
	return c
}

// withDefaults fills zero fields from DefaultConfig and rejects negative ones.
func (c Config) withDefaults() (Config, error) {
	d := DefaultConfig()
	durs := []struct {
		name string
		v    *time.Duration
		def  time.Duration
	}{
		{"Retention", &c.Retention, d.Retention},
		{"DialTimeout", &c.DialTimeout, d.DialTimeout},
		{"ReadTimeout", &c.ReadTimeout, d.ReadTimeout},
		{"WriteTimeout", &c.WriteTimeout, d.WriteTimeout},
		{"SweepInterval", &c.SweepInterval, d.SweepInterval},
		{"BatchDelay", &c.BatchDelay, d.BatchDelay},
		{"LockTimeout", &c.LockTimeout, d.LockTimeout},
		{"WaitTimeout", &c.WaitTimeout, d.WaitTimeout},
	}
	for _, f := range durs {
		if *f.v < 0 {
			return c, fmt.Errorf("persistence config: %s is %v; it must be positive (0 means the default %v)", f.name, *f.v, f.def)
		}
		if *f.v == 0 {
			*f.v = f.def
		}
	}
	ints := []struct {
		name string
		v    *int
		def  int
	}{
		{"PoolSize", &c.PoolSize, d.PoolSize},
		{"Writers", &c.Writers, d.Writers},
		{"MaxBatch", &c.MaxBatch, d.MaxBatch},
		{"QueueSize", &c.QueueSize, d.QueueSize},
	}
	for _, f := range ints {
		if *f.v < 0 {
			return c, fmt.Errorf("persistence config: %s is %d; it must be positive (0 means the default)", f.name, *f.v)
		}
		if *f.v == 0 {
			*f.v = f.def
		}
	}
	if c.MaxRetries < -1 {
		return c, fmt.Errorf("persistence config: MaxRetries is %d; use -1 (no retries), 0 (default %d) or more", c.MaxRetries, d.MaxRetries)
	}
	if c.MaxRetries == 0 {
		c.MaxRetries = d.MaxRetries
	}
	if c.Logger == nil {
		c.Logger = slog.New(slog.DiscardHandler)
	}
	if c.WaitReplicas < 0 {
		return c, fmt.Errorf("persistence config: WaitReplicas is %d; it must be 0 (no wait) or more", c.WaitReplicas)
	}
	if c.SourceAddr != "" && net.ParseIP(c.SourceAddr) == nil {
		return c, fmt.Errorf("persistence config: SourceAddr %q is not an IP address", c.SourceAddr)
	}
	if c.WaitReplicas > 0 || c.WaitAOF {
		// the reply to WAIT comes after up to WaitTimeout: reading it must not time out first
		c.ReadTimeout = max(c.ReadTimeout, c.WaitTimeout+time.Second)
	}
	return c, nil
}
