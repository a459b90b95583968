package persistence

import (
	"bytes"
	"encoding/json"
	"fmt"
	"sort"
	"sync"
	"testing"
	"time"

	"github.com/actorhub/actorhub/actors"
	"github.com/actorhub/actorhub/analytics"
	"github.com/actorhub/actorhub/events"
)

// testStoreContract checks the behaviour of actors.Store that every store
// shares. open returns a new store (closed at the end of the test); stores
// opened by one call of testStoreContract may share their backing server, so
// every case uses job ids of its own. Config must be testConfig().
func testStoreContract(t *testing.T, open func(t *testing.T) actors.Store) {
	cases := []struct {
		name string
		fn   func(t *testing.T, s actors.Store)
	}{
		{"Create", contractCreate},
		{"CreateRace", contractCreateRace},
		{"AcquireBumpsEpoch", contractAcquire},
		{"AppendEventsSnapshot", contractAppend},
		{"Fencing", contractFencing},
		{"SeqMismatch", contractSeqMismatch},
		{"RetriedAppend", contractRetriedAppend},
		{"SnapshotOnlyAppend", contractSnapshotOnly},
		{"InvalidArguments", contractInvalid},
		{"EventsPaging", contractPaging},
		{"UnknownJob", contractUnknown},
		{"Release", contractRelease},
		{"Retention", contractRetention},
		{"ConcurrentAppends", contractConcurrent},
		{"AppendAsync", contractAppendAsync},
		{"LongJournal", contractLongJournal},
		{"Analytics", contractAnalytics},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			c.fn(t, open(t))
		})
	}
}

func contractCreate(t *testing.T, s actors.Store) {
	j := newJob(jobID(t, "a"))
	got, created, err := s.Create(ctxT(t), j.st, j.first, "node-a")
	if err != nil || !created {
		t.Fatalf("Create = created %v, %v; want created", created, err)
	}
	want := j.st
	want.Epoch = 1
	if !sameState(got, want) {
		t.Fatalf("Create returned %+v; want %+v", got, want)
	}
	other := j.st
	other.UserID = "someone-else"
	got, created, err = s.Create(ctxT(t), other, j.first, "node-b")
	if err != nil || created {
		t.Fatalf("second Create = created %v, %v; want the existing job", created, err)
	}
	want.Epoch = 2
	if !sameState(got, want) {
		t.Fatalf("second Create returned %+v; want the stored %+v", got, want)
	}
	evs, err := s.Events(ctxT(t), j.st.JobID, 0, 0)
	if err != nil || len(evs) != 1 || !bytes.Equal(evs[0].Raw, j.first.Raw) || evs[0].Name != events.Created {
		t.Fatalf("Events after Create = %v, %v; want the created event", evs, err)
	}
}

func contractCreateRace(t *testing.T, s actors.Store) {
	j := newJob(jobID(t, "a"))
	const n = 8
	var mu sync.Mutex
	var epochs []int
	createdCount := 0
	var wg sync.WaitGroup
	for i := range n {
		wg.Go(func() {
			got, created, err := s.Create(ctxT(t), j.st, j.first, fmt.Sprint("node-", i))
			if err != nil {
				t.Errorf("Create: %v", err)
				return
			}
			mu.Lock()
			defer mu.Unlock()
			epochs = append(epochs, int(got.Epoch))
			if created {
				createdCount++
			}
		})
	}
	wg.Wait()
	sort.Ints(epochs)
	if createdCount != 1 || fmt.Sprint(epochs) != "[1 2 3 4 5 6 7 8]" {
		t.Fatalf("%d concurrent Creates: %d created, epochs %v; want 1 created, epochs 1..8", n, createdCount, epochs)
	}
}

