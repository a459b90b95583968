package persistence

import (
	"fmt"
	"math"
	"testing"
	"time"

	"github.com/actorhub/actorhub/events"
	"github.com/actorhub/actorhub/internal/redistest"
)

// TestRedisGroupCommitManyJobs sends the appends of many jobs as one group
// commit, with one job fenced, one retried and one ahead of the journal (all
// three in scripts), one taken over by another store and one whose journal
// lost its last entry (both RPUSHXs, as every other job's), on a single
// server and on Redis Cluster: each job gets its own answer, the others are
// written exactly once, and a refused one writes nothing.
func TestRedisGroupCommitManyJobs(t *testing.T) {
	t.Parallel()
	srv := redistest.Start(t)
	clu := redistest.Start(t, redistest.Cluster())
	for _, tc := range []struct {
		name, url string
		srv       *redistest.Server
	}{{"single", srv.URL(), srv}, {"cluster", clu.ClusterURL(), clu}} {
		t.Run(tc.name, func(t *testing.T) {
			s, other := openRedis(t, tc.url, testConfig()), openRedis(t, tc.url, testConfig())
			raw := rawClient(t, tc.srv) // the cluster is one server
			const n = 150               // half of them in scripts, more than maxJobsPerCall: several calls
			jobs := make([]*job, n)
			var batch []*appendReq
			for i := range jobs {
				j := newJob(fmt.Sprintf("group-%s-%d", tc.name, i))
				if i%2 == 0 {
					j.create(t, other) // s did not take it over: its appends go in scripts
				} else {
					j.create(t, s)
				}
				jobs[i] = j
			}
			const fenced, retried, ahead, stale, lost = 7, 70, 140, 101, 121
			jobs[lost].appendN(t, s, 2) // seqs 2 and 3; then Redis loses seq 3
			if err := raw.RPop(ctxT(t), "{job:"+jobs[lost].st.JobID+"}:log:1").Err(); err != nil {
				t.Fatal(err)
			}
			type sent struct {
				st    events.JobState
				delta string
				evs   []events.Event
				plan  appendPlan
			}
			var sends []sent
			for i, j := range jobs {
				delta, evs := j.chunks(2)
				st := j.st
				switch i {
				case fenced: // a writer at an epoch the job is not at
					st.Epoch++
				case retried: // written before; the reply was lost
					if err := s.Append(ctxT(t), st, delta, evs); err != nil {
						t.Fatalf("first Append of job %d: %v", i, err)
					}
				case ahead: // skips seqs the journal does not have
					delta, evs = j.chunks(1)
					st = j.st
				case stale: // another store took the job over
					if _, err := other.Acquire(ctxT(t), j.st.JobID, "other"); err != nil {
						t.Fatal(err)
					}
				}
				keys, args, fast, plan, err := s.appendArgs(&st, delta, evs, nil)
				if err != nil {
					t.Fatalf("appendArgs(%s): %v", j.st.JobID, err)
				}
				if wantFast := i%2 == 1 && i != fenced; (fast != nil) != wantFast {
					t.Fatalf("append of job %d goes as an RPUSHX: %v; want %v", i, fast != nil, wantFast)
				}
				batch = append(batch, &appendReq{keys: keys, args: args, fast: fast, epoch: st.Epoch, want: st.LastSequence, done: make(chan struct{}, 1)})
				sends = append(sends, sent{st, delta, evs, plan})
			}
			calls := s.flush(batch, nil)
			if scripted := n/2 + 1; tc.name == "single" && len(calls) != (scripted+maxJobsPerCall-1)/maxJobsPerCall+1 {
				t.Errorf("%d scripted appends and the stale RPUSHX's fallback went out in %d script calls; want %d and 1", scripted, len(calls), (scripted+maxJobsPerCall-1)/maxJobsPerCall)
			}
			for i, req := range batch {
				err := s.appendResult(&sends[i].st, sends[i].evs, sends[i].plan, req.vals, req.err)
				switch i {
				case fenced, ahead, stale, lost:
					wantErr(t, fmt.Sprintf("append of job %d", i), err, events.ErrFenced)
				default:
					if err != nil {
						t.Fatalf("append of job %d: %v", i, err)
					}
				}
			}
			for i, j := range jobs {
				switch i {
				case fenced:
					checkJournal(t, s, j.st.JobID, 1, "")
				case ahead:
					checkJournal(t, s, j.st.JobID, 1, "")
				case stale:
					checkJournal(t, s, j.st.JobID, 1, "")
				case lost:
					if got := raw.LLen(ctxT(t), "{job:"+j.st.JobID+"}:log:1").Val(); got != 2 {
						t.Errorf("job %d: journal of %d entries after its refused RPUSHX; want the 2 Redis kept", i, got)
					}
				default:
					checkJournal(t, s, j.st.JobID, 3, j.output)
				}
			}
		})
	}
}

