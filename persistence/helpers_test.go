package persistence

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/actorhub/actorhub/actors"
	"github.com/actorhub/actorhub/events"
)

var (
	_ actors.Store = (*Redis)(nil)
	_ actors.Store = (*Bolt)(nil)
	_ actors.Store = Store(nil)
)

// waitFor polls fn until it returns nil or d passed, then fails with its last error.
func waitFor(t testing.TB, d time.Duration, fn func() error) {
	t.Helper()
	deadline := time.Now().Add(d)
	for {
		err := fn()
		if err == nil {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("not true after %v: %v", d, err)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// testConfig is DefaultLocalConfig: one-second retention, 50ms sweeps.
func testConfig() Config { return DefaultLocalConfig() }

// jobID returns an id unique to the test (the Redis tests share a server).
func jobID(t testing.TB, suffix string) string {
	return strings.NewReplacer("/", ".", "#", "-", " ", "_").Replace(t.Name()) + "." + suffix
}

func ctxT(t testing.TB) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	t.Cleanup(cancel)
	return ctx
}

// job plays a JobActor: it holds the state and makes the events it appends.
type job struct {
	st     events.JobState
	first  events.Event
	output string // all output ever applied
}

func newJob(id string) *job {
	st, first := events.NewJob(id, "user-1", "llm", json.RawMessage(`{"prompt":"hi"}`), 1_700_000_000_000)
	return &job{st: st, first: first}
}

// next makes n events named name with a chunk text each, applies them to the
// state and returns them with the output they add.
func (j *job) next(n int, name string, text string) (string, []events.Event) {
	var delta strings.Builder
	evs := make([]events.Event, 0, n)
	for i := 0; i < n; i++ {
		ev := events.Event{JobID: j.st.JobID, Seq: j.st.LastSequence + 1, Name: name, TS: j.st.UpdatedAt + 1}
		switch name {
		case events.Chunk:
			ev.Data = events.AppendJSONObject(nil, "chunk", fmt.Sprintf("%s%d,", text, ev.Seq))
		default:
			ev.Data = json.RawMessage(`{}`)
		}
		ev.Encode()
		delta.WriteString(j.st.Apply(&ev))
		evs = append(evs, ev)
	}
	j.output += delta.String()
	return delta.String(), evs
}

// chunks makes n chunk events.
func (j *job) chunks(n int) (string, []events.Event) { return j.next(n, events.Chunk, "tok") }

// create creates the job and adopts the epoch it got.
func (j *job) create(t testing.TB, s actors.Store) {
	t.Helper()
	got, created, err := s.Create(ctxT(t), j.st, j.first, "node-a")
	if err != nil || !created {
		t.Fatalf("Create(%s) = created %v, %v; want a new job", j.st.JobID, created, err)
	}
	j.st.Epoch = got.Epoch
}

// appendN appends n chunks and fails the test on error.
func (j *job) appendN(t testing.TB, s actors.Store, n int) {
	t.Helper()
	delta, evs := j.chunks(n)
	if err := s.Append(ctxT(t), j.st, delta, evs); err != nil {
		t.Fatalf("Append %d events to %s: %v", n, j.st.JobID, err)
	}
}

// checkJournal checks that the store holds exactly seqs 1..want of the job,
// with output wantOut.
func checkJournal(t testing.TB, s actors.Store, id string, want int64, wantOut string) {
	t.Helper()
	evs, err := s.Events(ctxT(t), id, 0, 100000)
	if err != nil {
		t.Fatalf("Events(%s): %v", id, err)
	}
	if int64(len(evs)) != want {
		t.Fatalf("Events(%s) returned %d events; want %d", id, len(evs), want)
	}
	for i, ev := range evs {
		if ev.Seq != int64(i+1) || ev.JobID != id || len(ev.Raw) == 0 {
			t.Fatalf("event %d of %s is seq %d job %s (%d bytes raw)", i, id, ev.Seq, ev.JobID, len(ev.Raw))
		}
	}
	st, err := s.Snapshot(ctxT(t), id)
	if err != nil {
		t.Fatalf("Snapshot(%s): %v", id, err)
	}
	if st.LastSequence != want || st.Output != wantOut {
		t.Fatalf("Snapshot(%s) at seq %d with output %q; want seq %d, output %q", id, st.LastSequence, st.Output, want, wantOut)
	}
}

func wantErr(t testing.TB, what string, err, target error) {
	t.Helper()
	if !errors.Is(err, target) {
		t.Fatalf("%s: error %v; want one wrapping %q", what, err, target)
	}
}