func contractAcquire(t *testing.T, s actors.Store) {
	j := newJob(jobID(t, "a"))
	j.create(t, s)
	j.appendN(t, s, 2)
	for want := uint64(2); want <= 4; want++ {
		st, err := s.Acquire(ctxT(t), j.st.JobID, "node-b")
		if err != nil || st.Epoch != want {
			t.Fatalf("Acquire = epoch %d, %v; want epoch %d", st.Epoch, err, want)
		}
		if st.Output != j.output || st.LastSequence != 3 {
			t.Fatalf("Acquire returned seq %d output %q; want 3, %q", st.LastSequence, st.Output, j.output)
		}
	}
	if st, err := s.Snapshot(ctxT(t), j.st.JobID); err != nil || st.Epoch != 4 {
		t.Fatalf("Snapshot after 3 Acquires = epoch %d, %v; want 4", st.Epoch, err)
	}
}

func contractAppend(t *testing.T, s actors.Store) {
	j := newJob(jobID(t, "a"))
	j.create(t, s)
	var all []events.Event
	for _, n := range []int{1, 3, 10} {
		delta, evs := j.chunks(n)
		if err := s.Append(ctxT(t), j.st, delta, evs); err != nil {
			t.Fatalf("Append %d: %v", n, err)
		}
		all = append(all, evs...)
	}
	j.st.NextOffset = 14
	_, evs := j.next(1, events.Progress, "")
	if err := s.Append(ctxT(t), j.st, "", evs); err != nil {
		t.Fatalf("Append progress: %v", err)
	}
	all = append(all, evs...)
	got, err := s.Events(ctxT(t), j.st.JobID, 1, 0)
	if err != nil || len(got) != len(all) {
		t.Fatalf("Events = %d events, %v; want %d", len(got), err, len(all))
	}
	for i := range all {
		if !bytes.Equal(got[i].Raw, all[i].Raw) || got[i].Seq != all[i].Seq || got[i].Name != all[i].Name ||
			!bytes.Equal(got[i].Data, all[i].Data) || got[i].TS != all[i].TS {
			t.Fatalf("event %d = %s; want %s", i, got[i].Raw, all[i].Raw)
		}
	}
	st, err := s.Snapshot(ctxT(t), j.st.JobID)
	want := j.st
	want.Output = j.output
	if err != nil || !sameState(st, want) {
		t.Fatalf("Snapshot = %+v, %v;\nwant %+v", st, err, want)
	}
}

func contractFencing(t *testing.T, s actors.Store) {
	a := newJob(jobID(t, "a"))
	a.create(t, s)
	a.appendN(t, s, 2)
	b := *a
	st, err := s.Acquire(ctxT(t), a.st.JobID, "node-b")
	if err != nil {
		t.Fatal(err)
	}
	b.st = st
	delta, evs := a.chunks(2)
	err = s.Append(ctxT(t), a.st, delta, evs)
	wantErr(t, "Append by the old owner", err, events.ErrFenced)
	checkJournal(t, s, a.st.JobID, 3, b.output)
	b.appendN(t, s, 1)
	checkJournal(t, s, a.st.JobID, 4, b.output)
}

func contractSeqMismatch(t *testing.T, s actors.Store) {
	j := newJob(jobID(t, "a"))
	j.create(t, s)
	j.appendN(t, s, 2)
	before := j.output
	for _, c := range []struct {
		name string
		skip int // events made and dropped before the appended one
	}{{"gap", 2}, {"behind", -1}} {
		k := *j
		if c.skip < 0 {
			k.st.LastSequence-- // a second writer that thinks seq 3 is free
		}
		_, _ = k.chunks(max(c.skip, 0))
		delta, evs := k.next(1, events.Chunk, "other")
		err := s.Append(ctxT(t), k.st, delta, evs)
		wantErr(t, "Append "+c.name, err, events.ErrFenced)
	}
	checkJournal(t, s, j.st.JobID, 3, before)
}

func contractRetriedAppend(t *testing.T, s actors.Store) {
	j := newJob(jobID(t, "a"))
	j.create(t, s)
	st0 := j.st
	delta, evs := j.chunks(3)
	for i := 0; i < 2; i++ { // the second one is a retry after a lost reply
		if err := s.Append(ctxT(t), j.st, delta, evs); err != nil {
			t.Fatalf("Append (try %d): %v", i+1, err)
		}
	}
	checkJournal(t, s, j.st.JobID, 4, j.output)
	k := &job{st: st0}
	delta, evs = k.next(3, events.Chunk, "other") // same seqs, other events: another writer's
	wantErr(t, "Append of other events at the same seqs", s.Append(ctxT(t), k.st, delta, evs), events.ErrFenced)
	checkJournal(t, s, j.st.JobID, 4, j.output)
}

