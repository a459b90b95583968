package persistence

import (
	"context"
	"errors"
	"fmt"
	"os/exec"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/actorhub/actorhub/actors"
	"github.com/actorhub/actorhub/events"
	"github.com/actorhub/actorhub/internal/devcerts"
	"github.com/actorhub/actorhub/internal/freeport"
	"github.com/actorhub/actorhub/internal/procsig"
	"github.com/actorhub/actorhub/internal/redistest"
)

func openRedis(t testing.TB, url string, cfg Config) *Redis {
	t.Helper()
	s, err := OpenRedis(context.Background(), url, cfg)
	if err != nil {
		t.Fatalf("OpenRedis(%s): %v", url, err)
	}
	t.Cleanup(func() {
		if err := s.Close(); err != nil {
			t.Errorf("Close: %v", err)
		}
	})
	return s
}

// rawClient talks to the test server directly, to look at or damage keys.
func rawClient(t testing.TB, srv *redistest.Server) *redis.Client {
	c := redis.NewClient(&redis.Options{Addr: srv.Addr()})
	t.Cleanup(func() { _ = c.Close() })
	return c
}

func TestRedisStore(t *testing.T) {
	t.Parallel()
	srv := redistest.Start(t)
	testStoreContract(t, func(t *testing.T) actors.Store { return openRedis(t, srv.URL(), testConfig()) })
}

func TestRedisClusterStore(t *testing.T) {
	t.Parallel()
	srv := redistest.Start(t, redistest.Cluster())
	testStoreContract(t, func(t *testing.T) actors.Store {
		s := openRedis(t, srv.ClusterURL(), testConfig())
		if _, ok := s.client.(*redis.ClusterClient); !ok {
			t.Fatalf("%s opened a %T; want a cluster client", srv.ClusterURL(), s.client)
		}
		return s
	})
}

// TestRedisKeysAndExpiry checks the stored layout (format 3, redis_scripts.go):
// appends journal their events, the last one of each with the worker offset;
// the snapshot and the output follow every snapshotEvery events and at the
// terminal event, which also starts the retention.
func TestRedisKeysAndExpiry(t *testing.T) {
	t.Parallel()
	srv := redistest.Start(t)
	s, raw := openRedis(t, srv.URL(), testConfig()), rawClient(t, srv)
	ctx := ctxT(t)
	const st, log, out = "{job:keys-1}:state", "{job:keys-1}:log:1", "{job:keys-1}:out"
	j := newJob("keys-1")
	j.create(t, s)
	j.st.NextOffset = 2
	j.appendN(t, s, 2)
	for _, k := range []string{st, log} {
		if ttl := raw.PTTL(ctx, k).Val(); ttl != -1 {
			t.Fatalf("PTTL %s = %v before the job ended; want -1 (exists, no expiry)", k, ttl)
		}
	}
	if n := raw.Exists(ctx, out).Val(); n != 0 {
		t.Fatalf("out exists after 2 chunks; want the output in the journal until the next snapshot")
	}
	if last := raw.LIndex(ctx, log, -1).Val(); !strings.HasPrefix(last, "+2 {") {
		t.Fatalf("last journal entry %q; want the offset 2 before the event", last)
	}
	if got := raw.HMGet(ctx, st, "base", "jn", "sseq", "seq").Val(); fmt.Sprint(got) != "[1 1 <nil> <nil>]" {
		t.Fatalf("state base, jn, sseq, seq = %v; want 1, 1 and none of the earlier formats' fields", got)
	}
	checkJournal(t, s, j.st.JobID, 3, j.output)
	for range snapshotEvery - 2 { // seqs 4..33: the journal runs snapshotEvery past the snapshot at 33
		j.appendN(t, s, 1)
	}
	if got := raw.HGet(ctx, st, "base").Val(); got != "33" {
		t.Fatalf("base = %s after seq 33; want 33", got)
	}
	if got := raw.Get(ctx, out).Val(); got != j.output {
		t.Fatalf("out = %q; want %q", got, j.output)
	}
	j.appendN(t, s, 1)
	checkJournal(t, s, j.st.JobID, 34, j.output)
	_, evs := j.next(1, events.Failed, "")
	if err := s.Append(ctx, j.st, "", evs); err != nil {
		t.Fatal(err)
	}
	if got := raw.HGet(ctx, st, "base").Val(); got != "35" {
		t.Fatalf("base = %s after the terminal event at 35; want 35", got)
	}
	for _, k := range []string{st, log, out} {
		if ttl := raw.PTTL(ctx, k).Val(); ttl <= 0 || ttl > time.Second {
			t.Fatalf("PTTL %s = %v after the job failed; want the 1s retention", k, ttl)
		}
	}
}

