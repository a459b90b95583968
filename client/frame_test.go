package client

import (
	"bytes"
	"strings"
	"testing"
)

func TestForEachLine(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		frame string
		want  []string
	}{
		{"", nil},
		{"\n\n \n", nil},
		{`{"a":1}`, []string{`{"a":1}`}},
		{"{\"a\":1}\n{\"b\":2}\n", []string{`{"a":1}`, `{"b":2}`}},
		{"\r\n  {\"a\":1} \r\n\n{\"b\":2}", []string{`{"a":1}`, `{"b":2}`}},
		{"x\ny\nz", []string{"x", "y", "z"}},
	} {
		var got []string
		forEachLine([]byte(tc.frame), func(line []byte) bool {
			got = append(got, string(line))
			return true
		})
		if strings.Join(got, "|") != strings.Join(tc.want, "|") {
			t.Errorf("forEachLine(%q) = %q, want %q", tc.frame, got, tc.want)
		}
	}
	n := 0
	forEachLine([]byte("a\nb\nc"), func([]byte) bool { n++; return n < 2 })
	if n != 2 {
		t.Errorf("forEachLine went on after false: %d calls, want 2", n)
	}
}

func TestPackFrames(t *testing.T) {
	t.Parallel()
	obj := func(n int, c byte) []byte { return bytes.Repeat([]byte{c}, n) }
	for _, tc := range []struct {
		name  string
		objs  [][]byte
		limit int
		sizes []int // lengths of the frames
	}{
		{"none", nil, 10, nil},
		{"one", [][]byte{obj(3, 'a')}, 10, []int{3}},
		{"exact fit", [][]byte{obj(4, 'a'), obj(5, 'b')}, 10, []int{10}},
		{"one byte over", [][]byte{obj(5, 'a'), obj(5, 'b')}, 10, []int{5, 5}},
		{"oversized alone", [][]byte{obj(2, 'a'), obj(20, 'b'), obj(2, 'c')}, 10, []int{2, 20, 2}},
		{"several per frame", [][]byte{obj(2, 'a'), obj(2, 'b'), obj(2, 'c'), obj(2, 'd')}, 8, []int{8, 2}},
	} {
		frames := packFrames(tc.objs, tc.limit)
		var sizes []int
		var back [][]byte
		for _, f := range frames {
			sizes = append(sizes, len(f))
			forEachLine(f, func(l []byte) bool { back = append(back, l); return true })
		}
		if !equalInts(sizes, tc.sizes) {
			t.Errorf("%s: frame sizes %v, want %v", tc.name, sizes, tc.sizes)
		}
		if !bytes.Equal(bytes.Join(back, nil), bytes.Join(tc.objs, nil)) || len(back) != len(tc.objs) {
			t.Errorf("%s: objects did not come back in order: %q", tc.name, back)
		}
	}
}

func equalInts(a, b []int) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

func TestDecode(t *testing.T) {
	t.Parallel()
	var m serverMsg
	for _, tc := range []struct {
		line    string
		wantErr bool
		check   func(m *serverMsg) bool
	}{
		{`{"type":"event","jobId":"j1","seq":7,"event":"model:chunk:v1","data":{"chunk":"hi","ts":5},"ts":99}`, false,
			func(m *serverMsg) bool {
				return m.Type == "event" && m.JobID == "j1" && m.Seq == 7 && m.Event == "model:chunk:v1" &&
					string(m.Data) == `{"chunk":"hi","ts":5}` && m.TS == 99 && m.NextOffset == -1
			}},
		// fields of the previous object must not survive
		{`{"type":"ack","jobId":"j1","nextOffset":0}`, false,
			func(m *serverMsg) bool { return m.Type == "ack" && m.NextOffset == 0 && m.Seq == 0 && len(m.Data) == 0 }},
		{`{"type":"error","jobId":"j1","code":"offset_gap","message":"m"}`, false,
			func(m *serverMsg) bool { return m.Code == "offset_gap" && m.Message == "m" && m.NextOffset == -1 }},
		{`{"type":"reconnect","afterMs":250,"reason":"draining"}`, false,
			func(m *serverMsg) bool { return m.AfterMs == 250 }},
		{`{"type":"subscribed","jobId":"j","status":"running","lastSequence":12,"epoch":3}`, false,
			func(m *serverMsg) bool { return m.LastSequence == 12 && m.Status == "running" }},
		{`{"type":"event","jobId":"a\u003cb"}`, false, func(m *serverMsg) bool { return m.JobID == "a<b" }},
		{`[1,2]`, true, nil},
		{`"event"`, true, nil},
		{`{"type":"event"`, true, nil},
		{`{"seq":"seven"}`, true, nil},
		{``, true, nil},
	} {
		err := m.decode([]byte(tc.line))
		if (err != nil) != tc.wantErr {
			t.Errorf("decode(%s): err = %v, want error %v", tc.line, err, tc.wantErr)
			continue
		}
		if err == nil && !tc.check(&m) {
			t.Errorf("decode(%s) = %+v", tc.line, m)
		}
	}
}

