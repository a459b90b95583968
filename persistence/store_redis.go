package persistence

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"net"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/actorhub/actorhub/events"
	"github.com/actorhub/actorhub/internal/pemfile"
	"github.com/actorhub/actorhub/internal/rawio"
)

// Redis is the store on Redis (one server or a cluster). Appends of all jobs
// go through a few writer goroutines that send whatever is queued as one
// pipeline (group commit); every other call is one script on the caller's
// goroutine. Safe for concurrent use.
type Redis struct {
	cfg         Config
	client      redis.UniversalClient
	name        string // the URL without password
	addr        string // host:port, or the seed list of a cluster
	retentionMs int64
	tails       tails // of the jobs this store writes: what their next snapshot needs

	queue   chan *appendReq
	closing chan struct{} // closed first by Close: wakes blocked Appends
	mu      sync.RWMutex  // held shared while sending to queue, exclusively to close it
	closed  bool
	wg      sync.WaitGroup

	gather     sync.Mutex    // held by the writer that gathers the next batch
	lastGather time.Time     // under gather: when the last batch began
	rate       atomic.Uint64 // math.Float64bits of the appends per second, smoothed; written under gather
	once       sync.Once
	closeEr    error
}

// OpenRedis connects to the Redis server or cluster of rawURL (see Open),
// checks that it answers and starts the store's writers.
func OpenRedis(ctx context.Context, rawURL string, cfg Config) (*Redis, error) {
	cfg, err := cfg.withDefaults()
	if err != nil {
		return nil, err
	}
	client, addr, err := newRedisClient(rawURL, cfg)
	if err != nil {
		return nil, fmt.Errorf("open store %q: %w", redact(rawURL), err)
	}
	r := &Redis{
		cfg: cfg, client: client, name: redact(rawURL), addr: addr,
		retentionMs: max(1, cfg.Retention.Milliseconds()),
		queue:       make(chan *appendReq, cfg.QueueSize),
		closing:     make(chan struct{}),
	}
	if err := r.Ping(ctx); err != nil {
		_ = client.Close()
		return nil, fmt.Errorf("open store %s: %w", r.name, err)
	}
	if cfg.WaitAOF { // WAITAOF needs Redis ≥ 7.2, and an AOF on the primary
		if err := client.Do(ctx, "WAITAOF", 1, 0, 0).Err(); err != nil {
			_ = client.Close()
			return nil, fmt.Errorf("open store %s: --store-wait-aof: WAITAOF 1 0 0 answered %v (it needs Redis ≥ 7.2 with appendonly yes)", r.name, err)
		}
	}
	r.wg.Add(cfg.Writers)
	for range cfg.Writers {
		go r.writer()
	}
	return r, nil
}

// newRedisClient builds a cluster client when the URL has addr= parameters and
// a single-server client otherwise. Settings of the URL win over cfg.
func newRedisClient(rawURL string, cfg Config) (redis.UniversalClient, string, error) {
	u, err := url.Parse(rawURL)
	if err != nil {
		return nil, "", fmt.Errorf("%w: %v", ErrBadURL, redactErr(err, rawURL))
	}
	base, sentinel := strings.CutSuffix(strings.ToLower(u.Scheme), "+sentinel")
	tlsConf, err := redisTLS(base, cfg)
	if err != nil {
		return nil, "", err
	}
	if sentinel {
		return newFailoverClient(u, base, tlsConf, cfg, rawURL)
	}
	if u.Query().Has("addr") {
		if cfg.WaitReplicas > 0 || cfg.WaitAOF {
			return nil, "", fmt.Errorf("%w: waiting for replicas (WAIT) is for a single Redis server with replicas, not Redis Cluster", ErrBadURL)
		}
		if p := strings.Trim(u.Path, "/"); p != "" && p != "0" {
			return nil, "", fmt.Errorf("%w: Redis Cluster has only database 0, the URL names %q", ErrBadURL, p)
		}
		u.Path = ""
		o, err := redis.ParseClusterURL(u.String())
		if err != nil {
			return nil, "", fmt.Errorf("%w: %v", ErrBadURL, redactErr(err, rawURL))
		}
		clientSettings{&o.DialTimeout, &o.ReadTimeout, &o.WriteTimeout, &o.MaxRetries, &o.PoolSize, &o.DialerRetries,
			&o.ContextTimeoutEnabled, &o.PipelinePoolSize, &o.Dialer, &o.TLSConfig}.apply(cfg)
		if tlsConf != nil {
			o.TLSConfig = tlsConf
		}
		return redis.NewClusterClient(o), strings.Join(o.Addrs, ","), nil
	}
	o, err := redis.ParseURL(rawURL)
	if err != nil {
		return nil, "", fmt.Errorf("%w: %v", ErrBadURL, redactErr(err, rawURL))
	}
	clientSettings{&o.DialTimeout, &o.ReadTimeout, &o.WriteTimeout, &o.MaxRetries, &o.PoolSize, &o.DialerRetries,
		&o.ContextTimeoutEnabled, &o.PipelinePoolSize, &o.Dialer, &o.TLSConfig}.apply(cfg)
	if tlsConf != nil {
		// ParseURL set these from the host and the URL's skip_verify
		tlsConf.ServerName, tlsConf.InsecureSkipVerify = o.TLSConfig.ServerName, o.TLSConfig.InsecureSkipVerify
		o.TLSConfig = tlsConf
	}
	return redis.NewClient(o), o.Addr, nil
}

