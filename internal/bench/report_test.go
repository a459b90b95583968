package bench

import (
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/actorhub/actorhub/client"
)

func ptr[T any](v T) *T { return &v }

func TestReportMarkdown(t *testing.T) {
	t.Parallel()
	r := Report{Config: "C1000-N1", Conns: 1000, Nodes: 1, ChunksPerSecPerJob: 10, OfferedMsgsS: 10000,
		DeliveredMsgsS: 9999.6, LatP50Ms: 0.5849, LatP99Ms: 6.44, LatMaxMs: 20.4, Lost: 1234, Duplicates: 1,
		OutOfOrder: 2, RSSPerConnKB: ptr(21.04), ConnectS: 1.23, ServerCPUPct: ptr(41.4), CPUUsPerMsg: ptr(41.26)}
	want := "| config | conns | nodes | chunks/s/job | offered msg/s | delivered msg/s | p50 ms | p99 ms | max ms | lost | ooo+dup | server RSS KB/conn | connect s | CPU srv % | CPU µs/msg |\n" +
		"| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |\n" +
		"| C1000-N1 | 1000 | 1 | 10 | 10,000 | 10,000 | 0.58 | 6.4 | 20 | 1,234 | 3 | 21.0 | 1.2 | 41 | 41.3 |\n"
	if got := r.Markdown(); got != want {
		t.Errorf("Markdown:\n%s\nwant:\n%s", got, want)
	}
	r.RSSPerConnKB, r.ServerCPUPct, r.CPUUsPerMsg = nil, nil, nil // driving a node it did not start
	if row := r.Row(); !strings.HasSuffix(row, "| 3 | – | 1.2 | – | – |\n") {
		t.Errorf("row without node measures = %q, want – in the three columns", row)
	}
	b, err := json.Marshal(r)
	if err != nil || !strings.Contains(string(b), `"server_cpu_pct":null`) || !strings.Contains(string(b), `"lat_p99_ms":6.44`) {
		t.Errorf("JSON = %s, %v", b, err)
	}
}

func TestThousands(t *testing.T) {
	t.Parallel()
	for n, want := range map[int64]string{0: "0", 999: "999", 1000: "1,000", 1234567: "1,234,567", -4666: "-4,666", 100000: "100,000"} {
		if got := thousands(n); got != want {
			t.Errorf("thousands(%d) = %q, want %q", n, got, want)
		}
	}
}

func TestConfigName(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		cfg  Config
		want string
	}{
		{Config{Conns: 1000, Jobs: 100, Rate: 1000}, "C1000-N1"},
		{Config{Conns: 5000, Jobs: 100, Rate: RateForDelivered(20000, 5000, 100)}, "C5000-N1-20k"},
		{Config{Conns: 10000, Jobs: 100, Rate: 100, Transport: client.TransportHTTP}, "C10000-N1-http"},
		{Config{Conns: 5000, Jobs: 100, Rate: 200, Nodes: 3}, "C5000-N3"},
	} {
		if got := configName(tc.cfg); got != tc.want {
			t.Errorf("configName(%+v) = %q, want %q", tc.cfg, got, tc.want)
		}
	}
}

func TestConfigDefaults(t *testing.T) {
	t.Parallel()
	c, err := Config{Bin: "/bin/actorhub"}.withDefaults()
	if err != nil || c.Conns != 1000 || c.Jobs != 100 || c.Rate != 1000 || c.Warmup != 2*time.Second ||
		c.Transport != "ws" || c.WorkerConns != 1 {
		t.Errorf("defaults = %+v, %v", c, err)
	}
	if c, _ := (Config{Bin: "x", Transport: "http", Jobs: 30}).withDefaults(); c.WorkerConns != 30 {
		t.Errorf("http worker lanes = %d, want one per job (30)", c.WorkerConns)
	}
	for _, bad := range []Config{
		{},
		{Bin: "x", Target: "http://h:1"},
		{Target: "h:1"},
		{Bin: "x", Transport: "grpc"},
		{Bin: "x", Duration: time.Second, Warmup: 2 * time.Second},
	} {
		if _, err := bad.withDefaults(); err == nil {
			t.Errorf("config %+v accepted", bad)
		}
	}
}

func TestNodeEnv(t *testing.T) {
	t.Parallel()
	got := nodeEnv([]string{"PATH=/bin", "ACTORHUB_STORE=redis://x", "HOME=/root"}, []string{"ACTORHUB_AUTH=none"})
	if strings.Join(got, " ") != "PATH=/bin HOME=/root ACTORHUB_AUTH=none" {
		t.Errorf("nodeEnv = %v", got)
	}
}
