package events

import (
	"bytes"
	"encoding/json"
	"errors"
	"math"
	"strconv"
	"strings"
	"testing"
)

func TestValidateName(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name string
		ok   bool
	}{
		{"model:chunk:v1", true}, {"search:result:v12", true}, {"a-b.c:d_e:v3", true},
		{"", false}, {"model:chunk", false}, {"model:chunk:v0", false}, {"model:chunk:v01", false},
		{"Model:chunk:v1", false}, {"model::v1", false}, {"model:chunk:vx", false}, {"model:chunk:v1:x", false},
		{":chunk:v1", false}, {"1a:b:v1", false}, {"a:b:v99999999999", false}, {strings.Repeat("a", 130) + ":b:v1", false},
		{"a b:c:v1", false}, {"a:b:v-1", false}, {"a:b:v", false},
	} {
		err := ValidateName(tc.name)
		if (err == nil) != tc.ok {
			t.Errorf("ValidateName(%q) = %v, want ok=%v", tc.name, err, tc.ok)
		}
	}
}

func TestNormalizeData(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name, data, want string
		ok               bool
	}{
		{Chunk, `{"chunk":"hi","ts":5}`, `{"chunk":"hi","ts":5}`, true},
		{Chunk, `{ "chunk" : "a b" }`, `{"chunk":"a b"}`, true},
		{Chunk, `{"chunk":5}`, "", false},
		{Chunk, `{}`, "", false},
		{Chunk, `[1]`, "", false},
		{Progress, `{"progress":50,"step":"x"}`, `{"progress":50,"step":"x"}`, true},
		{Progress, `{"progress":101}`, "", false},
		{Progress, `{"progress":-1}`, "", false},
		{Checkpointed, `{"checkpoint":{"k":1}}`, `{"checkpoint":{"k":1}}`, true},
		{Checkpointed, `{"checkpoint":3}`, "", false},
		{Failed, `{"error":"boom","code":"E1","recoverable":true}`, `{"error":"boom","code":"E1","recoverable":true}`, true},
		{Failed, `{"error":1}`, "", false},
		{"search:result:v1", `{"any":[1,2]}`, `{"any":[1,2]}`, true},
		{"search:result:v1", `{"any":`, "", false},
		{"search:result:v1", ``, `{}`, true},
		{"search:result:v1", `null`, `{}`, true},
		{Completed, `{"result":{"text":"x"},"tokens":3}`, `{"result":{"text":"x"},"tokens":3}`, true},
		{Chunk, "{\"chunk\":\"\xff\xfe\"}", "", false},            // invalid UTF-8 (json.Valid takes it)
		{"search:result:v1", "{\"a\":\"ok\xc3\"}", "", false},     // a cut multi-byte sequence
		{Chunk, "{\"chunk\":\"日本\"}", "{\"chunk\":\"日本\"}", true}, // valid multi-byte text
	} {
		got, err := NormalizeData(tc.name, json.RawMessage(tc.data))
		if (err == nil) != tc.ok || (tc.ok && string(got) != tc.want) {
			t.Errorf("NormalizeData(%s, %s) = %s, %v; want %s ok=%v", tc.name, tc.data, got, err, tc.want, tc.ok)
		}
	}
}

func TestStatusTransitions(t *testing.T) {
	t.Parallel()
	st, first := NewJob("j1", "u", "t", nil, 1000)
	if st.Status != StatusCreated || st.LastSequence != 1 || first.Seq != 1 || first.Name != Created {
		t.Fatalf("new job: %+v %+v", st, first)
	}
	step := func(name, data string) (string, error) {
		if err := st.CheckAppend(name); err != nil {
			return "", err
		}
		ev := Event{JobID: "j1", Seq: st.LastSequence + 1, Name: name, Data: json.RawMessage(data), TS: 2000}
		return st.Apply(&ev), nil
	}
	if _, err := step(Created, `{}`); err == nil {
		t.Fatal("a worker may not emit job:created:v1")
	}
	if out, _ := step(Chunk, `{"chunk":"ab"}`); out != "ab" || st.Status != StatusRunning {
		t.Fatalf("chunk: out %q status %s", out, st.Status)
	}
	if _, err := step(Progress, `{"progress":40}`); err != nil || st.Progress != 40 {
		t.Fatalf("progress: %v %v", err, st.Progress)
	}
	if _, err := step(Completed, `{"result":{"x":1}}`); err != nil || st.Status != StatusCompleted || st.Progress != 100 ||
		string(st.Result) != `{"x":1}` || st.CompletedAt == nil {
		t.Fatalf("completed: %v %+v", err, st)
	}
	_, err := step(Chunk, `{"chunk":"late"}`)
	var ce *CodedError
	if !errors.As(err, &ce) || ce.Code != CodeJobFinished {
		t.Fatalf("event after terminal: %v, want job_finished", err)
	}
	if st.LastSequence != 4 {
		t.Fatalf("lastSequence %d, want 4", st.LastSequence)
	}
}