// newFailoverClient builds the client of a redis+sentinel:// URL (see Open):
// go-redis's failover client asks the sentinels for the master's address,
// and again after a failover.
func newFailoverClient(u *url.URL, base string, tlsConf *tls.Config, cfg Config, rawURL string) (redis.UniversalClient, string, error) {
	if !u.Query().Has("master_name") {
		return nil, "", fmt.Errorf("%w: a redis+sentinel:// URL names the master: add ?master_name=NAME", ErrBadURL)
	}
	v := *u
	v.Scheme = base
	o, err := redis.ParseFailoverURL(v.String())
	if err != nil {
		return nil, "", fmt.Errorf("%w: %v", ErrBadURL, redactErr(err, rawURL))
	}
	clientSettings{&o.DialTimeout, &o.ReadTimeout, &o.WriteTimeout, &o.MaxRetries, &o.PoolSize, &o.DialerRetries,
		&o.ContextTimeoutEnabled, &o.PipelinePoolSize, &o.Dialer, &o.TLSConfig}.apply(cfg)
	if tlsConf != nil {
		if o.TLSConfig != nil {
			tlsConf.ServerName, tlsConf.InsecureSkipVerify = o.TLSConfig.ServerName, o.TLSConfig.InsecureSkipVerify
		}
		o.TLSConfig = tlsConf
	}
	return redis.NewFailoverClient(o), "sentinel " + o.MasterName + "@" + strings.Join(o.SentinelAddrs, ","), nil
}

// redisTLS loads cfg's TLS files for a rediss:// URL (nil when none is set).
func redisTLS(scheme string, cfg Config) (*tls.Config, error) {
	if cfg.TLSCert == "" && cfg.TLSKey == "" && cfg.TLSCA == "" {
		return nil, nil
	}
	if scheme != "rediss" {
		return nil, fmt.Errorf("%w: TLS files are for a rediss:// URL", ErrBadURL)
	}
	c := &tls.Config{MinVersion: tls.VersionTLS12}
	if cfg.TLSCert != "" || cfg.TLSKey != "" {
		pair, err := tls.LoadX509KeyPair(cfg.TLSCert, cfg.TLSKey)
		if err != nil {
			return nil, fmt.Errorf("store TLS: the Redis client certificate %s / key %s: %w", cfg.TLSCert, cfg.TLSKey, err)
		}
		c.Certificates = []tls.Certificate{pair}
	}
	if cfg.TLSCA != "" {
		var err error
		if c.RootCAs, err = pemfile.CertPool(cfg.TLSCA); err != nil {
			return nil, fmt.Errorf("store TLS: the Redis CA: %w", err)
		}
	}
	return c, nil
}

