package main

import (
	"bytes"
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
		"| J=100 | actorhub | 20000 | 0.60 / 7.0 | 22.0 | 2.00× |",
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
