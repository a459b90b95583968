package events

import (
	"encoding/json"
	"math/rand/v2"
	"reflect"
	"testing"
)

// TestJobStateAppendJSON: the hand encoder writes what json.Marshal writes
// (byte for byte where no string holds '<', '>' or '&'), and what it writes
// decodes to the same state in every case.
func TestJobStateAppendJSON(t *testing.T) {
	t.Parallel()
	errMsg, done := "boom \"quoted\"\n", int64(1700000000123)
	st, _ := NewJob("job-1", "alice", "llm", json.RawMessage(`{"prompt":"hi","n":[1,2]}`), 1700000000000)
	states := []JobState{st, {JobID: "j", Status: StatusRunning, Progress: 100}, {JobID: "k", Progress: -3}, {JobID: "z", Progress: 999999999999999}}
	st.Status, st.Progress, st.Output, st.Error, st.FailedAt = StatusFailed, 42.5, "tok tok", &errMsg, &done
	states = append(states, st)
	st.Status, st.Result, st.CompletedAt, st.Progress = StatusCompleted, json.RawMessage(`{"text":"x"}`), &done, 1e-7
	states = append(states, st)
	st.Output, st.UserID, st.Progress = "<b>&amp;</b> ünïcödé \u2028 \x01", "bob<script>", 1e21
	states = append(states, st)
	r := rand.New(rand.NewPCG(1, 2))
	for range 200 {
		st.Progress = r.Float64() * 100
		st.LastSequence, st.NextOffset, st.Epoch = r.Int64(), r.Int64N(1000), r.Uint64()
		states = append(states, st)
	}
	for i, st := range states {
		got := st.AppendJSON(nil)
		want, err := json.Marshal(st)
		if err != nil {
			t.Fatal(err)
		}
		var a, b JobState
		if err := json.Unmarshal(got, &a); err != nil {
			t.Fatalf("state %d: %s does not decode: %v", i, got, err)
		}
		_ = json.Unmarshal(want, &b)
		if !reflect.DeepEqual(a, b) {
			t.Fatalf("state %d decodes differently:\n got %s\nwant %s", i, got, want)
		}
		if i < 6 && string(got) != string(want) { // the later ones hold '<', '>' and '&'
			t.Fatalf("state %d:\n got %s\nwant %s", i, got, want)
		}
	}
}

func BenchmarkJobStateAppendJSON(b *testing.B) {
	st, _ := NewJob("job-1", "alice", "llm", json.RawMessage(`{"prompt":"write me a poem about the sea"}`), 1700000000000)
	st.Status, st.Progress, st.LastSequence = StatusRunning, 12.5, 40
	b.ReportAllocs()
	buf := make([]byte, 0, 512)
	for b.Loop() {
		buf = st.AppendJSON(buf[:0])
	}
}

func BenchmarkJobStateMarshal(b *testing.B) {
	st, _ := NewJob("job-1", "alice", "llm", json.RawMessage(`{"prompt":"write me a poem about the sea"}`), 1700000000000)
	st.Status, st.Progress, st.LastSequence = StatusRunning, 12.5, 40
	b.ReportAllocs()
	for b.Loop() {
		_, _ = json.Marshal(st)
	}
}

// TestAppendAck: the hand-written ack is the object json.Marshal would write.
func TestAppendAck(t *testing.T) {
	t.Parallel()
	for _, id := range []string{"job-1", `we"ird\id`, "ünï"} {
		for _, epoch := range []uint64{0, 3} {
			for _, node := range []string{"", "n2", `n"ö`} {
				want, _ := json.Marshal(WorkerAckFrame{TypeAck, id, 7, -1, epoch, node})
				if got := AppendAck(nil, id, 7, -1, epoch, node); string(got) != string(want) {
					t.Fatalf("got %s, want %s", got, want)
				}
			}
		}
	}
}