// noPipelinePool: pipelines share the connection pool of single commands.
// go-redis's dedicated pipeline pool dials a connection of its own after a
// failure, which doubled the time a group commit took to fail against a hung
// server (4s instead of 2s with ReadTimeout 1s and MaxRetries 1, measured).
const noPipelinePool = -1

// clientSettings points at the fields that go-redis's options of one
// server, a cluster and a failover client share; apply sets them from cfg
// where the URL left them unset, and the ones this store always wants.
type clientSettings struct {
	dialTimeout, readTimeout, writeTimeout *time.Duration
	maxRetries, poolSize, dialerRetries    *int
	contextTimeout                         *bool
	pipelinePoolSize                       *int
	dialer                                 *func(ctx context.Context, network, addr string) (net.Conn, error)
	tlsConfig                              **tls.Config // read at each dial: the caller sets it after apply
}

func (c clientSettings) apply(cfg Config) {
	setDur(c.dialTimeout, cfg.DialTimeout)
	setDur(c.readTimeout, cfg.ReadTimeout)
	setDur(c.writeTimeout, cfg.WriteTimeout)
	setInt(c.maxRetries, cfg.MaxRetries)
	setInt(c.poolSize, cfg.PoolSize)
	setInt(c.dialerRetries, 1)
	*c.contextTimeout = true
	*c.pipelinePoolSize = noPipelinePool
	*c.dialer = storeDialer(cfg.SourceAddr, *c.dialTimeout, c.tlsConfig)
}

// storeDialer dials the store as go-redis's own dialer does (its TCP
// keep-alive, TLS when *tlsConf is set), from the local address src when it is
// set, and makes a TCP connection's reads and writes raw system calls
// (redisConn).
func storeDialer(src string, timeout time.Duration, tlsConf **tls.Config) func(context.Context, string, string) (net.Conn, error) {
	d := &net.Dialer{Timeout: timeout, KeepAliveConfig: net.KeepAliveConfig{Enable: true, Idle: 30 * time.Second,
		Interval: 5 * time.Second, Count: 3}}
	if src != "" {
		d.LocalAddr = &net.TCPAddr{IP: net.ParseIP(src)}
	}
	return func(ctx context.Context, network, addr string) (net.Conn, error) {
		c, err := d.DialContext(ctx, network, addr)
		if err != nil {
			return nil, err
		}
		if raw, ok := rawio.Wrap(c).(*rawio.Conn); ok {
			c = &redisConn{Conn: raw}
		}
		if *tlsConf == nil {
			return c, nil
		}
		conf := (*tlsConf).Clone()
		if conf.ServerName == "" {
			conf.ServerName, _, _ = net.SplitHostPort(addr)
		}
		return tls.Client(c, conf), nil
	}
}

// redisConn is a store connection whose reads and writes are raw system calls
// (internal/rawio), and so is the check go-redis makes of a pooled connection
// before each command when it finds nothing to read (rawio.PeekFirst).
// Otherwise that check, a recvfrom, would wake the Go scheduler's sysmon
// thread once per command on a node that had gone idle.
//
// A connection that read a reply less than freshRead ago skips the check: it
// is open as far as anything can tell that soon, and the check was a system
// call per group commit, one in six of a node's calls to Redis at one job per
// user on three nodes (docs/BENCHMARKS.md C22). Were the store to close it
// meanwhile, the command fails as one sent just before the close would, and
// go-redis drops the connection.
type redisConn struct {
	*rawio.Conn
	lastRead atomic.Int64 // time.Now().UnixNano() of the last read that returned data
}

// freshRead is how long after a reply a connection skips go-redis's check.
const freshRead = 100 * time.Millisecond

// Read implements io.Reader, noting when a reply came.
func (c *redisConn) Read(p []byte) (int, error) {
	n, err := c.Conn.Read(p)
	if n > 0 {
		c.lastRead.Store(time.Now().UnixNano())
	}
	return n, err
}

// SyscallConn implements syscall.Conn (go-redis's health check looks for it).
func (c *redisConn) SyscallConn() (syscall.RawConn, error) {
	rc, err := c.Conn.SyscallConn()
	if err != nil {
		return nil, err
	}
	if time.Now().UnixNano()-c.lastRead.Load() < int64(freshRead) {
		return justRead{rc}, nil
	}
	return rawio.PeekFirst(rc), nil
}

