package transport

import (
	"errors"
	"io"
	"slices"
	"testing"

	"github.com/actorhub/actorhub/actors"
	"github.com/actorhub/actorhub/events"
)

func TestDecodeEventsBody(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		body string
		code string // "" = ok
		n    int
	}{
		{`{"events":[{"offset":0,"event":"model:chunk:v1","data":{"chunk":"a"}},{"event":"x:y:v1"}]}`, "", 2},
		{`{"events":[]}`, events.CodeBadRequest, 0},
		{`{"events":`, events.CodeBadRequest, 0},
		{`[]`, events.CodeBadRequest, 0},
		{`{"events":[{"offset":0,"event":"nope","data":{}}]}`, events.CodeBadEventName, 0},
		{`{"events":[{"offset":0,"event":"model:chunk:v1","data":{"chunk":1}}]}`, events.CodeInvalidEvent, 0},
		{`{"events":[{"offset":-1,"event":"a:b:v1"}]}`, events.CodeBadRequest, 0},
		{`{"events":[{"offset":"1","event":"a:b:v1"}]}`, events.CodeBadRequest, 0},
		{`{"events":[{"event":"a:b:v1"},{"event":"a:b:v1"},{"event":"a:b:v1"}]}`, events.CodeTooLarge, 0},
	} {
		items, err := decodeEventsBody([]byte(tc.body), 2)
		var ce *events.CodedError
		switch {
		case tc.code == "" && (err != nil || len(items) != tc.n):
			t.Errorf("%s: %v, %d items; want %d", tc.body, err, len(items), tc.n)
		case tc.code != "" && (!errors.As(err, &ce) || ce.Code != tc.code):
			t.Errorf("%s: %v; want code %s", tc.body, err, tc.code)
		}
	}
	items, _ := decodeEventsBody([]byte(`{"events":[{"offset":4,"event":"a:b:v1"},{"event":"a:b:v1"}]}`), 10)
	if items[0].Offset != 4 || items[1].Offset != actors.NoOffset || string(items[1].Data) != "{}" {
		t.Fatalf("items %+v", items)
	}
}

func FuzzDecodeEventsBody(f *testing.F) {
	f.Add([]byte(`{"events":[{"offset":0,"event":"model:chunk:v1","data":{"chunk":"a","ts":1}}]}`))
	f.Add([]byte(`{"events":[{"event":"job:progress:v1","data":{"progress":50}},{"offset":3,"event":"job:completed:v1","data":{"result":[1]}}]}`))
	f.Add([]byte(`{"events":null}`))
	f.Fuzz(func(t *testing.T, body []byte) {
		items, err := decodeEventsBody(body, 100)
		if err != nil {
			var ce *events.CodedError
			if !errors.As(err, &ce) || statusOf(ce.Code) >= 500 {
				t.Fatalf("error %v is not a client error", err)
			}
			return
		}
		for _, it := range items {
			if events.ValidateName(it.Name) != nil || (it.Offset < 0 && it.Offset != actors.NoOffset) || len(it.Data) == 0 {
				t.Fatalf("accepted a bad item %+v from %s", it, body)
			}
		}
	})
}

func TestReadLimited(t *testing.T) {
	t.Parallel()
	src := make([]byte, 100)
	for _, tc := range []struct {
		size, limit int
		tooLarge    bool
	}{{0, 10, false}, {10, 10, false}, {11, 10, true}, {100, 99, true}, {100, 5000, false}} {
		buf, err := readLimited(nil, &chunky{b: src[:tc.size]}, tc.limit)
		if errors.Is(err, errFrameTooLarge) != tc.tooLarge || (!tc.tooLarge && len(buf) != tc.size) {
			t.Errorf("size %d limit %d: len %d err %v", tc.size, tc.limit, len(buf), err)
		}
	}
}

// chunky returns its bytes 7 at a time, then io.EOF.
type chunky struct{ b []byte }