func TestDecodeReusesDataBuffer(t *testing.T) {
	var m serverMsg
	line := []byte(`{"type":"event","jobId":"j1","seq":7,"event":"model:chunk:v1","data":{"chunk":"0123456789abcdef","ts":5},"ts":99}`)
	_ = m.decode(line)
	p := &m.Data[0]
	_ = m.decode(line)
	if &m.Data[0] != p {
		t.Errorf("decode allocated a new data buffer instead of reusing the previous one")
	}
}

func TestCheckSeq(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		last, seq int64
		want      seqVerdict
	}{
		{0, 1, seqNext}, {5, 6, seqNext}, {5, 7, seqGap}, {0, 100, seqGap},
		{5, 5, seqDup}, {5, 4, seqOld}, {5, 0, seqOld}, {0, 0, seqDup}, {0, -3, seqOld},
	} {
		if got := checkSeq(tc.last, tc.seq); got != tc.want {
			t.Errorf("checkSeq(last %d, seq %d) = %d, want %d", tc.last, tc.seq, got, tc.want)
		}
	}
}

func TestDialURL(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		raw, path, key, value, want string
		wantErr                     bool
	}{
		{"ws://127.0.0.1:8080/ws", "/ws", "user", "bob", "ws://127.0.0.1:8080/ws?user=bob", false},
		{"ws://127.0.0.1:8080", "/ws", "user", "", "ws://127.0.0.1:8080/ws", false},
		{"http://h:1/", "/ws/worker", "", "", "ws://h:1/ws/worker", false},
		{"https://h:1", "/ws", "user", "a b&c", "wss://h:1/ws?user=a+b%26c", false},
		{"ws://h:1/ws?x=1", "/ws", "user", "u", "ws://h:1/ws?user=u&x=1", false},
		{"ftp://h:1", "/ws", "", "", "", true},
		{"ws://", "/ws", "", "", "", true},
		{"::", "/ws", "", "", "", true},
	} {
		got, err := dialURL(tc.raw, tc.path, tc.key, tc.value)
		if (err != nil) != tc.wantErr || got != tc.want {
			t.Errorf("dialURL(%q) = %q, %v; want %q (error %v)", tc.raw, got, err, tc.want, tc.wantErr)
		}
	}
}

func BenchmarkDecodeEvent(b *testing.B) {
	frame := []byte(`{"type":"event","jobId":"lg1732-42-17","seq":1234,"event":"model:chunk:v1","data":{"chunk":" the quick brown fox jumps over","ts":123456789},"ts":1732630000000}` + "\n" +
		`{"type":"event","jobId":"lg1732-42-17","seq":1235,"event":"model:chunk:v1","data":{"chunk":" the quick brown fox jumps over","ts":123456790},"ts":1732630000001}`)
	var m serverMsg
	b.ReportAllocs()
	b.SetBytes(int64(len(frame)))
	for b.Loop() {
		forEachLine(frame, func(line []byte) bool { _ = m.decode(line); return true })
	}
}
