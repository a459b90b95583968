package client

import (
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/actorhub/actorhub/events"
)

// logState is a jobLog's counters, for comparisons.
type logState struct{ next, acked, sent, pend int64 }

func stateOf(l *jobLog) logState {
	return logState{l.next, l.acked, l.sent, int64(len(l.pend))}
}

func checkInvariants(t *testing.T, l *jobLog) {
	t.Helper()
	if !(l.acked <= l.sent && l.sent <= l.next) {
		t.Fatalf("acked %d ≤ sent %d ≤ next %d does not hold", l.acked, l.sent, l.next)
	}
	if int64(len(l.pend)) != l.next-l.acked {
		t.Fatalf("%d pending, want next-acked = %d", len(l.pend), l.next-l.acked)
	}
	for i, p := range l.pend {
		if p.offset != l.acked+int64(i) {
			t.Fatalf("pend[%d].offset = %d, want %d", i, p.offset, l.acked+int64(i))
		}
	}
}

func TestJobLog(t *testing.T) {
	t.Parallel()
	now := time.Unix(1000, 0)
	type op struct {
		do   string // add N | send N | ack N | gap N | rewind | resume N
		n    int64
		want logState
		// ack: events released; gap: resend; rewind: count; resume: ok
		ret any
	}
	for _, tc := range []struct {
		name string
		ops  []op
	}{
		{"pipelined acks", []op{
			{"add", 3, logState{3, 0, 0, 3}, nil},
			{"send", 2, logState{3, 0, 2, 3}, nil},
			{"ack", 1, logState{3, 1, 2, 2}, 1},
			{"ack", 1, logState{3, 1, 2, 2}, 0}, // repeated ack
			{"ack", 0, logState{3, 1, 2, 2}, 0}, // stale ack
			{"send", 1, logState{3, 1, 3, 2}, nil},
			{"ack", 3, logState{3, 3, 3, 0}, 2}, // one ack covers two emits
		}},
		{"ack of unsent offsets (another writer)", []op{
			{"add", 2, logState{2, 0, 0, 2}, nil},
			{"ack", 5, logState{5, 5, 5, 0}, 2},
			{"add", 1, logState{6, 5, 5, 1}, nil},
		}},
		{"offset gap", []op{
			{"add", 5, logState{5, 0, 0, 5}, nil},
			{"send", 5, logState{5, 0, 5, 5}, nil},
			{"gap", 2, logState{5, 2, 2, 3}, true},
			{"send", 1, logState{5, 2, 3, 3}, nil},
			{"gap", 2, logState{5, 2, 3, 3}, false}, // same batch refused alike: resend once
			{"gap", 4, logState{5, 4, 4, 1}, true},
			{"gap", 1, logState{5, 4, 4, 1}, true}, // below acked: a late answer, resend
			{"gap", 1, logState{5, 4, 4, 1}, true}, // still taken for late
			{"gap", 1, logState{5, 4, 4, 1}, true}, // a burst of late answers (maxStaleGaps in a row: TestJobLogStaleEpoch)
		}},
		{"gap with nothing left", []op{
			{"add", 2, logState{2, 0, 0, 2}, nil},
			{"send", 2, logState{2, 0, 2, 2}, nil},
			{"gap", 2, logState{2, 2, 2, 0}, false},
		}},
		{"reconnect rewinds", []op{
			{"add", 4, logState{4, 0, 0, 4}, nil},
			{"send", 3, logState{4, 0, 3, 4}, nil},
			{"ack", 1, logState{4, 1, 3, 3}, 1},
			{"rewind", 0, logState{4, 1, 1, 3}, 2},
			{"rewind", 0, logState{4, 1, 1, 3}, 0},
		}},
		{"resume", []op{
			{"resume", -1, logState{0, 0, 0, 0}, false},
			{"resume", 7, logState{7, 7, 7, 0}, true},
			{"add", 1, logState{8, 7, 7, 1}, nil},
			{"resume", 9, logState{8, 7, 7, 1}, false}, // pending
		}},
	} {
		l := newJobLog()
		for i, o := range tc.ops {
			var ret any
			switch o.do {
			case "add":
				for k := int64(0); k < o.n; k++ {
					l.add([]byte(fmt.Sprint(l.next)), now)
				}
			case "send":
				l.markSent(int(o.n), now)
			case "ack":
				var released []int64
				ret = l.ack(o.n, func(p *pendingEvent) { released = append(released, p.offset) })
				for k, off := range released {
					if k > 0 && off != released[k-1]+1 {
						t.Errorf("%s: op %d released offsets %v, not in order", tc.name, i, released)
					}
				}
			case "gap":
				resend, ok := l.gap(o.n, 0)
				ret = resend
				if !ok {
					ret = "unresolvable"
				}
			case "rewind":
				ret = l.rewind()
			case "resume":
				ret = l.resume(o.n) == nil
			}
			if got := stateOf(&l); got != o.want {
				t.Errorf("%s: op %d (%s %d): state %+v, want %+v", tc.name, i, o.do, o.n, got, o.want)
			}
			if o.ret != nil && fmt.Sprint(ret) != fmt.Sprint(o.ret) {
				t.Errorf("%s: op %d (%s %d) returned %v, want %v", tc.name, i, o.do, o.n, ret, o.ret)
			}
			checkInvariants(t, &l)
		}
	}
}