func (c *chunky) Read(p []byte) (int, error) {
	if len(c.b) == 0 {
		return 0, errEOF
	}
	n := copy(p, c.b[:min(7, len(c.b))])
	c.b = c.b[n:]
	return n, nil
}

var errEOF = io.EOF

// TestDecodeWorkerFrameGroups: a worker's consecutive emits for one job come
// as one request, in order, each item its own; any other message (or a bad
// emit) ends the group and comes alone.
func TestDecodeWorkerFrameGroups(t *testing.T) {
	t.Parallel()
	frame := `{"type":"emit","id":"e1","jobId":"a","offset":0,"event":"model:chunk:v1","data":{"chunk":"a0"}}
{"type":"emit","jobId":"a","offset":1,"event":"model:chunk:v1","data":{"chunk":"a1"}}
{"type":"emit","jobId":"a","offset":2,"event":"job:progress:v1","data":{"percent":50}}
{"type":"emit","jobId":"b","event":"model:chunk:v1","data":{"chunk":"b0"}}
{"type":"emit","jobId":"a","offset":3,"event":"model:chunk:v1","data":{"chunk":"a3"}}
{"type":"emit","jobId":"a","event":"nope","data":{}}
{"type":"ping"}`
	type item struct {
		offset int64
		name   string
		chunk  string
	}
	want := []struct {
		jobID string
		code  string
		items []item
	}{
		{"a", "", []item{{0, events.Chunk, "a0"}, {1, events.Chunk, "a1"}, {2, events.Progress, ""}}},
		{"b", "", []item{{actors.NoOffset, events.Chunk, "b0"}}},
		{"a", "", []item{{3, events.Chunk, "a3"}}},
		{"a", events.CodeBadEventName, nil},
		{"", "", nil},
	}
	var got []*actors.Request
	decodeWorkerFrame([]byte(frame), func(r *actors.Request) { got = append(got, r) })
	if len(got) != len(want) {
		t.Fatalf("%d requests; want %d", len(got), len(want))
	}
	for i, w := range want {
		r := got[i]
		code := ""
		if r.Err != nil {
			code = r.Err.Code
		}
		if r.Head().JobID != w.jobID || code != w.code || len(r.Items) != len(w.items) {
			t.Fatalf("request %d: job %q, error %q, %d items; want %q, %q, %d", i, r.Head().JobID, code, len(r.Items), w.jobID, w.code, len(w.items))
		}
		if (r.Msg == nil) != (w.code == "" && w.items != nil) {
			t.Errorf("request %d: Msg %v; a request of emits carries none, any other one its Inbound", i, r.Msg)
		}
		for k, wi := range w.items {
			it := r.Items[k]
			if it.Offset != wi.offset || it.Name != wi.name || it.Fold.Chunk != wi.chunk {
				t.Errorf("request %d item %d: offset %d, %s, chunk %q; want %d, %s, %q", i, k, it.Offset, it.Name, it.Fold.Chunk, wi.offset, wi.name, wi.chunk)
			}
		}
	}
	if string(got[0].Head().ID) != `"e1"` || got[1].Head().ID != nil {
		t.Errorf("ids %s, %s; want the group's first emit's, \"e1\", and none", got[0].Head().ID, got[1].Head().ID)
	}
	if got[4].Type() != events.TypePing {
		t.Errorf("last request is a %q; want ping", got[4].Type())
	}
}

// BenchmarkDecodeWorkerFrame: what a worker's reader allocates for a frame of
// one emit, as the load generator's workers send them.
func BenchmarkDecodeWorkerFrame(b *testing.B) {
	frame := []byte(`{"type":"emit","jobId":"lg1796239223087-12099-867","offset":123,"event":"model:chunk:v1","data":{"chunk":" the quick brown fox jumps over ","ts":1495415652}}`)
	var got *actors.Request
	b.ReportAllocs()
	for b.Loop() {
		decodeWorkerFrame(frame, func(r *actors.Request) { got = r })
	}
	if got == nil || len(got.Items) != 1 {
		b.Fatalf("decoded %+v; want one emit", got)
	}
}