// TestKeySlot checks keySlot against Redis's own CLUSTER KEYSLOT.
func TestKeySlot(t *testing.T) {
	t.Parallel()
	srv := redistest.Start(t, redistest.Cluster())
	raw := rawClient(t, srv)
	for _, key := range []string{"", "a", "foo", "123456789", "{job:x}:state", "{job:x}:log", "{}:x", "{}{a}", "a{b}c{d}", "{job:a}b}:log", "x{", "{job:é☃}:out"} {
		want, err := raw.ClusterKeySlot(ctxT(t), key).Result()
		if err != nil {
			t.Fatalf("CLUSTER KEYSLOT %q: %v", key, err)
		}
		if got := keySlot(key); int64(got) != want {
			t.Errorf("keySlot(%q) = %d; Redis says %d", key, got, want)
		}
	}
}

// TestRedisCommitDelay: once appends come fast, a group commit waits (up to
// CommitDelay, here far longer than the test) until its batch is full; when
// they come rarely, an append is sent at once. The jobs are created by
// another store, so that their appends go in scripts, which can be counted
// (an RPUSHX per job would be the same in one pipeline or three).
func TestRedisCommitDelay(t *testing.T) {
	t.Parallel()
	srv := redistest.Start(t)
	cfg := testConfig()
	cfg.CommitDelay, cfg.MaxBatch, cfg.Writers = time.Minute, 3, 1
	s := openRedis(t, srv.URL(), cfg)
	raw := rawClient(t, srv)
	evalshas := func() int64 { return cmdstat(t, redisInfo(t, raw, "commandstats"), "evalsha", "calls") }
	creator := openRedis(t, srv.URL(), testConfig())
	jobs := make([]*job, 4)
	for i := range jobs {
		jobs[i] = newJob(fmt.Sprintf("delay-%d", i))
		jobs[i].create(t, creator)
	}
	appendAsync := func(j *job) <-chan error {
		done := make(chan error, 1)
		delta, evs := j.chunks(1)
		s.AppendAsync(j.st, delta, evs, func(err error) { done <- err })
		return done
	}

	// rare appends: sent at once, not held for the minute
	if err := <-appendAsync(jobs[3]); err != nil {
		t.Fatalf("a lone append: %v", err)
	}
	before := evalshas()

	// fast appends: held until the batch of three is full, then one call
	s.rate.Store(math.Float64bits(1e6))
	var dones []<-chan error
	for _, j := range jobs[:3] {
		dones = append(dones, appendAsync(j))
	}
	for i, done := range dones {
		if err := <-done; err != nil {
			t.Fatalf("append %d: %v", i, err)
		}
	}
	if n := evalshas() - before; n != 1 {
		t.Fatalf("three appends went out in %d script calls; want 1 (held until the batch was full)", n)
	}
	for _, j := range jobs {
		checkJournal(t, s, j.st.JobID, 2, j.output)
	}
}