func TestJobLogInflight(t *testing.T) {
	t.Parallel()
	l := newJobLog()
	t0 := time.Unix(1000, 0)
	l.add(nil, t0)
	l.add(nil, t0)
	if _, ok := l.oldestInflight(); ok {
		t.Fatal("nothing was sent, yet an event is in flight")
	}
	l.markSent(1, t0.Add(time.Second))
	l.markSent(1, t0.Add(2*time.Second))
	if at, ok := l.oldestInflight(); !ok || !at.Equal(t0.Add(time.Second)) {
		t.Fatalf("oldest in flight = %v %v, want %v", at, ok, t0.Add(time.Second))
	}
	l.ack(1, nil)
	if at, _ := l.oldestInflight(); !at.Equal(t0.Add(2 * time.Second)) {
		t.Fatalf("after an ack, oldest in flight = %v, want %v", at, t0.Add(2*time.Second))
	}
}

// testLane is a lane with no goroutine, for the decisions taken under its mutex.
func testLane(limit int, onAck func(string, int64, time.Time)) *lane {
	cfg := workerDefaults(WorkerConfig{OnAck: onAck, Backoff: Backoff{Min: time.Hour, Max: time.Hour}})
	w := &Worker{cfg: cfg, log: slog.New(slog.DiscardHandler), errs: map[string]int64{}}
	l := &lane{w: w, byID: map[string]*job{}, frameLimit: limit, wake: make(chan struct{}, 1)}
	w.lanes = []*lane{l}
	return l
}

func (l *lane) testJob(id string, lines ...string) *job {
	j := l.w.job(id)
	for _, s := range lines {
		j.log.add([]byte(s), time.Now())
		l.markDirty(j)
	}
	return j
}

func TestCollectFrame(t *testing.T) {
	t.Parallel()
	l := testLane(12, nil)
	a := l.testJob("a", "a0", "a1", "a2")
	b := l.testJob("b", "b0", "b1")
	now := time.Now()
	var frames []string
	for f := l.collectFrame(now); f != nil; f = l.collectFrame(now) {
		frames = append(frames, string(f))
	}
	// 12 bytes hold four 2-byte objects and their separators
	want := []string{"a0\na1\na2\nb0", "b1"}
	if strings.Join(frames, "|") != strings.Join(want, "|") {
		t.Errorf("frames %q, want %q", frames, want)
	}
	if a.log.sent != 3 || b.log.sent != 2 || len(l.dirty) != 0 {
		t.Errorf("after collecting: sent a=%d b=%d, %d dirty; want 3, 2, 0", a.log.sent, b.log.sent, len(l.dirty))
	}
	// a transient refusal of b: nothing of b goes before its retry time
	l.mu.Lock()
	l.refusedLocked(b, events.CodeUnavailable, "store down", -1, 0, 0, now, nil)
	l.mu.Unlock()
	if f := l.collectFrame(now); f != nil {
		t.Errorf("collected %q before the retry time", f)
	}
	if f := l.collectFrame(now.Add(2 * time.Hour)); string(f) != "b0\nb1" {
		t.Errorf("after the retry time collected %q, want b0\\nb1", f)
	}
}