func TestRedisReopen(t *testing.T) {
	t.Parallel()
	srv := redistest.Start(t)
	j := newJob("reopen-1")
	s := openRedis(t, srv.URL(), testConfig())
	j.create(t, s)
	j.appendN(t, s, 5)
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	if err := s.Close(); err != nil {
		t.Fatalf("second Close: %v", err)
	}
	wantErr(t, "Append after Close", s.Append(ctxT(t), j.st, "", nil), ErrClosed)
	_, err := s.Snapshot(ctxT(t), j.st.JobID)
	wantErr(t, "Snapshot after Close", err, ErrClosed)
	checkJournal(t, openRedis(t, srv.URL(), testConfig()), j.st.JobID, 6, j.output)
}

func TestRedisCorrupt(t *testing.T) {
	t.Parallel()
	srv := redistest.Start(t)
	s, raw := openRedis(t, srv.URL(), testConfig()), rawClient(t, srv)
	ctx := ctxT(t)
	cases := []struct {
		name   string
		damage func(id string)
		read   func(id string) error
	}{
		{"garbage journal entry", func(id string) { raw.RPush(ctx, "{job:"+id+"}:log:1", "\x00{not json") },
			func(id string) error { _, err := s.Events(ctx, id, 0, 0); return err }},
		{"garbage in the tail", func(id string) { raw.RPush(ctx, "{job:"+id+"}:log:1", "{not json") },
			func(id string) error { _, err := s.Acquire(ctx, id, "n"); return err }},
		{"offset without event", func(id string) { raw.RPush(ctx, "{job:"+id+"}:log:1", "+12") },
			func(id string) error { _, err := s.Snapshot(ctx, id); return err }},
		{"bad offset", func(id string) { raw.RPush(ctx, "{job:"+id+"}:log:1", "+-1 {}") },
			func(id string) error { _, err := s.Events(ctx, id, 0, 0); return err }},
		{"entry of another seq", func(id string) {
			raw.LSet(ctx, "{job:"+id+"}:log:1", 0, `{"type":"event","jobId":"x","seq":7,"event":"a:b:v1","data":{},"ts":1}`)
		},
			func(id string) error { _, err := s.Events(ctx, id, 0, 0); return err }},
		{"garbage snapshot", func(id string) { raw.HSet(ctx, "{job:"+id+"}:state", "snap", "[1,2") },
			func(id string) error { _, err := s.Snapshot(ctx, id); return err }},
		{"garbage epoch", func(id string) { raw.HSet(ctx, "{job:"+id+"}:state", "epoch", "x") },
			func(id string) error { _, err := s.Snapshot(ctx, id); return err }},
		{"snapshot of another job", func(id string) {
			raw.HSet(ctx, "{job:"+id+"}:state", "snap", raw.HGet(ctx, "{job:corrupt-base}:state", "snap").Val())
		}, func(id string) error { _, err := s.Acquire(ctx, id, "n"); return err }},
	}
	base := newJob("corrupt-base")
	base.create(t, s)
	for i, c := range cases {
		id := fmt.Sprint("corrupt-", i)
		newJob(id).create(t, s)
		c.damage(id)
		wantErr(t, c.name, c.read(id), ErrCorrupt)
	}
}

// TestRedisRefusedAppendWritesNothing: the append script pushes first and
// checks the journal's length after (RPUSH replies it); an append it refuses
// must leave the journal as it was, its expiry included, and must not create
// a journal that was missing.
func TestRedisRefusedAppendWritesNothing(t *testing.T) {
	t.Parallel()
	srv := redistest.Start(t)
	s, raw := openRedis(t, srv.URL(), testConfig()), rawClient(t, srv)
	ctx := ctxT(t)
	j := newJob(jobID(t, "short"))
	j.create(t, s)
	j.appendN(t, s, 2)
	log := "{job:" + j.st.JobID + "}:log:1"
	raw.PExpire(ctx, log, time.Hour)
	before := raw.LRange(ctx, log, 0, -1).Val()
	ahead := *j
	_, _ = ahead.chunks(1) // an append that skips a seq
	delta, evs := ahead.chunks(2)
	wantErr(t, "Append ahead of the journal", s.Append(ctx, ahead.st, delta, evs), events.ErrFenced)
	if got := raw.LRange(ctx, log, 0, -1).Val(); !slices.Equal(got, before) {
		t.Fatalf("journal after a refused append = %q; want %q", got, before)
	}
	if ttl := raw.PTTL(ctx, log).Val(); ttl <= 0 {
		t.Fatalf("journal's expiry after a refused append = %v; want it kept", ttl)
	}

	k := newJob(jobID(t, "nolog"))
	k.create(t, s)
	k.appendN(t, s, 1)
	log = "{job:" + k.st.JobID + "}:log:1"
	raw.Del(ctx, log)
	delta, evs = k.chunks(1)
	wantErr(t, "Append to a job whose journal is gone", s.Append(ctx, k.st, delta, evs), events.ErrFenced)
	if n := raw.Exists(ctx, log).Val(); n != 0 {
		t.Fatalf("a refused append left a journal of %d entries where there was none", raw.LLen(ctx, log).Val())
	}
}

