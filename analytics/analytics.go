// Package analytics is what the hub's own events add up to, cluster-wide:
// daily active users, sessions and their duration, jobs by outcome and type,
// time to first token, tokens per job and per second, job duration, resumes and
// the events replayed to resuming clients. Each node aggregates its share in
// memory (an actor of package actors) and flushes it to the store as a Batch of
// increments; any node answers from the store, so every node gives the same
// figures.
//
// It holds the types both sides share (Batch, Hist, Store) and the arithmetic
// of distributions; it owns no goroutine.
package analytics

import (
	"context"
	"math"
	"sort"
	"time"
)

// Day is a UTC day as YYYY-MM-DD.
func Day(t time.Time) string { return t.UTC().Format(time.DateOnly) }

// Counter names (a counter is kept per day, and per job type where it has one).
const (
	Sessions      = "sessions"       // connections opened on /ws
	Reconnects    = "reconnects"     // connections whose first subscribe resumed (fromSeq > 0)
	Resumes       = "resumes"        // subscribes with fromSeq > 0
	Replayed      = "replayed"       // events sent to clients from the store (resumes and late joiners)
	JobsCreated   = "jobs.created"   // per type
	JobsCompleted = "jobs.completed" // per type
	JobsFailed    = "jobs.failed"    // per type
	JobsCancelled = "jobs.cancelled" // per type
	Tokens        = "tokens"         // model:chunk:v1 events of finished jobs, per type
)

// Distribution names (a histogram is kept per day, and per job type where it has one).
const (
	SessionSeconds = "session.seconds" // how long a connection lasted
	TTFTMillis     = "ttft.ms"         // job created → first model:chunk:v1, per type
	DurationMillis = "duration.ms"     // job created → terminal event, per type
	TokensPerJob   = "tokens.per_job"  // per type
	TokensPerSec   = "tokens.per_sec"  // chunks / (last chunk − first chunk), per type
)

// PerMinute are the counters also kept per minute (all job types together),
// for series: MinuteKey names them.
var PerMinute = []string{Sessions, Resumes, Replayed, JobsCreated, JobsCompleted, JobsFailed, JobsCancelled, Tokens}

// MinuteKey is the key of counter name in the minute of t (UTC): name@HHMM.
func MinuteKey(name string, t time.Time) Key {
	return Key{Name: name + "@" + t.UTC().Format("1504")}
}

// Key names one counter or histogram of a day: name and the job type ("" for
// none).
type Key struct {
	Name, Type string
}

// Batch is what one node flushes at once: increments per day, and the node's
// open client connections now.
type Batch struct {
	Users    map[string]map[string]struct{} // day → user ids seen
	Counters map[string]map[Key]int64       // day → counter → increment
	Hists    map[string]map[Key]Hist        // day → histogram → bucket increments
	// Node and Conns: the flushing node and its open client connections (a
	// value, not an increment; Node "" leaves it out).
	Node  string
	Conns int64
}

// NewBatch returns an empty batch.
func NewBatch() *Batch {
	return &Batch{Users: map[string]map[string]struct{}{}, Counters: map[string]map[Key]int64{}, Hists: map[string]map[Key]Hist{}}
}

// Empty reports whether the batch holds no increment.
func (b *Batch) Empty() bool {
	return len(b.Users) == 0 && len(b.Counters) == 0 && len(b.Hists) == 0
}

// User records that user was active on day.
func (b *Batch) User(day, user string) {
	if b.Users[day] == nil {
		b.Users[day] = map[string]struct{}{}
	}
	b.Users[day][user] = struct{}{}
}

// Add adds n to a counter of day.
func (b *Batch) Add(day string, k Key, n int64) {
	if b.Counters[day] == nil {
		b.Counters[day] = map[Key]int64{}
	}
	b.Counters[day][k] += n
}

// Observe adds one value to a histogram of day.
func (b *Batch) Observe(day string, k Key, v float64) {
	if b.Hists[day] == nil {
		b.Hists[day] = map[Key]Hist{}
	}
	h := b.Hists[day][k]
	if h == nil {
		h = Hist{}
		b.Hists[day][k] = h
	}
	h[Bucket(v)]++
}

