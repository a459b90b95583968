package bench

import (
	"bytes"
	"encoding/json"
	"math"
	"math/bits"
	"slices"
	"sync/atomic"
)

// percentile returns the nearest-rank p-th percentile (0 < p ≤ 100) of sorted
// values, 0 for none.
func percentile(sorted []int64, p float64) int64 {
	n := len(sorted)
	if n == 0 {
		return 0
	}
	rank := int(math.Ceil(p/100*float64(n) - 1e-9)) // 99.9/100·1000 is 999.0000000000001
	return sorted[min(max(rank, 1), n)-1]
}

// latencySummary is the percentiles of a set of latencies, in ms.
type latencySummary struct {
	P50, P90, P99, P999, Max float64
	N                        int
}

// summarize sorts us (µs) in place and returns its percentiles in ms.
func summarize(us []int64) latencySummary {
	slices.Sort(us)
	ms := func(v int64) float64 { return float64(v) / 1000 }
	return latencySummary{P50: ms(percentile(us, 50)), P90: ms(percentile(us, 90)), P99: ms(percentile(us, 99)),
		P999: ms(percentile(us, 99.9)), Max: ms(percentile(us, 100)), N: len(us)}
}

// histSubBits: 2^histSubBits buckets per power of two, a relative error under 1/32.
const histSubBits = 5

// histogram is a lock-free log-linear histogram of non-negative values, for
// percentiles while a run goes on (the report sorts the exact samples).
type histogram struct {
	counts [64 << histSubBits]atomic.Uint64
	n      atomic.Uint64
}

// histBucket maps v to its bucket: exact below 2^histSubBits, then
// 2^histSubBits buckets per power of two.
func histBucket(v int64) int {
	if v < 1<<histSubBits {
		return int(max(v, 0))
	}
	e := bits.Len64(uint64(v)) - histSubBits - 1
	return (e+1)<<histSubBits + int(v>>e) - 1<<histSubBits
}

// histUpper returns the largest value of bucket i.
func histUpper(i int) int64 {
	if i < 1<<histSubBits {
		return int64(i)
	}
	e := i>>histSubBits - 1
	m := int64(i&(1<<histSubBits-1)) + 1<<histSubBits
	return (m+1)<<e - 1
}

func (h *histogram) record(v int64) {
	h.counts[histBucket(v)].Add(1)
	h.n.Add(1)
}

// quantile returns an upper bound of the p-th percentile (nearest rank), 0 when empty.
func (h *histogram) quantile(p float64) int64 {
	n := h.n.Load()
	if n == 0 {
		return 0
	}
	rank := uint64(math.Ceil(p/100*float64(n) - 1e-9))
	var seen uint64
	for i := range h.counts {
		if seen += h.counts[i].Load(); seen >= max(rank, 1) {
			return histUpper(i)
		}
	}
	return histUpper(len(h.counts) - 1)
}

// chunkTS reads the "ts" number of a chunk's data. The bench's own worker
// writes {"chunk":"<text without quotes>","ts":N}, so a scan finds it without
// decoding; anything else goes through encoding/json. ok is false without a ts.
func chunkTS(data []byte) (ts int64, ok bool) {
	key := []byte(`"ts":`)
	if i := bytes.LastIndex(data, key); i >= 0 && bytes.Count(data, []byte{'"'}) == 6 {
		v, n := int64(0), 0
		for _, c := range data[i+len(key):] {
			if c < '0' || c > '9' || n == 18 {
				break
			}
			v = v*10 + int64(c-'0')
			n++
		}
		if n > 0 {
			return v, true
		}
	}
	var d struct {
		TS *int64 `json:"ts"`
	}
	if json.Unmarshal(data, &d) != nil || d.TS == nil {
		return 0, false
	}
	return *d.TS, true
}

// window returns the mean and the minimum of perSec over the whole seconds
// [from, to); ok is false when the window is empty.
func window(perSec []int64, from, to int) (mean float64, worst int64, ok bool) {
	from, to = max(from, 0), min(to, len(perSec))
	if from >= to {
		return 0, 0, false
	}
	var sum int64
	worst = math.MaxInt64
	for _, v := range perSec[from:to] {
		sum += v
		worst = min(worst, v)
	}
	return float64(sum) / float64(to-from), worst, true
}