// TestRedisOutage kills Redis under a writer: appends fail fast with
// ErrStoreUnavailable, and after a restart (AOF) they work again and nothing
// acknowledged before is missing.
func TestRedisOutage(t *testing.T) {
	t.Parallel()
	srv := redistest.Start(t, redistest.AOF())
	s := openRedis(t, srv.URL(), DefaultConfig()) // production timeouts
	j := newJob("outage-1")
	j.create(t, s)
	j.appendN(t, s, 10)
	acked, ackedOut := j.st.LastSequence, j.output

	srv.Kill()
	delta, evs := j.chunks(2)
	for _, op := range []struct {
		name string
		fn   func(ctx context.Context) error
	}{
		{"Append", func(ctx context.Context) error { return s.Append(ctx, j.st, delta, evs) }},
		{"Snapshot", func(ctx context.Context) error { _, err := s.Snapshot(ctx, j.st.JobID); return err }},
		{"Ping", s.Ping},
	} {
		start := time.Now()
		err := op.fn(context.Background())
		took := time.Since(start)
		wantErr(t, op.name+" with Redis down", err, events.ErrStoreUnavailable)
		if took > 3*time.Second || !strings.Contains(err.Error(), srv.Addr()) {
			t.Fatalf("%s with Redis down took %v and said %q; want < 3s and the address %s", op.name, took, err, srv.Addr())
		}
		t.Logf("%s with Redis down failed after %v: %v", op.name, took.Round(time.Millisecond), err)
	}
	checkNoRedisNil(t, s)

	srv.Restart(t)
	waitFor(t, 5*time.Second, func() error { return s.Append(ctxT(t), j.st, delta, evs) })
	if j.st.LastSequence != acked+2 {
		t.Fatalf("seq %d; want %d", j.st.LastSequence, acked+2)
	}
	checkJournal(t, s, j.st.JobID, acked+2, ackedOut+delta)
}

// TestRedisHung pauses Redis (SIGSTOP): appends fail with ErrStoreUnavailable
// after the read timeout instead of hanging.
func TestRedisHung(t *testing.T) {
	if !procsig.Pauses() {
		t.Skip("this system cannot pause a process")
	}
	t.Parallel()
	srv := redistest.Start(t)
	s := openRedis(t, srv.URL(), DefaultConfig())
	j := newJob("hung-1")
	j.create(t, s)
	srv.Pause()
	defer srv.Resume()
	start := time.Now()
	delta, evs := j.chunks(1)
	err := s.Append(context.Background(), j.st, delta, evs)
	took := time.Since(start)
	wantErr(t, "Append with Redis hung", err, events.ErrStoreUnavailable)
	if took > 3*time.Second {
		t.Fatalf("Append with Redis hung took %v; want < 3s", took)
	}
	t.Logf("Append with Redis hung failed after %v: %v", took.Round(time.Millisecond), err)
	srv.Resume()
	waitFor(t, 5*time.Second, func() error { return s.Append(ctxT(t), j.st, delta, evs) })
	checkJournal(t, s, j.st.JobID, 2, j.output) // the timed-out try and its retry wrote once
}

func checkNoRedisNil(t *testing.T, s *Redis) {
	t.Helper()
	_, err := s.Events(context.Background(), "x", 0, 1)
	if errors.Is(err, redis.Nil) {
		t.Fatalf("redis.Nil left the package: %v", err)
	}
}

func TestRedisCancelledAppend(t *testing.T) {
	t.Parallel()
	srv := redistest.Start(t)
	s := openRedis(t, srv.URL(), testConfig())
	j := newJob("cancel-1")
	j.create(t, s)
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	delta, evs := j.chunks(1)
	err := s.Append(ctx, j.st, delta, evs)
	wantErr(t, "Append with a cancelled ctx", err, context.Canceled)
	if errors.Is(err, events.ErrStoreUnavailable) {
		t.Fatalf("a cancelled Append reported the store unavailable: %v", err)
	}
}