func contractSnapshotOnly(t *testing.T, s actors.Store) {
	j := newJob(jobID(t, "a"))
	j.create(t, s)
	j.appendN(t, s, 1)
	j.st.NextOffset = 7
	if err := s.Append(ctxT(t), j.st, "", nil); err != nil {
		t.Fatalf("snapshot-only Append: %v", err)
	}
	st, err := s.Snapshot(ctxT(t), j.st.JobID)
	if err != nil || st.NextOffset != 7 || st.Output != j.output {
		t.Fatalf("Snapshot = offset %d output %q, %v; want 7, %q", st.NextOffset, st.Output, err, j.output)
	}
	stale := j.st
	stale.LastSequence = 1
	wantErr(t, "snapshot-only Append at an old seq", s.Append(ctxT(t), stale, "", nil), events.ErrFenced)
}

func contractInvalid(t *testing.T, s actors.Store) {
	j := newJob(jobID(t, "a"))
	j.create(t, s)
	_, evs := j.chunks(3)
	st := j.st
	other := newJob(jobID(t, "other"))
	_, otherEvs := other.chunks(1)
	noRaw := append([]events.Event(nil), evs...)
	noRaw[1].Raw = nil
	cases := []struct {
		name  string
		st    events.JobState
		delta string
		evs   []events.Event
	}{
		{"not contiguous", st, "", []events.Event{evs[0], evs[2]}},
		{"state not at last event", st, "", evs[:2]},
		{"event of another job", st, "", otherEvs},
		{"no Raw", st, "", noRaw},
		{"output without events", st, "x", nil},
		{"no job id", events.JobState{}, "", nil},
	}
	for _, c := range cases {
		wantErr(t, "Append "+c.name, s.Append(ctxT(t), c.st, c.delta, c.evs), ErrInvalid)
	}
	bad := newJob("bad{id}")
	_, _, err := s.Create(ctxT(t), bad.st, bad.first, "n")
	wantErr(t, "Create with a bad id", err, ErrInvalid)
	checkJournal(t, s, j.st.JobID, 1, "")
}

func contractPaging(t *testing.T, s actors.Store) {
	j := newJob(jobID(t, "a"))
	j.create(t, s)
	j.appendN(t, s, 25) // seqs 1..26
	cases := []struct {
		after      int64
		limit      int
		first, cnt int64
	}{
		{0, 10, 1, 10}, {10, 10, 11, 10}, {20, 10, 21, 6}, {26, 10, 0, 0}, {100, 10, 0, 0},
		{0, 0, 1, 26}, {0, -1, 1, 26}, {-5, 3, 1, 3}, {25, 1, 26, 1},
	}
	for _, c := range cases {
		evs, err := s.Events(ctxT(t), j.st.JobID, c.after, c.limit)
		if err != nil || evs == nil || int64(len(evs)) != c.cnt {
			t.Fatalf("Events(after %d, limit %d) = %d events (nil %v), %v; want %d", c.after, c.limit, len(evs), evs == nil, err, c.cnt)
		}
		for i, ev := range evs {
			if ev.Seq != c.first+int64(i) {
				t.Fatalf("Events(after %d, limit %d)[%d] is seq %d; want %d", c.after, c.limit, i, ev.Seq, c.first+int64(i))
			}
		}
	}
}

