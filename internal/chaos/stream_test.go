package chaos

import (
	"encoding/json"
	"testing"
	"time"

	"github.com/actorhub/actorhub/events"
)

// TestGapWindow: a window measures, per stream still running, the longest
// time without an event since it began, including the time from the last
// event to its end; a finished stream is left out, and ending the window
// stops the measuring.
func TestGapWindow(t *testing.T) {
	rec := newRecord([]string{"a", "b", "c"}, 1, 0, 10)
	h := rec.handler(clientName(0))
	seq := map[string]int64{}
	send := func(job, name string) {
		seq[job]++
		h(events.Event{JobID: job, Seq: seq[job], Name: name, Data: json.RawMessage(`{"chunk":"x"}`)})
	}
	send("c", events.Completed) // over before the window
	start := time.Now()
	rec.gapWindow(start)
	time.Sleep(30 * time.Millisecond)
	send("a", events.Chunk) // a: 30 ms or more without an event since the start
	send("a", events.Chunk)
	time.Sleep(40 * time.Millisecond)
	end := time.Now()
	gaps := rec.windowGaps(end) // a: ≥ 40 ms since its last event; b: nothing since the start
	if len(gaps) != 2 {
		t.Fatalf("windowGaps = %v; want one per running stream (a, b)", gaps)
	}
	for _, g := range gaps {
		if g < 40*time.Millisecond || g > end.Sub(start) {
			t.Fatalf("windowGaps = %v; want each between 40 ms and the window's %v", gaps, end.Sub(start))
		}
	}
	if again := rec.windowGaps(time.Now()); len(again) != 0 {
		t.Fatalf("windowGaps after the window ended = %v; want none", again)
	}
}

// TestFollowedSpreadsClients: with --follow each client follows that many
// jobs, the clients spread evenly over the jobs; 0 means every job.
func TestFollowedSpreadsClients(t *testing.T) {
	jobs := []string{"a", "b", "c", "d"}
	if got := followed(3, jobs, 0); len(got) != 4 {
		t.Fatalf("follow 0: %v, want every job", got)
	}
	count := map[string]int{}
	for k := range 8 {
		got := followed(k, jobs, 1)
		if len(got) != 1 {
			t.Fatalf("client %d follows %v, want one job", k, got)
		}
		count[got[0]]++
	}
	for _, j := range jobs {
		if count[j] != 2 {
			t.Fatalf("8 clients over 4 jobs: %v, want 2 on each", count)
		}
	}
	rec := newRecord(jobs, 8, 1, 10)
	if n := len(rec.clients[clientName(0)]); n != 1 {
		t.Fatalf("the record has client 1 on %d jobs, want 1", n)
	}
}