func TestFailedAndCancelled(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name, data string
		want       Status
	}{{Failed, `{"error":"boom"}`, StatusFailed}, {Cancelled, `{"reason":"user"}`, StatusCancelled}} {
		st, _ := NewJob("j", "u", "t", nil, 1)
		ev := Event{JobID: "j", Seq: 2, Name: tc.name, Data: json.RawMessage(tc.data), TS: 5}
		st.Apply(&ev)
		if st.Status != tc.want || !st.Status.Terminal() {
			t.Errorf("%s: status %s", tc.name, st.Status)
		}
		if tc.want == StatusFailed && (st.Error == nil || *st.Error != "boom" || st.FailedAt == nil) {
			t.Errorf("failed: error %v failedAt %v", st.Error, st.FailedAt)
		}
	}
}

func TestEventRoundTrip(t *testing.T) {
	t.Parallel()
	ev := Event{JobID: "j\"1<", Seq: 7, Name: Chunk, Data: json.RawMessage(`{"chunk":"x\n\u2028"}`), TS: 123}
	ev.Encode()
	var generic map[string]any
	if err := json.Unmarshal(ev.Raw, &generic); err != nil {
		t.Fatalf("raw is not JSON: %s: %v", ev.Raw, err)
	}
	if generic["type"] != "event" || generic["jobId"] != "j\"1<" || generic["seq"].(float64) != 7 {
		t.Fatalf("raw %s", ev.Raw)
	}
	back, err := DecodeEvent(ev.Raw)
	if err != nil || back.JobID != ev.JobID || back.Seq != 7 || back.Name != Chunk || back.TS != 123 || string(back.Data) != string(ev.Data) {
		t.Fatalf("decode: %+v %v", back, err)
	}
	for _, bad := range []string{``, `{}`, `{"type":"event","jobId":"j","seq":0,"event":"a:b:v1"}`, `{"type":"x","jobId":"j","seq":1,"event":"a:b:v1"}`, `{"type":"event","jobId":"j","seq":1,"event":"bad"}`} {
		if _, err := DecodeEvent([]byte(bad)); err == nil {
			t.Errorf("DecodeEvent(%s) accepted", bad)
		}
	}
}

// After Encode, Data is the data inside Raw (one buffer per event), equal to
// what it was, and capped so that an append to it cannot write into Raw.
func TestEncodeSharesData(t *testing.T) {
	t.Parallel()
	in := []byte(`{"chunk":"abc"}`)
	ev := Event{JobID: "j", Seq: 3, Name: Chunk, Data: in, TS: 5}
	ev.Encode()
	if string(ev.Data) != string(in) {
		t.Fatalf("Data %s, want %s", ev.Data, in)
	}
	if &ev.Data[0] == &in[0] {
		t.Fatal("Data is still the caller's buffer")
	}
	at := bytes.Index(ev.Raw, in)
	if at < 0 || &ev.Raw[at] != &ev.Data[0] {
		t.Fatalf("Data is not the copy inside Raw %s", ev.Raw)
	}
	raw := string(ev.Raw)
	_ = append(ev.Data, `,"x":1}`...)
	if string(ev.Raw) != raw {
		t.Fatalf("an append to Data changed Raw: %s", ev.Raw)
	}
	empty := Event{JobID: "j", Seq: 4, Name: Chunk, TS: 5}
	empty.Encode()
	if empty.Data != nil || !bytes.Contains(empty.Raw, []byte(`"data":{}`)) {
		t.Fatalf("no data: Data %q, Raw %s", empty.Data, empty.Raw)
	}
}