// FuzzDecodeWorkerFrame: a worker's reader decodes a frame as DecodeFrame
// does, and only groups it. Every object DecodeFrame gives is there, in
// order: each emit it accepts (and emitItem too) as an item of a request of
// emits, a run of them for one job as one request carrying the first's id,
// and every other object alone with its Inbound and DecodeFrame's error.
// Nothing decoded shares the frame's bytes, which the reader reuses.
func FuzzDecodeWorkerFrame(f *testing.F) {
	for _, s := range []string{
		"{\"type\":\"emit\",\"id\":\"1\",\"jobId\":\"a\",\"offset\":0,\"event\":\"model:chunk:v1\",\"data\":{\"chunk\":\"x\"}}\n" +
			"{\"type\":\"emit\",\"id\":2,\"jobId\":\"a\",\"event\":\"job:progress:v1\",\"data\":{\"percent\":5}}\n" +
			"{\"type\":\"emit\",\"jobId\":\"b\",\"event\":\"x:y:v1\",\"data\":{}}\n{\"type\":\"ping\"}",
		`{"type":"emit","jobId":"a","event":"nope","data":{}}`, `{"type":"emit","jobId":"a","offset":-1,"event":"x:y:v1"}`,
		"\n\n{\"type\":\"emit\",\"jobId\":\"a\",\"event\":\"x:y:v1\",\"data\":{\"k\":\"\\u00e9\"}}\n{bad", `{"type":"subscribe","jobId":"j"}`,
	} {
		f.Add([]byte(s))
	}
	type obj struct{ typ, jobID, id, code, name, data string }
	f.Fuzz(func(t *testing.T, frame []byte) {
		var want []obj
		lastEmit := "" // the job of the run of accepted emits the last object was in
		events.DecodeFrame(frame, func(m *events.Inbound, err *events.CodedError) {
			o := obj{typ: m.Type, jobID: m.JobID, id: string(m.ID)}
			if err == nil && m.Type == events.TypeEmit {
				it, ierr := emitItem(m.Offset, m.Event, m.Data)
				err = ierr
				if err == nil {
					o.name, o.data = it.Name, string(it.Data)
					if lastEmit == m.JobID && len(want) > 0 {
						o.id = "" // the run's first id stands for it
					}
					lastEmit = m.JobID
					want = append(want, o)
					return
				}
			}
			lastEmit = ""
			if err != nil {
				o.code = err.Code
			}
			want = append(want, o)
		})
		var reqs []*actors.Request
		decodeWorkerFrame(frame, func(r *actors.Request) { reqs = append(reqs, r) })
		flatten := func() []obj {
			var got []obj
			for i, r := range reqs {
				if r.Msg != nil {
					o := obj{typ: r.Msg.Type, jobID: r.Msg.JobID, id: string(r.Msg.ID)}
					if r.Err != nil {
						o.code = r.Err.Code
					}
					got = append(got, o)
					continue
				}
				if r.Err != nil || len(r.Items) == 0 {
					t.Fatalf("request %d of emits: error %v, %d items", i, r.Err, len(r.Items))
				}
				if i > 0 && reqs[i-1].Msg == nil && reqs[i-1].JobID == r.JobID {
					t.Fatalf("requests %d and %d: emits to %q one after the other, not grouped", i-1, i, r.JobID)
				}
				for k, it := range r.Items {
					o := obj{typ: events.TypeEmit, jobID: r.JobID, name: it.Name, data: string(it.Data)}
					if k == 0 {
						o.id = string(r.ID)
					}
					got = append(got, o)
				}
			}
			return got
		}
		got := flatten()
		if !slices.Equal(got, want) {
			t.Fatalf("frame %q:\n got %+v\nwant %+v", frame, got, want)
		}
		for i := range frame {
			frame[i] = 'x'
		}
		if again := flatten(); !slices.Equal(again, got) {
			t.Fatalf("what was decoded changed with the frame's bytes:\n was %+v\n now %+v", got, again)
		}
	})
}