// justRead is the RawConn of a connection that read a reply within freshRead:
// its Read, go-redis's check, reports it healthy without calling f.
type justRead struct{ syscall.RawConn }

func (justRead) Read(func(fd uintptr) bool) error { return nil }

func setDur(v *time.Duration, def time.Duration) {
	if *v == 0 {
		*v = def
	}
}

func setInt(v *int, def int) {
	if *v == 0 {
		*v = def
	}
}

// redactErr keeps a parse error from repeating the URL's password.
func redactErr(err error, rawURL string) string {
	var uerr *url.Error
	if errors.As(err, &uerr) {
		return uerr.Op + " store URL: " + uerr.Err.Error() // without the URL itself
	}
	msg := err.Error()
	if u, perr := url.Parse(rawURL); perr == nil && u.User != nil {
		if p, ok := u.User.Password(); ok && p != "" {
			msg = strings.ReplaceAll(msg, p, "xxxxx")
		}
	}
	return msg
}

// String returns the store's URL without its password.
func (r *Redis) String() string { return r.name }

// jobKeys are the keys of one job, all in the hash slot of {job:<id>}: its
// state, its journal's base name and its output (redis_scripts.go).
func jobKeys(jobID string) []string {
	tag := "{job:" + jobID + "}"
	return []string{tag + ":state", tag + ":log", tag + ":out"}
}

// appendKeys are the keys of an append of a writer at epoch, boxed as a
// command's arguments: the job's state, the journal of that epoch and the
// output.
func appendKeys(jobID string, epoch uint64) []any {
	k := jobKeys(jobID)
	return []any{k[0], k[1] + ":" + strconv.FormatUint(epoch, 10), k[2]}
}

// Create implements actors.Store.
func (r *Redis) Create(ctx context.Context, st events.JobState, first events.Event, owner string) (events.JobState, bool, error) {
	action := "create job " + st.JobID
	if err := checkCreate(&st, &first); err != nil {
		return events.JobState{}, false, fmt.Errorf("%s: %w", action, err)
	}
	vals, err := r.runConfirmed(ctx, createScript, jobKeys(st.JobID), encodeSnapshot(st), first.Raw, owner)
	if err != nil {
		return events.JobState{}, false, r.fail(action, err)
	}
	rs, err := parseState(st.JobID, vals)
	if err != nil {
		return events.JobState{}, false, fmt.Errorf("%s: %w", action, err)
	}
	r.tails.set(st.JobID, rs.st.Epoch, rs.snapSeq, rs.st.LastSequence, rs.tailOut)
	return rs.st, replyCode(vals) == codeWritten, nil
}

// Acquire implements actors.Store.
func (r *Redis) Acquire(ctx context.Context, jobID, owner string) (events.JobState, error) {
	rs, err := r.readState(ctx, "acquire job "+jobID, acquireScript, jobID, owner)
	if err != nil {
		return events.JobState{}, err
	}
	r.tails.set(jobID, rs.st.Epoch, rs.snapSeq, rs.st.LastSequence, rs.tailOut)
	return rs.st, nil
}

// Snapshot implements actors.Store.
func (r *Redis) Snapshot(ctx context.Context, jobID string) (events.JobState, error) {
	rs, err := r.readState(ctx, "read snapshot of job "+jobID, snapshotScript, jobID)
	return rs.st, err
}

func (r *Redis) readState(ctx context.Context, action string, s *redis.Script, jobID string, args ...any) (readState, error) {
	vals, err := r.runConfirmed(ctx, s, jobKeys(jobID), args...)
	if err != nil {
		return readState{}, r.fail(action, err)
	}
	if replyCode(vals) == codeNotFound {
		return readState{}, fmt.Errorf("%s: %w", action, events.ErrJobNotFound)
	}
	rs, err := parseState(jobID, vals)
	if err != nil {
		return readState{}, fmt.Errorf("%s: %w", action, err)
	}
	return rs, nil
}