// BenchmarkRedisAppend also reports the Redis server's CPU per append
// (redis-µs/op, from INFO cpu) and the time Redis spent in the appends'
// commands (cmd-µs/op, from INFO commandstats).
func BenchmarkRedisAppend(b *testing.B) {
	for _, jobs := range []int{100, 2000} {
		b.Run(fmt.Sprintf("jobs=%d", jobs), func(b *testing.B) {
			srv := redistest.Start(b)
			s := openRedis(b, srv.URL(), DefaultConfig())
			before, cmds := redisCPU(b, s), appendTime(b, s)
			benchAppend(b, s, jobs)
			b.StopTimer()
			b.ReportMetric(float64((redisCPU(b, s)-before).Microseconds())/float64(b.N), "redis-µs/op")
			b.ReportMetric(float64((appendTime(b, s)-cmds).Microseconds())/float64(b.N), "cmd-µs/op")
		})
	}
}

// BenchmarkRedisEpochCheck: what a silent job's check of its epoch costs,
// by how much the job has written since its snapshot (ev: events of 32-byte
// chunks, the output growing with them): Holder (owner and epoch, what the
// check reads) against Snapshot (the snapshot, the journal after it and the
// whole output, what the check used to read).
func BenchmarkRedisEpochCheck(b *testing.B) {
	srv := redistest.Start(b)
	s := openRedis(b, srv.URL(), DefaultConfig())
	for _, n := range []int{10, 300} {
		j := newJob(jobID(b, strconv.Itoa(n)))
		j.create(b, s)
		for done := 0; done < n; done += 10 {
			delta, evs := j.next(10, events.Chunk, strings.Repeat("t", 28))
			if err := s.Append(ctxT(b), j.st, delta, evs); err != nil {
				b.Fatal(err)
			}
		}
		for _, read := range []string{"Holder", "Snapshot"} {
			b.Run(fmt.Sprintf("ev=%d/%s", n, read), func(b *testing.B) {
				ctx := context.Background()
				before := redisCPU(b, s)
				for b.Loop() {
					var err error
					if read == "Holder" {
						_, _, err = s.Holder(ctx, j.st.JobID)
					} else {
						_, err = s.Snapshot(ctx, j.st.JobID)
					}
					if err != nil {
						b.Fatal(err)
					}
				}
				b.ReportMetric(float64((redisCPU(b, s)-before).Microseconds())/float64(b.N), "redis-µs/op")
			})
		}
	}
}

// appendTime is the time Redis has spent running the commands of appends
// (RPUSHX, and scripts: EVALSHA and EVAL), from INFO commandstats: what the
// appends themselves cost, without the reading and writing of the
// connections around them, and far less noisy than the server's whole CPU.
func appendTime(b *testing.B, s *Redis) time.Duration {
	info := redisInfo(b, s.client, "commandstats")
	var usec int64
	for _, cmd := range []string{"rpushx", "evalsha", "eval"} {
		usec += cmdstat(b, info, cmd, "usec")
	}
	return time.Duration(usec) * time.Microsecond
}

// redisCPU is the CPU time (user + sys) the Redis server has used, from INFO.
func redisCPU(b *testing.B, s *Redis) time.Duration {
	var total float64
	for k, v := range redisInfo(b, s.client, "cpu") {
		if k == "used_cpu_user" || k == "used_cpu_sys" {
			f, err := strconv.ParseFloat(v, 64)
			if err != nil {
				b.Fatalf("INFO cpu %s: %q", k, v)
			}
			total += f
		}
	}
	return time.Duration(total * float64(time.Second))
}

// redisInfo returns the fields of one section of INFO (name → value).
func redisInfo(tb testing.TB, c redis.UniversalClient, section string) map[string]string {
	tb.Helper()
	info, err := c.Info(context.Background(), section).Result()
	if err != nil {
		tb.Fatalf("INFO %s: %v", section, err)
	}
	fields := map[string]string{}
	for _, line := range strings.Split(info, "\n") {
		if k, v, ok := strings.Cut(strings.TrimSpace(line), ":"); ok {
			fields[k] = v
		}
	}
	return fields
}

// cmdstat returns one number of a command's INFO commandstats line
// ("calls=3,usec=12,…"): 0 when Redis has not run the command.
func cmdstat(tb testing.TB, info map[string]string, cmd, name string) int64 {
	tb.Helper()
	for _, f := range strings.Split(info["cmdstat_"+cmd], ",") {
		if v, ok := strings.CutPrefix(f, name+"="); ok {
			n, err := strconv.ParseInt(v, 10, 64)
			if err != nil {
				tb.Fatalf("INFO commandstats %s %s: %q", cmd, name, v)
			}
			return n
		}
	}
	return 0
}

