package chaos

import (
	"encoding/json"
	"slices"
	"testing"
	"time"

	"github.com/actorhub/actorhub/events"
)

// testSlots returns slots of the jobs, each followed by client 0.
func testSlots(jobs ...string) []*slot {
	var out []*slot
	for i, j := range jobs {
		out = append(out, &slot{idx: i, job: j, followers: []int{0}})
	}
	return out
}

// TestGapWindow: a window measures, per stream still running, the longest
// time without an event since it began, including the time from the last
// event to its end; a finished stream is left out, and ending the window
// stops the measuring.
func TestGapWindow(t *testing.T) {
	rec := newRecord(testSlots("a", "b", "c"), 1, 10)
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
	if got := followedSlots(3, 4, 0); !slices.Equal(got, []int{0, 1, 2, 3}) {
		t.Fatalf("follow 0: %v, want every slot", got)
	}
	count := map[int]int{}
	for k := range 8 {
		got := followedSlots(k, 4, 1)
		if len(got) != 1 {
			t.Fatalf("client %d follows %v, want one slot", k, got)
		}
		count[got[0]]++
	}
	for i := range 4 {
		if count[i] != 2 {
			t.Fatalf("8 clients over 4 slots: %v, want 2 on each", count)
		}
	}
	cfg := Config{Jobs: 4, Clients: 8, Follow: 1, JobChunks: 8, Seed: 5}
	slots := newSlots(cfg)
	rec := newRecord(slots, cfg.Clients, 10)
	if n := len(rec.clients[clientName(0)]); n != 1 {
		t.Fatalf("the record has client 1 on %d jobs, want 1", n)
	}
	var limits []int
	for _, s := range slots {
		limits = append(limits, s.limit)
		if len(s.followers) != 2 {
			t.Fatalf("slot %d has followers %v, want 2", s.idx, s.followers)
		}
	}
	if !slices.Equal(limits, []int{2, 4, 6, 8}) {
		t.Fatalf("first generation lengths %v, want them spread over 1…JobChunks", limits)
	}
}

// TestRecordRetiresJobs: a job dropped from the record takes its clients'
// text with it, and its late events are not counted against anyone.
func TestRecordRetiresJobs(t *testing.T) {
	cfg := Config{Jobs: 2, Clients: 2, Follow: 1, JobChunks: 4, Seed: 5}
	slots := newSlots(cfg)
	rec := newRecord(slots, cfg.Clients, 10)
	job := slots[0].job
	h := rec.handler(clientName(slots[0].followers[0]))
	h(events.Event{JobID: job, Seq: 1, Name: events.Completed, Data: []byte(`{}`)})
	if !rec.terminalSeen(job) {
		t.Fatal("terminalSeen after the only follower saw the terminal event = false")
	}
	rec.addJob("next", []string{clientName(slots[0].followers[0])})
	if rec.terminalSeen("next") {
		t.Fatal("terminalSeen of a job nobody saw end = true")
	}
	rec.dropJob(job)
	h(events.Event{JobID: job, Seq: 2, Name: events.Chunk, Data: []byte(`{"chunk":"x"}`)})
	if got := rec.jobs(); !slices.Equal(got, []string{slots[1].job, "next"}) {
		t.Fatalf("jobs after the drop = %v", got)
	}
	if n := rec.violN[Inv1Seq] + rec.violN[Inv5Journal]; n != 0 {
		t.Fatalf("a late event of a retired job counted %d violations: %v", n, rec.viol)
	}
}