// Events implements actors.Store.
func (r *Redis) Events(ctx context.Context, jobID string, after int64, limit int) ([]events.Event, error) {
	action := "read events of job " + jobID
	after = max(after, 0)
	vals, err := r.runConfirmed(ctx, eventsScript, jobKeys(jobID), after, after+int64(eventsLimit(limit))-1)
	if err != nil {
		return nil, r.fail(action, err)
	}
	switch replyCode(vals) {
	case codeRead:
	case codeNotFound:
		return nil, fmt.Errorf("%s: %w", action, events.ErrJobNotFound)
	default:
		return nil, fmt.Errorf("%s: %w: unexpected reply %v", action, ErrCorrupt, vals)
	}
	evs := make([]events.Event, 0, len(vals)-1)
	for i, v := range vals[1:] {
		raw, ok := v.(string)
		if !ok {
			return nil, fmt.Errorf("%s: %w: journal entry of type %T", action, ErrCorrupt, v)
		}
		ev, _, _, err := decodeJournal(jobID, after+1+int64(i), []byte(raw))
		if err != nil {
			return nil, fmt.Errorf("%s: %w", action, err)
		}
		evs = append(evs, ev)
	}
	return evs, nil
}

// Append implements actors.Store: the write joins the next group commit.
func (r *Redis) Append(ctx context.Context, st events.JobState, outputDelta string, evs []events.Event) error {
	keys, args, fast, plan, err := r.appendArgs(&st, outputDelta, evs, nil)
	if err != nil {
		return err
	}
	vals, err := r.submit(ctx, keys, args, fast, st.Epoch, st.LastSequence)
	return r.appendResult(&st, evs, plan, vals, err)
}

// AppendAsync implements actors.AsyncAppender: the append joins the next
// group-commit pipeline and done runs on the writer goroutine with its
// outcome; no goroutine waits for it. A full queue refuses at once
// (events.ErrStoreUnavailable): the caller's backpressure keeps it from
// filling.
func (r *Redis) AppendAsync(st events.JobState, outputDelta string, evs []events.Event, done func(error)) {
	req := reqPool.Get().(*appendReq)
	keys, args, fast, plan, err := r.appendArgs(&st, outputDelta, evs, req)
	if err != nil {
		req.reset()
		reqPool.Put(req)
		done(err)
		return
	}
	req.keys, req.args, req.onDone, req.st, req.evs, req.plan = keys, args, done, st, evs, plan
	req.fast, req.epoch, req.want = fast, st.Epoch, st.LastSequence
	if err := r.enqueue(context.Background(), req, false); err != nil {
		err = fmt.Errorf("append job %s: %w", st.JobID, err)
		r.tails.settle(&st, plan, err)
		r.finishAsync(req, err)
	}
}

// appendArgs checks an append and builds its script's keys and arguments
// (appendScript): the journal entries, the last one with the offset after
// the append, and the snapshot when the job's tail says it is due. A plain
// append that continues the job's tail (see tails.plan) may go as an RPUSHX
// instead: fast is that command, nil for the others, and args is then nil
// until the RPUSHX cannot carry the append (scriptArgs). With req, the last
// entry and a one-event RPUSHX use req's buffers (appendReq.entry).
func (r *Redis) appendArgs(st *events.JobState, outputDelta string, evs []events.Event, req *appendReq) (keys, args, fast []any, plan appendPlan, err error) {
	if err := checkAppend(st, outputDelta, evs); err != nil {
		return nil, nil, nil, appendPlan{}, fmt.Errorf("append job %s: %w", st.JobID, err)
	}
	first, ttl := firstSeq(st, evs), int64(0)
	if st.Status.Terminal() {
		ttl = r.retentionMs
	}
	plan, snapOut, keys := r.tails.plan(st, outputDelta, first)
	if keys == nil {
		keys = appendKeys(st.JobID, st.Epoch)
	}
	if plan.tracked && !skipFencing && !plan.snapshot && len(evs) > 0 && ttl == 0 {
		// every append of the job at this epoch went through this store,
		// and each was answered (a failure drops the tail): the journal
		// ends where this one begins unless Redis lost writes, which the
		// RPUSHX's reply shows (flush). The chaosnofence build has no
		// fast path: its appends all go through its unfenced script.
		if req != nil && len(evs) == 1 {
			fast = req.fastBuf[:0]
		} else {
			fast = make([]any, 0, 2+len(evs))
		}
		fast = appendEntries(append(fast, "rpushx", keys[1]), st, evs, req)
		return keys[:2], nil, fast, plan, nil
	}
	args = make([]any, 0, 7+len(evs))
	args = appendEntries(append(args, st.Epoch, st.LastSequence, len(evs)), st, evs, req)
	switch {
	case plan.snapshot, len(evs) == 0:
		// a snapshot-only append this store cannot place on its tail is stored
		// only where the journal has nothing after the stored snapshot
		conditional := 0
		if !plan.snapshot {
			conditional, snapOut = 1, outputDelta
		}
		args = append(args, encodeSnapshot(*st), snapOut, ttl, conditional)
	case ttl > 0:
		args = append(args, ttl)
	default:
		keys = keys[:2] // a plain append touches only the state and the log
	}
	return keys, args, nil, plan, nil
}