func TestRefused(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		code      string
		next      int64
		wantErr   error // nil: no terminal error
		wantSent  int64
		wantAcked int64
	}{
		{events.CodeOffsetGap, 1, nil, 1, 1},
		{events.CodeOffsetGap, -1, ErrOffsetGap, 0, 0},
		{events.CodeJobFinished, 2, ErrJobFinished, 2, 2},
		{events.CodeJobFinished, -1, ErrJobFinished, 0, 0},
		{events.CodeNotFound, -1, ErrJobNotFound, 0, 0},
		{events.CodeInvalidEvent, -1, errAny, 0, 0},
		{events.CodeBadEventName, -1, errAny, 0, 0},
		{events.CodeUnavailable, -1, nil, 0, 0},
		{"some_future_code", -1, nil, 0, 0},
	} {
		var got []int64
		l := testLane(1<<10, func(_ string, off int64, _ time.Time) { got = append(got, off) })
		j := l.testJob("j", "0", "1", "2")
		l.collectFrame(time.Now())
		l.mu.Lock()
		out := l.refusedLocked(j, tc.code, "msg", tc.next, 0, 0, time.Now(), nil)
		l.mu.Unlock()
		l.reportAcks(out)
		switch {
		case tc.wantErr == nil && j.err != nil:
			t.Errorf("%s next %d: terminal error %v, want none", tc.code, tc.next, j.err)
		case tc.wantErr != nil && j.err == nil:
			t.Errorf("%s next %d: no terminal error", tc.code, tc.next)
		case tc.wantErr != nil && tc.wantErr != errAny && !errors.Is(j.err, tc.wantErr):
			t.Errorf("%s next %d: error %v is not %v", tc.code, tc.next, j.err, tc.wantErr)
		}
		if j.log.sent != tc.wantSent || j.log.acked != tc.wantAcked {
			t.Errorf("%s next %d: sent %d acked %d, want %d %d", tc.code, tc.next, j.log.sent, j.log.acked, tc.wantSent, tc.wantAcked)
		}
		if int64(len(got)) != tc.wantAcked {
			t.Errorf("%s next %d: OnAck for %v, want offsets below %d", tc.code, tc.next, got, tc.wantAcked)
		}
		if j.err != nil && len(j.log.pend) != 0 {
			t.Errorf("%s: %d events still pending after a terminal error", tc.code, len(j.log.pend))
		}
	}
}

var errAny = errors.New("any error")

func TestEncodeEmit(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		job, event string
		data       any
		wantCode   string
		want       string
	}{
		{"j", events.Chunk, map[string]any{"chunk": "hi", "ts": 1}, "", `{"chunk":"hi","ts":1}`},
		{"j", events.Chunk, []byte(`{ "chunk" : "hi" }`), "", `{"chunk":"hi"}`},
		{"j", "search:result:v1", nil, "", `{}`},
		{"j", "model:chunk", nil, events.CodeBadEventName, ""},
		{"j", events.Created, nil, events.CodeInvalidEvent, ""},
		{"j", events.Chunk, map[string]any{"text": "no chunk"}, events.CodeInvalidEvent, ""},
		{"j", events.Progress, []int{1}, events.CodeInvalidEvent, ""},
		{"j", events.Chunk, make(chan int), events.CodeInvalidEvent, ""},
		{"a/b", events.Chunk, nil, events.CodeBadRequest, ""},
	} {
		raw, err := encodeEmit(tc.job, tc.event, tc.data)
		switch {
		case tc.wantCode == "" && err != nil:
			t.Errorf("%s %v: %v", tc.event, tc.data, err)
		case tc.wantCode != "" && (err == nil || err.Code != tc.wantCode):
			t.Errorf("%s %v: error %v, want code %s", tc.event, tc.data, err, tc.wantCode)
		case tc.wantCode == "" && string(raw) != tc.want:
			t.Errorf("%s %v: data %s, want %s", tc.event, tc.data, raw, tc.want)
		}
	}
}

