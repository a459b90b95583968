package main

import (
	"bytes"
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

const (
	sio10  = `{"label":"a","conns":1000,"nodes":1,"jobs":100,"offered_msgs_s":10000,"delivered_msgs_s":10000,"lat_p50_ms":0.5,"lat_p99_ms":2,"lost":0,"cpu":{"servers_pct":[30],"redis_pct":5}}`
	sio20  = `{"label":"a","conns":1000,"nodes":1,"jobs":100,"offered_msgs_s":20000,"delivered_msgs_s":19000,"lat_p50_ms":9,"lat_p99_ms":80,"lost":0,"cpu":{"servers_pct":[99],"redis_pct":9}}`
	ah10   = `{"label":"a","target":"actorhub","conns":1000,"nodes":1,"jobs":100,"offered_msgs_s":10000,"delivered_msgs_s":10000,"lat_p50_ms":0.4,"lat_p99_ms":3,"lost":0,"cpu":{"servers_pct":[20],"redis_pct":2}}`
	ah20   = `{"label":"a","target":"actorhub","conns":1000,"nodes":1,"jobs":100,"offered_msgs_s":20000,"delivered_msgs_s":20000,"lat_p50_ms":0.6,"lat_p99_ms":7,"lost":0,"cpu":{"servers_pct":[40],"redis_pct":4}}`
	ahLost = `{"label":"a","target":"actorhub","conns":1000,"nodes":1,"jobs":1000,"offered_msgs_s":30000,"delivered_msgs_s":30000,"lat_p50_ms":0.6,"lat_p99_ms":7,"lost":3,"cpu":{"servers_pct":[40],"redis_pct":4}}`
)

func TestPass(t *testing.T) {
	b := bar{p99: 50, minDelivered: 0.97}
	for line, want := range map[string]string{sio10: "", sio20: "p99 80.0 ms > 50", ah20: "", ahLost: "3 lost",
		`{"offered_msgs_s":1000,"delivered_msgs_s":900,"lat_p99_ms":1}`: "delivered 900/s < 97% of offered",
		`{"error":"no output"}`: "error: no output"} {
		var out bytes.Buffer
		err := cmd([]string{"pass", line}, b, &out)
		if want == "" && err != nil || want != "" && !errors.Is(err, errBelow) {
			t.Errorf("pass %s: err %v", line, err)
		}
		if got := strings.TrimSpace(out.String()); want != "" && got != want {
			t.Errorf("pass %s: %q, want %q", line, got, want)
		}
	}
	if err := cmd([]string{"pass", "{"}, b, &bytes.Buffer{}); err == nil || errors.Is(err, errBelow) {
		t.Errorf("a broken line: %v, want a parse error", err)
	}
}

func TestReport(t *testing.T) {
	dir := t.TempDir()
	lines := strings.Join([]string{ah20, sio20, ah10, sio10, ahLost}, "\n") + "\n"
	if err := os.WriteFile(filepath.Join(dir, "results.jsonl"), []byte(lines), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := cmd([]string{"report", dir}, bar{p99: 50, minDelivered: 0.97}, &bytes.Buffer{}); err != nil {
		t.Fatal(err)
	}
	md, _ := os.ReadFile(filepath.Join(dir, "table.md"))
	for _, want := range []string{
		"| J=100 | socketio | 10000 | 0.50 / 2.0 | 35.0 | 1.00× |",
		"| J=100 | actorhub | ≥ 20000 | 0.60 / 7.0 | 22.0 | ≥ 2.00× | the highest rate tried |",
		"| J=C | actorhub | none met the bar |",
		"p99 80.0 ms > 50",
	} {
		if !strings.Contains(string(md), want) {
			t.Errorf("table.md lacks %q:\n%s", want, md)
		}
	}
	svg, _ := os.ReadFile(filepath.Join(dir, "ceiling.svg"))
	if !bytes.HasPrefix(svg, []byte("<svg")) || !bytes.Contains(svg, []byte("actorhub J=100")) {
		t.Errorf("ceiling.svg:\n%s", svg)
	}
}

// A ceiling is a lower bound when the next rate failed for want of the load
// generator's (or the worker's) CPU while the server had some left, and the
// ratio to a peer's then is one too; a server that ran out itself sets it.
func TestReportLowerBounds(t *testing.T) {
	const (
		genOut = `{"label":"a","target":"actorhub","conns":1000,"nodes":1,"jobs":100,"offered_msgs_s":30000,"delivered_msgs_s":29000,"lat_p50_ms":9,"lat_p99_ms":90,"lost":0,"cpu":{"servers_pct":[60],"redis_pct":5,"generator_pct":95,"worker_pct":40,"system_busy_pct":97}}`
		wrkOut = `{"label":"a","target":"actorhub","conns":1000,"nodes":1,"jobs":100,"offered_msgs_s":30000,"delivered_msgs_s":29000,"lat_p50_ms":9,"lat_p99_ms":90,"lost":0,"cpu":{"servers_pct":[60],"redis_pct":5,"generator_pct":50,"worker_pct":92,"system_busy_pct":97}}`
		srvOut = `{"label":"a","target":"actorhub","conns":1000,"nodes":1,"jobs":100,"offered_msgs_s":30000,"delivered_msgs_s":29000,"lat_p50_ms":9,"lat_p99_ms":90,"lost":0,"cpu":{"servers_pct":[97],"redis_pct":5,"generator_pct":95,"worker_pct":40,"system_busy_pct":99}}`
	)
	for _, tc := range []struct {
		lines []string
		want  []string
	}{
		{[]string{sio10, sio20, ah10, ah20, genOut}, []string{
			"| J=100 | actorhub | ≥ 20000 | 0.60 / 7.0 | 22.0 | ≥ 2.00× | 30000 msg/s: p99 90.0 ms > 50; server 60%, generator 95%, worker 40%, Redis 5%, box 97% busy |",
			"| J=100 | socketio | 10000 | 0.50 / 2.0 | 35.0 | 1.00× | 20000 msg/s: p99 80.0 ms > 50; server 99%",
		}},
		{[]string{sio10, sio20, ah10, ah20, wrkOut}, []string{"| J=100 | actorhub | ≥ 20000 |", "| ≥ 2.00× |"}},
		{[]string{sio10, sio20, ah10, ah20, srvOut}, []string{"| J=100 | actorhub | 20000 | 0.60 / 7.0 | 22.0 | 2.00× | 30000 msg/s"}},
		{[]string{sio10, ah10, ah20, srvOut}, []string{
			"| J=100 | socketio | ≥ 10000 | 0.50 / 2.0 | 35.0 | 1.00× | the highest rate tried |",
			"| J=100 | actorhub | 20000 | 0.60 / 7.0 | 22.0 | ≤ 2.00× |",
		}},
		{[]string{sio10, ah10, ah20}, []string{"| J=100 | actorhub | ≥ 20000 | 0.60 / 7.0 | 22.0 | – |"}},
	} {
		var runs []run
		for _, l := range tc.lines {
			var r run
			if err := json.Unmarshal([]byte(l), &r); err != nil {
				t.Fatal(err)
			}
			runs = append(runs, r)
		}
		md := table(runs, bar{p99: 50, minDelivered: 0.97})
		for _, want := range tc.want {
			if !strings.Contains(md, want) {
				t.Errorf("table lacks %q:\n%s", want, md)
			}
		}
	}
}
