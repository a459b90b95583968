package bench

import (
	"math/rand/v2"
	"slices"
	"testing"
)

func TestPercentile(t *testing.T) {
	t.Parallel()
	ten := []int64{1, 2, 3, 4, 5, 6, 7, 8, 9, 10}
	thousand := make([]int64, 1000)
	for i := range thousand {
		thousand[i] = int64(i + 1)
	}
	for _, tc := range []struct {
		vals []int64
		p    float64
		want int64
	}{
		{nil, 50, 0},
		{[]int64{7}, 50, 7}, {[]int64{7}, 99.9, 7},
		{ten, 50, 5}, {ten, 90, 9}, {ten, 91, 10}, {ten, 99, 10}, {ten, 100, 10}, {ten, 0.1, 1},
		{thousand, 50, 500}, {thousand, 99, 990}, {thousand, 99.9, 999}, {thousand, 100, 1000},
	} {
		if got := percentile(tc.vals, tc.p); got != tc.want {
			t.Errorf("percentile(%d values, %v) = %d, want %d", len(tc.vals), tc.p, got, tc.want)
		}
	}
}

func TestSummarize(t *testing.T) {
	t.Parallel()
	us := []int64{3000, 1000, 2000, 500_000}
	s := summarize(us)
	if s.P50 != 2 || s.Max != 500 || s.N != 4 {
		t.Errorf("summarize = %+v, want p50 2 ms, max 500 ms, 4 samples", s)
	}
	if !slices.IsSorted(us) {
		t.Errorf("summarize did not sort its input")
	}
}

func TestHistBuckets(t *testing.T) {
	t.Parallel()
	prev := -1
	for v := int64(0); v < 1<<16; v++ {
		b := histBucket(v)
		if b != prev && b != prev+1 {
			t.Fatalf("bucket of %d is %d after %d: buckets skip", v, b, prev)
		}
		if up := histUpper(b); v > up || (b > 0 && v <= histUpper(b-1)) {
			t.Fatalf("value %d in bucket %d = (%d, %d]", v, b, histUpper(b-1), up)
		}
		prev = b
	}
	for _, v := range []int64{1 << 40, 1<<62 + 12345, 1<<63 - 1} {
		b := histBucket(v)
		if b >= len(histogram{}.counts) || v > histUpper(b) {
			t.Errorf("huge value %d: bucket %d of %d, upper %d", v, b, len(histogram{}.counts), histUpper(b))
		}
	}
}

func TestHistQuantile(t *testing.T) {
	t.Parallel()
	var h histogram
	if h.quantile(99) != 0 {
		t.Fatalf("empty histogram quantile = %d, want 0", h.quantile(99))
	}
	vals := make([]int64, 20000)
	for i := range vals {
		vals[i] = rand.Int64N(200_000)
		h.record(vals[i])
	}
	slices.Sort(vals)
	for _, p := range []float64{50, 90, 99, 99.9, 100} {
		exact, got := percentile(vals, p), h.quantile(p)
		if got < exact || float64(got-exact) > float64(exact)/32+1 {
			t.Errorf("p%v: histogram %d, exact %d: off by more than 1/32", p, got, exact)
		}
	}
}

func TestChunkTS(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		data string
		want int64
		ok   bool
	}{
		{`{"chunk":" the quick brown fox","ts":123456789}`, 123456789, true},
		{`{"chunk":"","ts":0}`, 0, true},
		{`{"ts":42,"chunk":"x"}`, 42, true},
		{`{"chunk":"say \"ts\":5","ts":7}`, 7, true}, // quotes in the text: decoded, not scanned
		{`{"chunk":"x", "ts" : 9}`, 9, true},
		{`{"chunk":"x"}`, 0, false},
		{`{"chunk":"x","ts":"soon"}`, 0, false},
		{`not json`, 0, false},
	} {
		got, ok := chunkTS([]byte(tc.data))
		if got != tc.want || ok != tc.ok {
			t.Errorf("chunkTS(%s) = %d, %v; want %d, %v", tc.data, got, ok, tc.want, tc.ok)
		}
	}
}

func TestWindow(t *testing.T) {
	t.Parallel()
	per := []int64{5, 100, 90, 110, 100, 3}
	if mean, worst, ok := window(per, 1, 5); !ok || mean != 100 || worst != 90 {
		t.Errorf("window [1,5) = %v %v %v, want 100 90 true", mean, worst, ok)
	}
	if _, _, ok := window(per, 4, 4); ok {
		t.Errorf("an empty window reported ok")
	}
	if mean, _, ok := window(per, 4, 99); !ok || mean != 51.5 {
		t.Errorf("window past the end = %v %v, want 51.5 clamped", mean, ok)
	}
}