func contractUnknown(t *testing.T, s actors.Store) {
	id := jobID(t, "nope")
	_, err := s.Acquire(ctxT(t), id, "n")
	wantErr(t, "Acquire", err, events.ErrJobNotFound)
	_, err = s.Snapshot(ctxT(t), id)
	wantErr(t, "Snapshot", err, events.ErrJobNotFound)
	_, err = s.Events(ctxT(t), id, 0, 10)
	wantErr(t, "Events", err, events.ErrJobNotFound)
	j := newJob(id)
	j.st.Epoch = 1
	delta, evs := j.chunks(1)
	wantErr(t, "Append", s.Append(ctxT(t), j.st, delta, evs), events.ErrJobNotFound)
	_, _, err = s.Holder(ctxT(t), id)
	wantErr(t, "Holder", err, events.ErrJobNotFound)
	if err := s.Release(ctxT(t), id, 1); err != nil {
		t.Fatalf("Release of an unknown job: %v; want a no-op", err)
	}
	if err := s.Ping(ctxT(t)); err != nil {
		t.Fatalf("Ping: %v", err)
	}
}

func contractRelease(t *testing.T, s actors.Store) {
	j := newJob(jobID(t, "a"))
	j.create(t, s)
	holder := func(want string, wantEpoch uint64) {
		t.Helper()
		if got, epoch, err := s.Holder(ctxT(t), j.st.JobID); got != want || epoch != wantEpoch || err != nil {
			t.Fatalf("Holder = %q at epoch %d, %v; want %q at epoch %d", got, epoch, err, want, wantEpoch)
		}
	}
	holder("node-a", 1) // job.create makes it as node-a
	if _, err := s.Acquire(ctxT(t), j.st.JobID, "node-b"); err != nil {
		t.Fatal(err)
	}
	holder("node-b", 2)
	for _, epoch := range []uint64{1, 2, 2, 9} { // stale, current, again, future
		if err := s.Release(ctxT(t), j.st.JobID, epoch); err != nil {
			t.Fatalf("Release(epoch %d): %v", epoch, err)
		}
		if epoch == 1 {
			holder("node-b", 2) // a stale release changes nothing
		}
	}
	holder("", 2) // a release keeps the epoch
	st, err := s.Snapshot(ctxT(t), j.st.JobID)
	if err != nil || st.Epoch != 2 {
		t.Fatalf("Snapshot after Release = epoch %d, %v; want 2 (Release keeps the epoch)", st.Epoch, err)
	}
	if st, err = s.Acquire(ctxT(t), j.st.JobID, "node-c"); err != nil || st.Epoch != 3 {
		t.Fatalf("Acquire after Release = epoch %d, %v; want 3", st.Epoch, err)
	}
}

func contractRetention(t *testing.T, s actors.Store) {
	done, running := newJob(jobID(t, "done")), newJob(jobID(t, "running"))
	for _, j := range []*job{done, running} {
		j.create(t, s)
		j.appendN(t, s, 2)
	}
	_, evs := done.next(1, events.Completed, "")
	if err := s.Append(ctxT(t), done.st, "", evs); err != nil {
		t.Fatal(err)
	}
	checkJournal(t, s, done.st.JobID, 4, done.output) // still there right after
	waitFor(t, 5*time.Second, func() error {
		_, err := s.Snapshot(ctxT(t), done.st.JobID)
		if err == nil {
			return fmt.Errorf("job %s still there", done.st.JobID)
		}
		wantErr(t, "Snapshot of an expired job", err, events.ErrJobNotFound)
		return nil
	})
	_, err := s.Events(ctxT(t), done.st.JobID, 0, 0)
	wantErr(t, "Events of an expired job", err, events.ErrJobNotFound)
	checkJournal(t, s, running.st.JobID, 3, running.output) // a running job stays
	again := newJob(done.st.JobID)                          // the id is free again
	again.create(t, s)
	checkJournal(t, s, done.st.JobID, 1, "")
}

