package svgplot

import (
	"encoding/xml"
	"io"
	"strings"
	"testing"
)

// wellFormed fails the test when s is not one well-formed XML document.
func wellFormed(t *testing.T, s string) {
	t.Helper()
	d := xml.NewDecoder(strings.NewReader(s))
	for {
		if _, err := d.Token(); err == io.EOF {
			return
		} else if err != nil {
			t.Fatalf("not well-formed: %v\n%s", err, s)
		}
	}
}

func TestRender(t *testing.T) {
	s := Render(Chart{
		Title: `p99 <by> "rate" & more`, XLabel: "offered msg/s", YLabel: "p99", YUnit: " ms", LogY: true,
		Series: []Series{
			{Name: "a", Points: []Point{{10000, 1.2}, {20000, 3}, {40000, 0}, {80000, 900}}},
			{Name: "b & c", Dashed: true, Points: []Point{{10000, 2}, {20000, 60}}},
		},
		Levels: []Level{{Y: 50, Label: "p99 50 ms"}},
		Marks:  []Mark{{X: 30000, Label: "kill n3"}},
	})
	wellFormed(t, s)
	for _, want := range []string{"&lt;by&gt;", "b &amp; c", "p99 50 ms", "kill n3", "80k", "1000 ms", "stroke-dasharray"} {
		if !strings.Contains(s, want) {
			t.Errorf("missing %q", want)
		}
	}
	// On a log axis a zero cannot be drawn: series a keeps three of its four points.
	if n := strings.Count(s, "<circle"); n != 5 {
		t.Errorf("%d points drawn, want 5 (the zero of a log axis left out)", n)
	}
}

func TestRenderEmptyAndFlat(t *testing.T) {
	for _, c := range []Chart{{}, {Series: []Series{{Name: "flat", Points: []Point{{1, 5}, {2, 5}}}}}, {LogY: true, Series: []Series{{Points: []Point{{1, 0}}}}}} {
		s := Render(c)
		wellFormed(t, s)
		if strings.Contains(s, "NaN") || strings.Contains(s, "Inf") {
			t.Errorf("chart %+v drew NaN or Inf:\n%s", c, s)
		}
	}
}

func TestTicks(t *testing.T) {
	got := ticks(0, 100000, false)
	if len(got) < 3 || len(got) > 8 || got[0] != 0 || got[len(got)-1] != 100000 {
		t.Errorf("ticks(0, 100000) = %v", got)
	}
	if got := ticks(0.1, 1000, true); len(got) != 5 {
		t.Errorf("log ticks(0.1, 1000) = %v, want 5 powers of ten", got)
	}
	for v, want := range map[float64]string{20000: "20k", 1500000: "1.5M", 0.5: "0.5", 250: "250", 2500: "2500", 12500: "12.5k"} {
		if got := num(v); got != want {
			t.Errorf("num(%v) = %q, want %q", v, got, want)
		}
	}
}
