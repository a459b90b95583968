package bench

import (
	"fmt"
	"math"
	"strconv"
	"strings"
)

// Report is the result of one run. Fields that need the node's process (CPU,
// RSS) are nil when the run drove a node it did not start.
type Report struct {
	Config    string `json:"config"` // C<conns>-N<nodes>…
	Target    string `json:"target"` // always "actorhub"
	Node      string `json:"node"`   // the nodes' HTTP addresses, comma-separated
	Store     string `json:"store"`
	Transport string `json:"transport"`

	Conns              int     `json:"conns"`
	Nodes              int     `json:"nodes"`
	Jobs               int     `json:"jobs"`
	OfferedMsgsS       float64 `json:"offered_msgs_s"`
	ChunksPerSecPerJob float64 `json:"chunks_s_job"`
	DurationS          float64 `json:"duration_s"`
	WarmupS            float64 `json:"warmup_s"`
	ChunkBytes         int     `json:"chunk_bytes"`
	WorkerConns        int     `json:"worker_conns"`
	CreateOn           string  `json:"create_on"`    // where the jobs were made: worker or subscriber
	WorkerMoved        int64   `json:"worker_moved"` // jobs the worker moved to the lane of their node

	ConnectS         float64 `json:"connect_s"`           // all subscribers connected and subscribed
	Subscribed       int     `json:"subscribed"`          // subscribers that got {"type":"subscribed"}
	Emitted          int64   `json:"emitted"`             // chunks the worker emitted
	Expected         int64   `json:"expected"`            // Σ over subscribers of the chunks emitted for their job
	Received         int64   `json:"received"`            // Σ chunks received (each seq once)
	ScheduleLagMaxMs float64 `json:"schedule_lag_max_ms"` // worst lateness of an emit against its schedule

	DeliveredMsgsS  float64 `json:"delivered_msgs_s"`  // mean of the per-second receive counts, steady window
	DeliveredMinSec int64   `json:"delivered_min_sec"` // the worst second of the steady window
	LatP50Ms        float64 `json:"lat_p50_ms"`
	LatP90Ms        float64 `json:"lat_p90_ms"`
	LatP99Ms        float64 `json:"lat_p99_ms"`
	LatP999Ms       float64 `json:"lat_p999_ms"`
	LatMaxMs        float64 `json:"lat_max_ms"`
	LatSamples      int     `json:"lat_samples"`

	Lost             int64            `json:"lost"`         // chunks emitted for a subscriber's job that it never received
	Duplicates       int64            `json:"duplicates"`   // events with seq == the last one (dropped by the client)
	OutOfOrder       int64            `json:"out_of_order"` // events with seq < the last one
	SeqGaps          int64            `json:"seq_gaps"`     // seqs skipped (the contract allows none)
	ProtoErrors      map[string]int64 `json:"proto_errors,omitempty"`
	ClientReconnects int64            `json:"client_reconnects"`

	WorkerAcked      int64            `json:"worker_acked"`
	WorkerUnacked    int64            `json:"worker_unacked"`
	WorkerResent     int64            `json:"worker_resent"`
	WorkerReconnects int64            `json:"worker_reconnects"`
	WorkerErrors     map[string]int64 `json:"worker_errors,omitempty"`
	WorkerAckP50Ms   float64          `json:"worker_ack_p50_ms"`
	WorkerAckP99Ms   float64          `json:"worker_ack_p99_ms"`
	WorkerAckMaxMs   float64          `json:"worker_ack_max_ms"`

	ServerCPUPct *float64 `json:"server_cpu_pct"`  // % of one core over the steady window
	CPUUsPerMsg  *float64 `json:"cpu_us_per_msg"`  // server CPU µs per delivered message, steady window
	RSSPerConnKB *float64 `json:"rss_per_conn_kb"` // (VmRSS after connecting + 2 s − before) / conns
	ServerRSSKB  *int64   `json:"server_rss_kb"`   // VmRSS at the end of the stream
	GenCPUPct    float64  `json:"gen_cpu_pct"`     // this process (subscribers + worker), steady window
}

// tableColumns are the columns of Markdown, those of the Socket.IO baseline
// table that a one-node run has, plus CPU µs/msg.
var tableColumns = []string{"config", "conns", "nodes", "chunks/s/job", "offered msg/s", "delivered msg/s",
	"p50 ms", "p99 ms", "max ms", "lost", "ooo+dup", "server RSS KB/conn", "connect s", "CPU srv %", "CPU µs/msg"}

// TableHeader returns the header and separator lines of the report table.
func TableHeader() string {
	sep := make([]string, len(tableColumns))
	for i := range sep {
		sep[i] = "---"
	}
	return "| " + strings.Join(tableColumns, " | ") + " |\n| " + strings.Join(sep, " | ") + " |\n"
}

// Row returns the report as one line of the table.
func (r Report) Row() string {
	cells := []string{
		r.Config,
		strconv.Itoa(r.Conns),
		strconv.Itoa(r.Nodes),
		trimFloat(r.ChunksPerSecPerJob),
		thousands(int64(math.Round(r.OfferedMsgsS))),
		thousands(int64(math.Round(r.DeliveredMsgsS))),
		strconv.FormatFloat(r.LatP50Ms, 'f', 2, 64),
		strconv.FormatFloat(r.LatP99Ms, 'f', 1, 64),
		thousands(int64(math.Round(r.LatMaxMs))),
		thousands(r.Lost),
		thousands(r.OutOfOrder + r.Duplicates),
		optFloat(r.RSSPerConnKB, 1),
		strconv.FormatFloat(r.ConnectS, 'f', 1, 64),
		optFloat(r.ServerCPUPct, 0),
		optFloat(r.CPUUsPerMsg, 1),
	}
	return "| " + strings.Join(cells, " | ") + " |\n"
}

// Markdown returns the table with its header and this report's row.
func (r Report) Markdown() string { return TableHeader() + r.Row() }

// thousands formats n with ',' between groups of three digits, as the baseline table does.
func thousands(n int64) string {
	s := strconv.FormatInt(n, 10)
	neg := strings.HasPrefix(s, "-")
	s = strings.TrimPrefix(s, "-")
	var b strings.Builder
	if neg {
		b.WriteByte('-')
	}
	for i, c := range s {
		if i > 0 && (len(s)-i)%3 == 0 {
			b.WriteByte(',')
		}
		b.WriteRune(c)
	}
	return b.String()
}

func optFloat(v *float64, prec int) string {
	if v == nil {
		return "–"
	}
	return strconv.FormatFloat(*v, 'f', prec, 64)
}

// trimFloat prints v to two decimals at most, without trailing zeros: 10, 2.5.
func trimFloat(v float64) string { return strconv.FormatFloat(math.Round(v*100)/100, 'f', -1, 64) }

func (r Report) String() string {
	return fmt.Sprintf("%s: %.0f msg/s delivered, p50 %.2f ms p99 %.1f ms max %.0f ms, lost %d, ooo+dup %d, gaps %d",
		r.Config, r.DeliveredMsgsS, r.LatP50Ms, r.LatP99Ms, r.LatMaxMs, r.Lost, r.OutOfOrder+r.Duplicates, r.SeqGaps)
}