// benchAppend appends one chunk per op from one goroutine per job.
func benchAppend(b *testing.B, s actors.Store, jobs int) {
	js := make([]*job, jobs)
	for i := range js {
		js[i] = newJob(fmt.Sprintf("bench-%d-%d", b.N, i))
		js[i].create(b, s)
	}
	var next atomic.Int64
	b.SetParallelism(max(1, jobs/runtime.GOMAXPROCS(0))) // at most one goroutine per job
	b.ReportAllocs()
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		j := js[int(next.Add(1)-1)%jobs]
		ctx := context.Background()
		for pb.Next() {
			delta, evs := j.chunks(1)
			if err := s.Append(ctx, j.st, delta, evs); err != nil {
				b.Error(err)
				return
			}
		}
	})
}

// TestRedisTakeoverFoldsTail: a node that takes over a job whose journal runs
// past its snapshot (another node's store wrote it) reads the state folded to
// the last event, with the worker offset and the whole output; the old
// owner's appends are fenced, and the new owner's snapshots carry the output
// the old owner journaled without one.
func TestRedisTakeoverFoldsTail(t *testing.T) {
	t.Parallel()
	srv := redistest.Start(t)
	a, b, raw := openRedis(t, srv.URL(), testConfig()), openRedis(t, srv.URL(), testConfig()), rawClient(t, srv)
	j := newJob(jobID(t, "a"))
	j.create(t, a)
	for range snapshotEvery + 8 { // a snapshot at seq 1+snapshotEvery, then a tail of 8
		j.st.NextOffset++
		j.appendN(t, a, 1)
	}
	key := "{job:" + j.st.JobID + "}:state"
	if got := raw.HGet(ctxT(t), key, "base").Val(); got != fmt.Sprint(1+snapshotEvery) {
		t.Fatalf("base = %s; want %d", got, 1+snapshotEvery)
	}
	st, err := b.Acquire(ctxT(t), j.st.JobID, "node-b")
	want := j.st
	want.Epoch, want.Output = 2, j.output
	if err != nil || !sameState(st, want) {
		t.Fatalf("Acquire by another node = %+v, %v;\nwant %+v", st, err, want)
	}
	k := *j
	delta, evs := k.chunks(1)
	wantErr(t, "Append by the old owner", a.Append(ctxT(t), k.st, delta, evs), events.ErrFenced)
	j.st.Epoch = 2
	for range snapshotEvery {
		j.st.NextOffset++
		j.appendN(t, b, 1)
	}
	if got := raw.HGet(ctxT(t), key, "base").Val(); got != fmt.Sprint(1+2*snapshotEvery) {
		t.Fatalf("base = %s after the new owner's appends; want %d", got, 1+2*snapshotEvery)
	}
	if out := raw.Get(ctxT(t), "{job:"+j.st.JobID+"}:out").Val(); !strings.HasPrefix(j.output, out) || strings.Count(out, ",") != 2*snapshotEvery {
		t.Fatalf("stored out %q; want the first %d chunks of %q", out, 2*snapshotEvery, j.output)
	}
	checkJournal(t, a, j.st.JobID, j.st.LastSequence, j.output)
	// a snapshot-only append by a store that did not take the job over is
	// refused while the journal runs past the stored snapshot
	j.st.NextOffset += 5
	wantErr(t, "snapshot-only Append by a store without the tail", a.Append(ctxT(t), j.st, "", nil), ErrInvalid)
}

