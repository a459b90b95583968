package analytics

import (
	"math"
	"math/rand/v2"
	"sort"
	"testing"
)

// TestSummarizeIsWithinTheBucketError: percentiles read from the buckets are
// within 2.5 % (half a bucket) of the exact ones, and merging is adding.
func TestSummarizeIsWithinTheBucketError(t *testing.T) {
	t.Parallel()
	r := rand.New(rand.NewPCG(1, 2))
	for _, gen := range []func() float64{
		func() float64 { return 1 + r.Float64()*1000 },            // uniform ms
		func() float64 { return math.Exp(r.NormFloat64()*2 + 3) }, // log-normal, long tail
	} {
		vals := make([]float64, 20000)
		a, b := Hist{}, Hist{}
		for i := range vals {
			vals[i] = gen()
			h := a
			if i%2 == 1 {
				h = b
			}
			h[Bucket(vals[i])]++
		}
		a.Merge(b)
		sort.Float64s(vals)
		s := a.Summarize()
		if s.Count != int64(len(vals)) {
			t.Fatalf("count %d", s.Count)
		}
		for _, q := range []struct {
			p   float64
			got float64
		}{{0.5, s.P50}, {0.9, s.P90}, {0.99, s.P99}} {
			exact := vals[int(math.Ceil(q.p*float64(len(vals))))-1]
			if math.Abs(q.got-exact)/exact > 0.026 {
				t.Errorf("p%v = %v, exact %v: more than 2.5 %% off", q.p*100, q.got, exact)
			}
		}
	}
	if (Hist{}).Summarize() != (Summary{}) {
		t.Fatal("an empty histogram has no figures")
	}
	if Bucket(0) != 0 || Bucket(-5) != 0 || Bucket(math.NaN()) != 0 || Bucket(math.Inf(1)) != maxBucket {
		t.Fatal("bucket edges")
	}
}

// TestBatchMerge: a merged batch holds the figures of both.
func TestBatchMerge(t *testing.T) {
	t.Parallel()
	a, b := NewBatch(), NewBatch()
	k := Key{Name: JobsCreated, Type: "llm"}
	a.User("d", "ann")
	a.Add("d", k, 2)
	a.Observe("d", Key{Name: TTFTMillis}, 10)
	b.User("d", "bob")
	b.User("e", "ann")
	b.Add("d", k, 3)
	b.Observe("d", Key{Name: TTFTMillis}, 10)
	b.Observe("e", Key{Name: TTFTMillis}, 20)
	a.Merge(b)
	if len(a.Users["d"]) != 2 || len(a.Users["e"]) != 1 || a.Counters["d"][k] != 5 ||
		a.Hists["d"][Key{Name: TTFTMillis}].Summarize().Count != 2 || a.Hists["e"][Key{Name: TTFTMillis}].Summarize().Count != 1 {
		t.Fatalf("merged %+v", a)
	}
}