// appendEntries appends the journal entries of evs to args: each event's wire
// object, the last one with the offset after the append (offsetEntry), made
// in req's buffer when req is not nil.
func appendEntries(args []any, st *events.JobState, evs []events.Event, req *appendReq) []any {
	for i := range evs {
		if i == len(evs)-1 {
			if req == nil {
				return append(args, offsetEntry(nil, st.NextOffset, evs[i].Raw))
			}
			req.entry = offsetEntry(req.entry[:0], st.NextOffset, evs[i].Raw)
			return append(args, req.entry)
		}
		args = append(args, evs[i].Raw)
	}
	return args
}

// scriptArgs are the append script's arguments of a plain append made for an
// RPUSHX (fast, whose entries they share): they are built only when the
// script must carry the append after all.
func scriptArgs(epoch uint64, last int64, fast []any) []any {
	entries := fast[2:]
	return append(append(make([]any, 0, 3+len(entries)), epoch, last, len(entries)), entries...)
}

// firstSeq is the seq an append starts at: its first event's, or the one after
// the snapshot's for a snapshot-only append.
func firstSeq(st *events.JobState, evs []events.Event) int64 {
	if len(evs) > 0 {
		return evs[0].Seq
	}
	return st.LastSequence + 1
}

// appendResult turns the append script's reply into Append's error and keeps
// the job's tail in step with it.
func (r *Redis) appendResult(st *events.JobState, evs []events.Event, plan appendPlan, vals []any, err error) error {
	err = r.appendError(st, evs, vals, err)
	r.tails.settle(st, plan, err)
	return err
}

func (r *Redis) appendError(st *events.JobState, evs []events.Event, vals []any, err error) error {
	if err == nil {
		if c := replyCode(vals); c == codeWritten || c == codeRetried {
			return nil
		}
	}
	action := "append job " + st.JobID
	if err != nil {
		return r.fail(action, err)
	}
	switch replyCode(vals) {
	case codeWritten, codeRetried:
		return nil
	case codeNotFound:
		return fmt.Errorf("%s: %w", action, events.ErrJobNotFound)
	case codeEpoch:
		return fmt.Errorf("%s: %w: the job is at epoch %s, this writer holds epoch %d", action, events.ErrFenced, replyString(vals, 1), st.Epoch)
	case codeSeq:
		return fmt.Errorf("%s: %w: the journal ends at seq %s, this append starts at %d (another writer got in)", action, events.ErrFenced, replyString(vals, 2), firstSeq(st, evs))
	case codeNoSnap:
		return fmt.Errorf("%s: %w: a snapshot-only append needs the job created or taken over by this store at epoch %d (its journal runs past the stored snapshot)", action, ErrInvalid, st.Epoch)
	default:
		return fmt.Errorf("%s: %w: unexpected reply %v", action, ErrCorrupt, vals)
	}
}