// TestRedisEarlierFormats reads and takes over jobs stored by the earlier
// layouts: format 1 (seq instead of sseq, the snapshot and the output at every
// append) and format 2 (the journal {job:<id>}:log, the snapshot's seq sseq,
// a tail after it); the takeover converts the job and it carries on in the
// current layout, its appends as RPUSHXs.
func TestRedisEarlierFormats(t *testing.T) {
	t.Parallel()
	srv := redistest.Start(t)
	s, raw := openRedis(t, srv.URL(), testConfig()), rawClient(t, srv)
	ctx := ctxT(t)
	for _, format := range []int{1, 2} {
		j := newJob(jobID(t, fmt.Sprint("f", format)))
		tag := "{job:" + j.st.JobID + "}"
		raw.RPush(ctx, tag+":log", j.first.Raw)
		out, evs := j.chunks(2)
		for _, ev := range evs {
			raw.RPush(ctx, tag+":log", ev.Raw)
		}
		j.st.Epoch, j.st.NextOffset = 3, 4
		snap, tail := encodeSnapshot(j.st), ""
		if format == 1 {
			out2, evs := j.chunks(2)
			for _, ev := range evs {
				raw.RPush(ctx, tag+":log", ev.Raw)
			}
			out += out2
			snap = encodeSnapshot(j.st)
			raw.HSet(ctx, tag+":state", "epoch", 3, "owner", "old-node", "seq", j.st.LastSequence, "snap", snap)
		} else { // a snapshot at seq 3, then a tail of two events
			var evs []events.Event
			tail, evs = j.chunks(2)
			evs[1].Raw = offsetEntry(nil, j.st.NextOffset, evs[1].Raw)
			for _, ev := range evs {
				raw.RPush(ctx, tag+":log", ev.Raw)
			}
			raw.HSet(ctx, tag+":state", "epoch", 3, "owner", "old-node", "sseq", 3, "snap", snap)
		}
		raw.Set(ctx, tag+":out", out, 0)
		checkJournal(t, s, j.st.JobID, 5, out+tail)
		st, err := s.Acquire(ctx, j.st.JobID, "new-node")
		want := j.st
		want.Epoch, want.Output = 4, out+tail
		if err != nil || !sameState(st, want) {
			t.Fatalf("Acquire of a format-%d job = %+v, %v;\nwant %+v", format, st, err, want)
		}
		wantBase := map[int]string{1: "5", 2: "3"}[format]
		if got := raw.HMGet(ctx, tag+":state", "base", "jn", "sseq", "seq").Val(); fmt.Sprint(got) != "["+wantBase+" 4 <nil> <nil>]" {
			t.Fatalf("format %d: after the takeover base, jn, sseq, seq = %v; want %s, 4 and none (a node on an earlier format must find neither sseq nor seq)", format, got, wantBase)
		}
		if n := raw.Exists(ctx, tag+":log").Val(); n != 0 || raw.LLen(ctx, tag+":log:4").Val() != 5 {
			t.Fatalf("format %d: after the takeover the journal is not {job:<id>}:log:4", format)
		}
		j.st.Epoch = 4
		before := cmdstat(t, redisInfo(t, raw, "commandstats"), "rpushx", "calls")
		for range snapshotEvery + 3 {
			j.st.NextOffset++
			j.appendN(t, s, 1)
		}
		if n := cmdstat(t, redisInfo(t, raw, "commandstats"), "rpushx", "calls") - before; n != snapshotEvery+2 {
			t.Errorf("format %d: %d of the %d appends went as RPUSHX; want all but the one that stored a snapshot", format, n, snapshotEvery+3)
		}
		checkJournal(t, s, j.st.JobID, j.st.LastSequence, j.output)
		if st, err := s.Snapshot(ctx, j.st.JobID); err != nil || st.NextOffset != j.st.NextOffset {
			t.Fatalf("format %d: Snapshot = offset %d, %v; want %d", format, st.NextOffset, err, j.st.NextOffset)
		}
	}
}

// TestRedisTakeoverCutsMisplaced: an RPUSHX that put its events at the wrong
// seqs (Redis had lost the journal's last entries, or ran the command twice)
// is taken back by its writer; when a takeover comes first, the takeover cuts
// those entries off, down to the last entry at its place, and the job reads
// and carries on from there.
func TestRedisTakeoverCutsMisplaced(t *testing.T) {
	t.Parallel()
	srv := redistest.Start(t)
	a, b, raw := openRedis(t, srv.URL(), testConfig()), openRedis(t, srv.URL(), testConfig()), rawClient(t, srv)
	ctx := ctxT(t)
	for _, c := range []struct {
		name   string
		lose   int // entries Redis lost before the RPUSHX
		pushes int // times the RPUSHX ran
	}{{"lost", 2, 1}, {"twice", 0, 2}} {
		j := newJob(jobID(t, c.name))
		j.create(t, a)
		j.appendN(t, a, 4) // seqs 2..5
		log := "{job:" + j.st.JobID + "}:log:1"
		kept := *j
		for range c.lose {
			raw.RPop(ctx, log)
			kept.st.LastSequence--
		}
		_, evs := j.chunks(2)
		for range c.pushes {
			for _, ev := range evs {
				raw.RPush(ctx, log, ev.Raw)
			}
		}
		want := j.st.LastSequence - 2 - int64(c.lose) // the last entry at its place
		if c.pushes > 1 {
			want = j.st.LastSequence
		}
		st, err := b.Acquire(ctx, j.st.JobID, "node-b")
		if err != nil || st.LastSequence != want {
			t.Fatalf("%s: Acquire = seq %d, %v; want seq %d", c.name, st.LastSequence, err, want)
		}
		if n := raw.LLen(ctx, "{job:"+j.st.JobID+"}:log:2").Val(); n != want {
			t.Fatalf("%s: journal of %d entries after the takeover; want %d", c.name, n, want)
		}
		if _, err := b.Events(ctx, j.st.JobID, 0, 0); err != nil {
			t.Fatalf("%s: Events after the takeover: %v", c.name, err)
		}
	}
}