// Encode sizes its buffer exactly when no string needs escapes, and stays
// right when one does.
func TestEncodeSize(t *testing.T) {
	t.Parallel()
	for _, ev := range []Event{
		{JobID: "j", Seq: 1, Name: Chunk, TS: 0},
		{JobID: "job-123", Seq: 99, Name: Chunk, Data: []byte(`{"chunk":"x"}`), TS: 1764860000000},
		{JobID: "j", Seq: -5, Name: Chunk, Data: []byte(`1`), TS: -1},
		{JobID: "j", Seq: math.MaxInt64, Name: Chunk, TS: math.MinInt64},
		{JobID: "j\"\n<", Seq: 10, Name: Chunk, Data: []byte(`"a"`), TS: 10},
	} {
		ev.Encode()
		var back map[string]any
		if err := json.Unmarshal(ev.Raw, &back); err != nil {
			t.Fatalf("%s: %v", ev.Raw, err)
		}
		if !strings.ContainsAny(ev.JobID, "\"\n<") && cap(ev.Raw) != len(ev.Raw) {
			t.Errorf("%s: cap %d, len %d", ev.Raw, cap(ev.Raw), len(ev.Raw))
		}
	}
	for _, n := range []int64{0, 9, 10, -1, -10, math.MaxInt64, math.MinInt64} {
		if got, want := intLen(n), len(strconv.FormatInt(n, 10)); got != want {
			t.Errorf("intLen(%d) = %d, want %d", n, got, want)
		}
	}
}

func TestAppendStringMatchesEncodingJSON(t *testing.T) {
	t.Parallel()
	for _, s := range []string{"", "plain", "q\"b\\s", "ctl\x00\x01\x1f", "nl\n\r\t", "utf8 é 日本", "bad \xff\xfe utf8", "\u2028\u2029", "<>&"} {
		var back string
		if err := json.Unmarshal(AppendString(nil, s), &back); err != nil {
			t.Fatalf("%q: %s is not a JSON string: %v", s, AppendString(nil, s), err)
		}
		want, _ := json.Marshal(s)
		var wantBack string
		_ = json.Unmarshal(want, &wantBack)
		if back != wantBack {
			t.Errorf("%q: decodes to %q, encoding/json gives %q", s, back, wantBack)
		}
	}
}

func TestDecodeFrame(t *testing.T) {
	t.Parallel()
	frame := "{\"type\":\"ping\",\"id\":1}\n\n{\"type\":\"subscribe\",\"jobId\":\"j\",\"fromSeq\":3}\nnot json\n" +
		"{\"type\":\"nope\"}\n{\"type\":\"subscribe\"}\n{\"type\":\"emit\",\"jobId\":\"j\",\"event\":\"BAD\"}\n{\"id\":\"x\"}\n" +
		"{\"type\":\"subscribe\",\"jobId\":\"j\",\"fromSeq\":-1}\n{\"type\":\"emit\",\"jobId\":\"j\",\"offset\":-2,\"event\":\"a:b:v1\"}"
	var got []string
	DecodeFrame([]byte(frame), func(m *Inbound, err *CodedError) {
		if err != nil {
			got = append(got, "err:"+err.Code)
			return
		}
		got = append(got, m.Type)
	})
	want := []string{"ping", "subscribe", "err:" + CodeBadFrame, "err:" + CodeUnknownType, "err:" + CodeBadRequest,
		"err:" + CodeBadEventName, "err:" + CodeBadRequest, "err:" + CodeBadRequest, "err:" + CodeBadRequest}
	if strings.Join(got, ",") != strings.Join(want, ",") {
		t.Fatalf("got  %v\nwant %v", got, want)
	}
}

func TestValidateJobID(t *testing.T) {
	t.Parallel()
	for id, ok := range map[string]bool{"job-1": true, "lg123-4-5": true, "": false, "a/b": false, "a b": false,
		"{x}": false, strings.Repeat("x", 129): false, "é": false, "a%2f": false} {
		if (ValidateJobID(id) == nil) != ok {
			t.Errorf("ValidateJobID(%q) ok=%v", id, !ok)
		}
	}
}