// Holder implements actors.Store.
func (r *Redis) Holder(ctx context.Context, jobID string) (string, uint64, error) {
	action := "read the holder of job " + jobID
	if r.isClosed() {
		return "", 0, fmt.Errorf("%s: %w", action, ErrClosed)
	}
	vals, err := r.client.HMGet(ctx, jobKeys(jobID)[0], "epoch", "owner").Result()
	if err != nil {
		return "", 0, r.fail(action, err)
	}
	if vals[0] == nil {
		return "", 0, fmt.Errorf("%s: %w", action, events.ErrJobNotFound)
	}
	e, _ := vals[0].(string)
	epoch, err := strconv.ParseUint(e, 10, 64)
	if err != nil || epoch == 0 {
		return "", 0, fmt.Errorf("%s: %w: epoch %q", action, ErrCorrupt, e)
	}
	owner, _ := vals[1].(string)
	return owner, epoch, nil
}

// Release implements actors.Store.
func (r *Redis) Release(ctx context.Context, jobID string, epoch uint64) error {
	r.tails.drop(jobID, epoch)
	if _, err := r.run(ctx, releaseScript, jobKeys(jobID), epoch); err != nil {
		return r.fail("release job "+jobID, err)
	}
	return nil
}

// Ping implements actors.Store.
func (r *Redis) Ping(ctx context.Context) error {
	if r.isClosed() {
		return fmt.Errorf("ping: %w", ErrClosed)
	}
	if err := r.client.Ping(ctx).Err(); err != nil {
		return r.fail("ping", err)
	}
	return nil
}

// run runs a script (EVALSHA, EVAL when Redis does not know it yet) and
// returns its array reply.
func (r *Redis) run(ctx context.Context, s *redis.Script, keys []string, args ...any) ([]any, error) {
	if r.isClosed() {
		return nil, ErrClosed
	}
	return s.Run(ctx, r.client, keys, args...).Slice()
}

// runConfirmed is run followed, when the store waits for replicas
// (WaitReplicas, WaitAOF), by the WAIT an append's commit has: for the
// scripts that take a job over (Create, Acquire) and the reads of a job
// (Snapshot, Events). An append whose WAIT failed was not acknowledged, but
// it is on the primary all the same. A new owner would read it back, and the
// worker's resend of those offsets would then be acknowledged as already
// written; a client would be sent it. A failover to a replica that never got
// it lost it (found by chaos: redis-restart and redis-failover under a
// sentinel). WAIT waits for this connection's last write, so a read-only
// script is followed by a write of markKey: the wait then covers everything
// the primary had when the script ran. When the replicas do not confirm it,
// the call fails as unavailable and is retried.
func (r *Redis) runConfirmed(ctx context.Context, s *redis.Script, keys []string, args ...any) ([]any, error) {
	if r.cfg.WaitReplicas <= 0 && !r.cfg.WaitAOF {
		return r.run(ctx, s, keys, args...)
	}
	if r.isClosed() {
		return nil, ErrClosed
	}
	pipe := r.client.Pipeline()
	cmd := s.Eval(ctx, pipe, keys, args...) // the whole script: in a pipeline there is no EVALSHA-then-EVAL fallback
	if s == eventsScript || s == snapshotScript {
		pipe.Incr(ctx, markKey)
	}
	wait := r.waitCmd(ctx, pipe)
	_, _ = pipe.Exec(ctx)
	vals, err := cmd.Slice()
	if err != nil {
		return nil, err
	}
	if err := r.waited(wait); err != nil {
		return nil, fmt.Errorf("%w: redis %s: %w", events.ErrStoreUnavailable, r.addr, err)
	}
	return vals, nil
}

// markKey is the key a confirmed read writes so that its WAIT covers what it
// read (WAIT is for one server with replicas, never Redis Cluster: one key
// serves every job).
const markKey = "ah:wait"

func (r *Redis) isClosed() bool {
	r.mu.RLock()
	defer r.mu.RUnlock()
	return r.closed
}

// Close stops accepting calls, lets the writers send what is queued, waits for
// them and closes the connections.
func (r *Redis) Close() error {
	r.once.Do(func() {
		close(r.closing)
		r.mu.Lock()
		r.closed = true
		close(r.queue)
		r.mu.Unlock()
		r.wg.Wait()
		if err := r.client.Close(); err != nil {
			r.closeEr = fmt.Errorf("close store %s: %w", r.name, err)
		}
	})
	return r.closeEr
}