func contractConcurrent(t *testing.T, s actors.Store) {
	const jobs, appends, per = 40, 15, 3
	var wg sync.WaitGroup
	js := make([]*job, jobs)
	for i := range js {
		js[i] = newJob(jobID(t, fmt.Sprint(i)))
		wg.Go(func() {
			j := js[i]
			if _, _, err := s.Create(ctxT(t), j.st, j.first, "n"); err != nil {
				t.Errorf("Create: %v", err)
				return
			}
			j.st.Epoch = 1
			for range appends {
				delta, evs := j.chunks(per)
				if err := s.Append(ctxT(t), j.st, delta, evs); err != nil {
					t.Errorf("Append to %s: %v", j.st.JobID, err)
					return
				}
			}
		})
	}
	wg.Wait()
	if t.Failed() {
		return
	}
	for _, j := range js {
		checkJournal(t, s, j.st.JobID, 1+appends*per, j.output)
	}
}

// sameState compares two states field by field (JSON fields compare as text).
func sameState(a, b events.JobState) bool {
	ja, _ := json.Marshal(a)
	jb, _ := json.Marshal(b)
	return bytes.Equal(ja, jb)
}

// contractAppendAsync: appends whose outcome comes through a callback are
// journaled (those of many jobs, queued back to back, share commits), each
// callback runs once, and a stale owner's async append is fenced like a
// blocking one. Like Append, one job has one append in flight at a time.
func contractAppendAsync(t *testing.T, s actors.Store) {
	aa, ok := s.(actors.AsyncAppender)
	if !ok {
		t.Fatalf("%T does not implement actors.AsyncAppender", s)
	}
	jobs := make([]*job, 20)
	sent := make([][][]byte, len(jobs)) // each job's events as appended
	results := make(chan error, len(jobs))
	for round := range 4 {
		for i := range jobs {
			if round == 0 {
				jobs[i] = newJob(jobID(t, fmt.Sprintf("a%d", i)))
				jobs[i].create(t, s)
				sent[i] = [][]byte{jobs[i].first.Raw}
			}
			// appends of one and of two events, each job with a worker offset
			// of its own: a store that reuses its buffers from one append to
			// the next must not mix them up
			delta, evs := jobs[i].chunks(1 + (i+round)%2)
			jobs[i].st.NextOffset = int64(1000*i + 10*round + len(evs))
			for _, ev := range evs {
				sent[i] = append(sent[i], ev.Raw)
			}
			aa.AppendAsync(jobs[i].st, delta, evs, func(err error) { results <- err })
		}
		for range jobs {
			if err := <-results; err != nil {
				t.Fatalf("round %d: async append: %v", round, err)
			}
		}
	}
	for i, j := range jobs {
		checkJournal(t, s, j.st.JobID, int64(len(sent[i])), j.output)
		evs, err := s.Events(ctxT(t), j.st.JobID, 0, 100)
		if err != nil {
			t.Fatal(err)
		}
		for k, ev := range evs {
			if !bytes.Equal(ev.Raw, sent[i][k]) {
				t.Fatalf("%s: event %d reads back as %s; appended %s", j.st.JobID, ev.Seq, ev.Raw, sent[i][k])
			}
		}
		if st, err := s.Snapshot(ctxT(t), j.st.JobID); err != nil || st.NextOffset != j.st.NextOffset {
			t.Fatalf("%s: worker offset %d, %v; want %d", j.st.JobID, st.NextOffset, err, j.st.NextOffset)
		}
	}
	j := jobs[0]
	if _, err := s.Acquire(ctxT(t), j.st.JobID, "node-b"); err != nil {
		t.Fatal(err)
	}
	delta, evs := j.chunks(1) // j.st keeps the old epoch
	aa.AppendAsync(j.st, delta, evs, func(err error) { results <- err })
	wantErr(t, "async append by the old owner", <-results, events.ErrFenced)
	select {
	case err := <-results:
		t.Fatalf("a callback ran twice: %v", err)
	default:
	}
}