// TestRedisWaitForReplicas: with WaitReplicas an append is acknowledged only
// once a replica has it (WAIT, or WAITAOF with the AOFs, in the commit's
// pipeline); without the replica the append fails as unavailable: written on
// the primary, not acknowledged (the worker resends; offsets make it harmless).
func TestRedisWaitForReplicas(t *testing.T) {
	for _, aof := range []bool{false, true} {
		t.Run(fmt.Sprintf("aof=%v", aof), func(t *testing.T) {
			var opts []redistest.Option
			if aof {
				opts = append(opts, redistest.AOF())
			}
			primary := redistest.Start(t, opts...)
			host, port, _ := strings.Cut(primary.Addr(), ":")
			replica := redistest.Start(t, append(opts, redistest.Args("--replicaof", host, port))...)
			rc := redis.NewClient(&redis.Options{Addr: primary.Addr()})
			defer rc.Close()
			linked := func() error {
				out, err := rc.Info(ctxT(t), "replication").Result()
				if err != nil || !strings.Contains(out, "connected_slaves:1") || !strings.Contains(out, "state=online") {
					return fmt.Errorf("replica not online yet: %v %s", err, out)
				}
				return nil
			}
			waitFor(t, 20*time.Second, linked)
			cfg := testConfig()
			cfg.WaitReplicas, cfg.WaitAOF, cfg.WaitTimeout = 1, aof, 2*time.Second // generous: a busy machine acks late
			if aof && rc.Do(ctxT(t), "WAITAOF", 0, 0, 0).Err() != nil {            // Redis < 7.2
				if _, err := OpenRedis(context.Background(), primary.URL(), cfg); err == nil || !strings.Contains(err.Error(), "WAITAOF") {
					t.Fatalf("--store-wait-aof on a Redis without WAITAOF: %v, want an error naming it", err)
				}
				return
			}
			s := openRedis(t, primary.URL(), cfg)
			j := newJob(jobID(t, "wait"))
			j.create(t, s)
			j.appendN(t, s, 3)

			replica.Kill()
			delta, evs := j.chunks(2)
			err := s.Append(ctxT(t), j.st, delta, evs)
			if !errors.Is(err, events.ErrStoreUnavailable) || !strings.Contains(err.Error(), "0 of 1 replicas") {
				t.Fatalf("an append no replica confirmed: %v, want unavailable (0 of 1 replicas)", err)
			}
			// on the primary, not acknowledged: no new owner starts from it
			// (it would take the resend for written and acknowledge it) and
			// no reader gets it while no replica confirms it
			if _, err := s.Acquire(ctxT(t), j.st.JobID, "another"); !errors.Is(err, events.ErrStoreUnavailable) {
				t.Fatalf("a take-over no replica confirmed: %v, want unavailable", err)
			}
			if _, err := s.Events(ctxT(t), j.st.JobID, 0, 100); !errors.Is(err, events.ErrStoreUnavailable) {
				t.Fatalf("a read no replica confirmed: %v, want unavailable", err)
			}
			if _, err := s.Snapshot(ctxT(t), j.st.JobID); !errors.Is(err, events.ErrStoreUnavailable) {
				t.Fatalf("a snapshot no replica confirmed: %v, want unavailable", err)
			}
			raw, err := OpenRedis(ctxT(t), primary.URL(), testConfig()) // without the wait: it is there
			if err != nil {
				t.Fatal(err)
			}
			defer raw.Close()
			checkJournal(t, raw, j.st.JobID, 6, j.output)
		})
	}
	// the options are for one server with replicas
	cfg := testConfig()
	cfg.WaitReplicas = 1
	if _, err := OpenRedis(context.Background(), "redis://?addr=127.0.0.1:1", cfg); !errors.Is(err, ErrBadURL) {
		t.Errorf("WAIT with a Redis Cluster URL: %v, want ErrBadURL", err)
	}
}