// Merge adds o's figures to b (a flush that failed goes with the next one).
func (b *Batch) Merge(o *Batch) {
	for day, us := range o.Users {
		for u := range us {
			b.User(day, u)
		}
	}
	for day, cs := range o.Counters {
		for k, n := range cs {
			b.Add(day, k, n)
		}
	}
	for day, hs := range o.Hists {
		if b.Hists[day] == nil {
			b.Hists[day] = map[Key]Hist{}
		}
		for k, h := range hs {
			if b.Hists[day][k] == nil {
				b.Hists[day][k] = Hist{}
			}
			b.Hists[day][k].Merge(h)
		}
	}
}

// Hist counts values by bucket (Bucket): sparse, mergeable by adding counts.
type Hist map[int]int64

// Buckets grow by 5 % from 0.001: a percentile read from them is within 2.5 %
// of the true value, for values from a microsecond (in ms) to years.
const growth = 1.05

// maxBucket is the last bucket (1e30 and above).
const maxBucket = 2000

// Bucket returns the bucket of v: 0 for v ≤ 0.001, else the smallest b with
// v ≤ 0.001·growth^b.
func Bucket(v float64) int {
	switch {
	case v <= 0.001 || math.IsNaN(v):
		return 0
	case v >= 1e30: // +Inf too: the last bucket
		return maxBucket
	}
	return min(int(math.Ceil(math.Log(v/0.001)/math.Log(growth))), maxBucket)
}

// Value is the middle of bucket b (its geometric mean).
func Value(b int) float64 {
	if b <= 0 {
		return 0
	}
	return 0.001 * math.Pow(growth, float64(b)-0.5)
}

// Summary is a distribution as the endpoints show it.
type Summary struct {
	Count int64   `json:"count"`
	P50   float64 `json:"p50"`
	P90   float64 `json:"p90"`
	P99   float64 `json:"p99"`
	Mean  float64 `json:"mean"`
}

// Summarize returns count, percentiles and mean of h (all 0 for an empty h).
func (h Hist) Summarize() Summary {
	var n int64
	bs := make([]int, 0, len(h))
	for b, c := range h {
		if c > 0 {
			bs = append(bs, b)
			n += c
		}
	}
	if n == 0 {
		return Summary{}
	}
	sort.Ints(bs)
	s := Summary{Count: n}
	var seen int64
	var sum float64
	for _, b := range bs {
		c := h[b]
		sum += float64(c) * Value(b)
		for _, q := range []struct {
			p   float64
			out *float64
		}{{0.5, &s.P50}, {0.9, &s.P90}, {0.99, &s.P99}} {
			if *q.out == 0 && float64(seen+c) >= q.p*float64(n) {
				*q.out = round3(Value(b))
			}
		}
		seen += c
	}
	s.Mean = round3(sum / float64(n))
	return s
}

// Merge adds o's counts to h.
func (h Hist) Merge(o Hist) {
	for b, c := range o {
		h[b] += c
	}
}

func round3(v float64) float64 { return math.Round(v*1000) / 1000 }

// Store is where the batches of every node add up. Both stores of package
// persistence implement it; figures expire after the retention given to
// Flush.
type Store interface {
	// Flush adds a batch: users to each day's set (a HyperLogLog on Redis),
	// counter and bucket increments. It keeps a day's figures for retention
	// after the day's last flush.
	Flush(ctx context.Context, b *Batch, retention time.Duration) error
	// DAU returns how many distinct users were active on day (±0.81 % on Redis).
	DAU(ctx context.Context, day string) (int64, error)
	// Day returns the counters and histograms of day.
	Day(ctx context.Context, day string) (map[Key]int64, map[Key]Hist, error)
	// Connections returns the open client connections of each node that
	// flushed within the last fresh.
	Connections(ctx context.Context, fresh time.Duration) (map[string]int64, error)
}