func TestParseRetryAfter(t *testing.T) {
	t.Parallel()
	now := time.Date(2026, 11, 26, 12, 0, 0, 0, time.UTC)
	for _, tc := range []struct {
		v    string
		want time.Duration
	}{
		{"", 0}, {"0", 0}, {"3", 3 * time.Second}, {"-5", 0}, {"3600", time.Minute}, {"soon", 0},
		{now.Add(10 * time.Second).Format(http.TimeFormat), 10 * time.Second},
		{now.Add(-time.Hour).Format(http.TimeFormat), 0},
	} {
		if got := parseRetryAfter(tc.v, now); got != tc.want {
			t.Errorf("parseRetryAfter(%q) = %v, want %v", tc.v, got, tc.want)
		}
	}
}

func TestEmitErrorIs(t *testing.T) {
	t.Parallel()
	e := &EmitError{JobID: "j", Code: events.CodeJobFinished, NextOffset: 4}
	var err error = fmt.Errorf("flush: %w", e)
	if !errors.Is(err, ErrJobFinished) || errors.Is(err, ErrOffsetGap) {
		t.Errorf("errors.Is on %v: finished %v gap %v", err, errors.Is(err, ErrJobFinished), errors.Is(err, ErrOffsetGap))
	}
	var ee *EmitError
	if !errors.As(err, &ee) || ee.NextOffset != 4 {
		t.Errorf("errors.As lost the *EmitError: %v", err)
	}
	if !strings.Contains(e.Error(), "job_finished") || !strings.Contains(e.Error(), "4") {
		t.Errorf("Error() = %q: says neither the code nor the offset", e.Error())
	}
}

// TestJobLogStaleEpoch: refusals from an incarnation older than one that
// acked are late answers (resend, never fatal); from the newest one,
// maxStaleGaps below acked in a row mean events were lost.
func TestJobLogStaleEpoch(t *testing.T) {
	l := newJobLog()
	now := time.Now()
	for range 10 {
		l.add([]byte("e"), now)
	}
	l.markSent(10, now)
	l.seeEpoch(2)
	if n := l.ack(5, nil); n != 5 {
		t.Fatalf("ack released %d", n)
	}
	for i := range 5 {
		resend, ok := l.gap(3, 1)
		if !ok || !resend || l.acked != 5 || l.sent != 5 {
			t.Fatalf("old-epoch refusal %d: resend %v ok %v, acked %d sent %d; want a resend from 5", i, resend, ok, l.acked, l.sent)
		}
		l.markSent(5, now)
	}
	var ok bool
	for i := range maxStaleGaps {
		if _, ok = l.gap(3, 2); !ok && i < maxStaleGaps-1 {
			t.Fatalf("a burst of %d late refusals below acked ended the stream", i+1)
		}
	}
	if ok {
		t.Fatalf("%d refusals below acked from the newest incarnation were taken for late answers", maxStaleGaps)
	}
	checkInvariants(t, &l)

	// a job made anew under the same id (its epochs start over) still ends
	// the stream once the late answers pass their bound
	l = newJobLog()
	l.add([]byte("e"), now)
	l.add([]byte("e"), now)
	l.markSent(2, now)
	l.seeEpoch(5)
	l.ack(1, nil)
	ok = true
	n := 0
	for ok && n < maxLateAnswers+maxStaleGaps+1 {
		_, ok = l.gap(0, 1)
		n++
	}
	if ok || n != maxLateAnswers+maxStaleGaps {
		t.Fatalf("refusals from an older epoch: gave up %v after %d; want after %d", !ok, n, maxLateAnswers+maxStaleGaps)
	}
}