// TestRedisTLSClientCert: rediss:// with a client certificate, against a
// redis-server that requires one (tls-auth-clients yes).
func TestRedisTLSClientCert(t *testing.T) {
	dir := t.TempDir()
	certs, err := devcerts.Make(dir, []string{"redis", "client"}, []string{"127.0.0.1"})
	if err != nil {
		t.Fatal(err)
	}
	port, err := freeport.Pick()
	if err != nil {
		t.Fatal(err)
	}
	bin, err := exec.LookPath("redis-server")
	if err != nil {
		t.Fatal("redis-server is not on PATH; install Redis ≥ 7 (apt-get install redis-server)")
	}
	srv := exec.Command(bin, "--port", "0", "--tls-port", strconv.Itoa(port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no",
		"--dir", dir, "--tls-cert-file", certs.Nodes["redis"][0], "--tls-key-file", certs.Nodes["redis"][1],
		"--tls-ca-cert-file", certs.CA, "--tls-auth-clients", "yes")
	if err := srv.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = srv.Process.Kill(); _ = srv.Wait() })
	url := fmt.Sprintf("rediss://127.0.0.1:%d/0", port)
	cfg := testConfig()
	cfg.TLSCert, cfg.TLSKey, cfg.TLSCA = certs.Nodes["client"][0], certs.Nodes["client"][1], certs.CA
	var s *Redis
	waitFor(t, 15*time.Second, func() error { // until the server listens
		var err error
		s, err = OpenRedis(context.Background(), url, cfg)
		return err
	})
	t.Cleanup(func() { _ = s.Close() })
	j := newJob(jobID(t, "tls"))
	j.create(t, s)
	j.appendN(t, s, 3)
	checkJournal(t, s, j.st.JobID, 4, j.output)

	noCert := cfg
	noCert.TLSCert, noCert.TLSKey = "", ""
	noCA := cfg
	noCA.TLSCA = ""
	for name, c := range map[string]Config{"no client certificate": noCert, "the system's roots only": noCA} {
		if s, err := OpenRedis(context.Background(), url, c); err == nil {
			_ = s.Close()
			t.Errorf("%s: opened", name)
		}
	}
	if _, err := OpenRedis(context.Background(), fmt.Sprintf("redis://127.0.0.1:%d/0", port), cfg); !errors.Is(err, ErrBadURL) {
		t.Errorf("TLS files with redis://: %v, want ErrBadURL", err)
	}
}

// TestRedisHeartbeat: the witness of cluster.Standby. Nodes heartbeat, each
// sees the others that did lately, a node that leaves is gone at once, and
// a store with SourceAddr connects from that address.
func TestRedisHeartbeat(t *testing.T) {
	t.Parallel()
	srv := redistest.Start(t)
	cfg := testConfig()
	cfg.SourceAddr = "127.0.0.2"
	a, b := openRedis(t, srv.URL(), testConfig()), openRedis(t, srv.URL(), cfg)
	ctx := ctxT(t)
	if _, err := a.Heartbeat(ctx, "a", time.Minute); err != nil {
		t.Fatal(err)
	}
	live, err := b.Heartbeat(ctx, "b", time.Minute)
	if err != nil {
		t.Fatal(err)
	}
	if slices.Sort(live); !slices.Equal(live, []string{"a", "b"}) {
		t.Fatalf("live = %v, want [a b]", live)
	}
	clients, err := srv.Command("CLIENT LIST")
	if err != nil || !strings.Contains(clients, "addr=127.0.0.2:") {
		t.Fatalf("no connection from SourceAddr 127.0.0.2 (%v):\n%s", err, clients)
	}
	if err := b.Leave(ctx, "b"); err != nil {
		t.Fatal(err)
	}
	if live, err = a.Heartbeat(ctx, "a", time.Minute); err != nil || !slices.Equal(live, []string{"a"}) {
		t.Fatalf("after b left: live = %v, %v; want [a]", live, err)
	}
	// a heartbeat ages out of fresh (by the server's clock)
	waitFor(t, 10*time.Second, func() error {
		live, err := a.Heartbeat(ctx, "c", 50*time.Millisecond)
		if err != nil || slices.Contains(live, "a") {
			return fmt.Errorf("a is still fresh after 50ms: %v %v", live, err)
		}
		return nil
	})
	if _, err := OpenRedis(ctx, srv.URL(), Config{SourceAddr: "nowhere"}); err == nil || !strings.Contains(err.Error(), "not an IP") {
		t.Fatalf("a SourceAddr that is not an IP: %v", err)
	}
}

// TestRedisJournal: the audit's read returns every entry as stored, across a
// takeover (which renames the journal), and nothing for an unknown job.
func TestRedisJournal(t *testing.T) {
	t.Parallel()
	srv := redistest.Start(t)
	a, b := openRedis(t, srv.URL(), testConfig()), openRedis(t, srv.URL(), testConfig())
	ctx := ctxT(t)
	j := newJob(jobID(t, "a"))
	j.create(t, a)
	j.appendN(t, a, 3)
	if _, err := b.Acquire(ctx, j.st.JobID, "node-b"); err != nil {
		t.Fatal(err)
	}
	evs, err := b.Journal(ctx, j.st.JobID)
	if err != nil || len(evs) != 4 {
		t.Fatalf("Journal = %d events, %v; want 4", len(evs), err)
	}
	for i, ev := range evs {
		if ev.Seq != int64(i+1) {
			t.Fatalf("Journal entry %d holds seq %d", i, ev.Seq)
		}
	}
	if evs, err := b.Journal(ctx, "no-such-job"); err != nil || evs != nil {
		t.Fatalf("Journal of an unknown job = %v, %v; want none", evs, err)
	}
}