// contractLongJournal: a job's state reads back right at every seq of a long
// journal (a store may keep its snapshot behind the journal and fold the
// events in between: the Redis store does), worker offset and output
// included, and a takeover there carries on from it.
func contractLongJournal(t *testing.T, s actors.Store) {
	j := newJob(jobID(t, "a"))
	j.create(t, s)
	check := func(what string) {
		t.Helper()
		st, err := s.Snapshot(ctxT(t), j.st.JobID)
		want := j.st
		want.Output = j.output
		if err != nil || !sameState(st, want) {
			t.Fatalf("Snapshot %s = %+v, %v;\nwant %+v", what, st, err, want)
		}
	}
	for i := range 90 {
		n := 1 + i%3 // appends of 1, 2 and 3 events cross the snapshot points at every phase
		j.st.NextOffset += int64(n)
		j.appendN(t, s, n)
		check(fmt.Sprint("after append ", i))
	}
	_, evs := j.next(1, events.Progress, "")
	if err := s.Append(ctxT(t), j.st, "", evs); err != nil { // an event without an offset keeps the last one
		t.Fatal(err)
	}
	check("after an event without an offset")
	st, err := s.Acquire(ctxT(t), j.st.JobID, "node-b")
	want := j.st
	want.Epoch++
	want.Output = j.output
	if err != nil || !sameState(st, want) {
		t.Fatalf("Acquire = %+v, %v;\nwant %+v", st, err, want)
	}
	j.st.Epoch = st.Epoch
	for i := range 40 {
		j.st.NextOffset++
		j.appendN(t, s, 1)
		if i%13 == 0 {
			check(fmt.Sprint("after the takeover's append ", i))
		}
	}
	_, evs = j.next(1, events.Completed, "")
	if err := s.Append(ctxT(t), j.st, "", evs); err != nil {
		t.Fatal(err)
	}
	check("after the terminal event")
	checkJournal(t, s, j.st.JobID, j.st.LastSequence, j.output)
}

// contractAnalytics: batches of several nodes add up; a user counts once a day;
// days are apart; what is older than the retention goes.
func contractAnalytics(t *testing.T, s actors.Store) {
	as, ok := s.(analytics.Store)
	if !ok {
		t.Fatalf("%T keeps no analytics", s)
	}
	// a day of this case's own: stores of one run may share their server
	day := fmt.Sprintf("2099-01-%02d", 1+time.Now().UnixNano()%28)
	other := "2098-12-31"
	llm := func(name string) analytics.Key { return analytics.Key{Name: name, Type: "llm"} }
	for node := 0; node < 3; node++ { // three nodes flush their shares
		b := analytics.NewBatch()
		for u := 0; u < 50; u++ {
			b.User(day, fmt.Sprintf("user-%d", u+node*25)) // users 0..99, most seen by two nodes
		}
		b.User(other, "someone")
		b.Add(day, llm(analytics.JobsCreated), 10)
		b.Add(day, analytics.Key{Name: analytics.Sessions}, 7)
		for v := 1; v <= 100; v++ {
			b.Observe(day, llm(analytics.TTFTMillis), float64(v))
		}
		if err := as.Flush(ctxT(t), b, time.Hour); err != nil {
			t.Fatal(err)
		}
	}
	n, err := as.DAU(ctxT(t), day)
	if err != nil || n < 99 || n > 101 { // HyperLogLog on Redis: within its error
		t.Fatalf("DAU = %d, %v; want 100", n, err)
	}
	if n, err := as.DAU(ctxT(t), other); err != nil || n != 1 {
		t.Fatalf("DAU of the other day = %d, %v; want 1", n, err)
	}
	counters, hists, err := as.Day(ctxT(t), day)
	if err != nil {
		t.Fatal(err)
	}
	if counters[llm(analytics.JobsCreated)] != 30 || counters[analytics.Key{Name: analytics.Sessions}] != 21 {
		t.Fatalf("counters %v", counters)
	}
	sum := hists[llm(analytics.TTFTMillis)].Summarize()
	if sum.Count != 300 || sum.P50 < 48 || sum.P50 > 52 || sum.P99 < 97 || sum.P99 > 102 {
		t.Fatalf("ttft %+v; want 300 values with p50 ≈ 50, p99 ≈ 99", sum)
	}
	if n, err := as.DAU(ctxT(t), "2097-01-01"); err != nil || n != 0 {
		t.Fatalf("DAU of a day without figures = %d, %v", n, err)
	}
}
