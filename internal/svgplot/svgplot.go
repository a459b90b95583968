// Package svgplot draws small line charts as standalone SVG: the failover
// timelines of `actorhub chaos` and the latency curves of the ceiling sweep.
// It has no dependencies and writes no script, so the files open anywhere
// (a browser, GitHub's viewer, an image tag).
package svgplot

import (
	"fmt"
	"html"
	"math"
	"strconv"
	"strings"
)

// Point is one sample of a series.
type Point struct{ X, Y float64 }

// Series is one line of the chart.
type Series struct {
	Name   string
	Color  string // CSS colour; empty picks one from the palette
	Dashed bool
	Points []Point
}

// Mark is a vertical line at X, labelled (a fault in a timeline).
type Mark struct {
	X     float64
	Label string
}

// Level is a horizontal line at Y, labelled (a target such as "p99 50 ms").
type Level struct {
	Y     float64
	Label string
}

// Chart is what Render draws. Width and Height default to 960×320.
type Chart struct {
	Title          string
	XLabel, YLabel string
	// XUnit and YUnit follow each tick's number ("s", "/s", " ms").
	XUnit, YUnit  string
	LogY          bool // logarithmic Y axis (values ≤ 0 are left out)
	Width, Height int
	Series        []Series
	Marks         []Mark
	Levels        []Level
}

var palette = []string{"#1f6feb", "#cf222e", "#1a7f37", "#9a6700", "#8250df", "#57606a"}

// Render returns the chart as an SVG document.
func Render(c Chart) string {
	w, h := c.Width, c.Height
	if w <= 0 {
		w = 960
	}
	if h <= 0 {
		h = 320
	}
	const left, right, top, bottom = 64, 20, 30, 44
	legend := 0
	if len(c.Series) > 1 {
		legend = 18 * ((len(c.Series) + 2) / 3)
	}
	plotTop := float64(top + legend)

	xmin, xmax := math.Inf(1), math.Inf(-1)
	ymin, ymax := math.Inf(1), math.Inf(-1)
	use := func(p Point) bool {
		return !math.IsNaN(p.X) && !math.IsInf(p.X, 0) && !math.IsNaN(p.Y) && !math.IsInf(p.Y, 0) && (!c.LogY || p.Y > 0)
	}
	for _, s := range c.Series {
		for _, p := range s.Points {
			if !use(p) {
				continue
			}
			xmin, xmax = math.Min(xmin, p.X), math.Max(xmax, p.X)
			ymin, ymax = math.Min(ymin, p.Y), math.Max(ymax, p.Y)
		}
	}
	for _, m := range c.Marks {
		xmin, xmax = math.Min(xmin, m.X), math.Max(xmax, m.X)
	}
	for _, l := range c.Levels {
		if !c.LogY || l.Y > 0 {
			ymin, ymax = math.Min(ymin, l.Y), math.Max(ymax, l.Y)
		}
	}
	if math.IsInf(xmin, 0) {
		xmin, xmax = 0, 1
	}
	if math.IsInf(ymin, 0) {
		ymin, ymax = 0, 1
	}
	if !c.LogY {
		ymin = math.Min(ymin, 0)
		xmin = math.Min(xmin, 0)
	} else {
		if ymin <= 0 {
			ymin, ymax = 1, 10
		}
		ymin = math.Pow(10, math.Floor(math.Log10(ymin)))
		ymax = math.Pow(10, math.Ceil(math.Log10(ymax)))
	}
	if xmax <= xmin {
		xmax = xmin + 1
	}
	if ymax <= ymin {
		ymax = ymin + 1
	}

	pw, ph := float64(w-left-right), float64(h)-plotTop-bottom
	x := func(v float64) float64 { return left + (v-xmin)*pw/(xmax-xmin) }
	y := func(v float64) float64 {
		if c.LogY {
			return plotTop + ph - (math.Log10(v)-math.Log10(ymin))*ph/(math.Log10(ymax)-math.Log10(ymin))
		}
		return plotTop + ph - (v-ymin)*ph/(ymax-ymin)
	}

	var b strings.Builder
	fmt.Fprintf(&b, `<svg xmlns="http://www.w3.org/2000/svg" width="%d" height="%d" font-family="sans-serif" font-size="11">`, w, h)
	fmt.Fprintf(&b, `<rect width="100%%" height="100%%" fill="white"/><text x="%d" y="18" font-size="13">%s</text>`, left, esc(c.Title))
	for i, s := range c.Series {
		if len(c.Series) < 2 {
			break
		}
		lx, ly := left+(i%3)*300, top+4+18*(i/3)
		fmt.Fprintf(&b, `<line x1="%d" y1="%d" x2="%d" y2="%d" stroke="%s" stroke-width="2"%s/><text x="%d" y="%d">%s</text>`,
			lx, ly, lx+24, ly, color(s, i), dash(s), lx+30, ly+4, esc(s.Name))
	}
	// Axes and ticks.
	fmt.Fprintf(&b, `<line x1="%d" y1="%.1f" x2="%d" y2="%.1f" stroke="#999"/>`, left, plotTop+ph, w-right, plotTop+ph)
	fmt.Fprintf(&b, `<line x1="%d" y1="%.1f" x2="%d" y2="%.1f" stroke="#999"/>`, left, plotTop, left, plotTop+ph)
	for _, t := range ticks(xmin, xmax, false) {
		fmt.Fprintf(&b, `<text x="%.1f" y="%.1f" text-anchor="middle">%s%s</text>`, x(t), plotTop+ph+16, num(t), esc(c.XUnit))
	}
	for _, t := range ticks(ymin, ymax, c.LogY) {
		fmt.Fprintf(&b, `<line x1="%d" y1="%.1f" x2="%d" y2="%.1f" stroke="#eee"/>`, left+1, y(t), w-right, y(t))
		fmt.Fprintf(&b, `<text x="%d" y="%.1f" text-anchor="end">%s%s</text>`, left-4, y(t)+4, num(t), esc(c.YUnit))
	}
	if c.XLabel != "" {
		fmt.Fprintf(&b, `<text x="%.1f" y="%d" text-anchor="middle">%s</text>`, left+pw/2, h-6, esc(c.XLabel))
	}
	if c.YLabel != "" {
		fmt.Fprintf(&b, `<text x="12" y="%.1f" text-anchor="middle" transform="rotate(-90 12 %.1f)">%s</text>`, plotTop+ph/2, plotTop+ph/2, esc(c.YLabel))
	}
	for _, l := range c.Levels {
		if c.LogY && l.Y <= 0 {
			continue
		}
		fmt.Fprintf(&b, `<line x1="%d" y1="%.1f" x2="%d" y2="%.1f" stroke="#9a6700" stroke-dasharray="6 4"/>`, left, y(l.Y), w-right, y(l.Y))
		fmt.Fprintf(&b, `<text x="%d" y="%.1f" fill="#9a6700" text-anchor="end">%s</text>`, w-right-2, y(l.Y)-4, esc(l.Label))
	}
	for _, m := range c.Marks {
		mx := x(m.X)
		fmt.Fprintf(&b, `<line x1="%.1f" y1="%.1f" x2="%.1f" y2="%.1f" stroke="#cf222e" stroke-dasharray="4 3"/>`, mx, plotTop, mx, plotTop+ph)
		fmt.Fprintf(&b, `<text x="%.1f" y="%.1f" fill="#cf222e" transform="rotate(-90 %.1f %.1f)" text-anchor="end">%s</text>`,
			mx+4, plotTop+2, mx+4, plotTop+2, esc(m.Label))
	}
	for i, s := range c.Series {
		var pts []string
		for _, p := range s.Points {
			if use(p) {
				pts = append(pts, fmt.Sprintf("%.1f,%.1f", x(p.X), y(p.Y)))
			}
		}
		fmt.Fprintf(&b, `<polyline fill="none" stroke="%s" stroke-width="1.5"%s points="%s"/>`, color(s, i), dash(s), strings.Join(pts, " "))
		if len(s.Points) <= 40 {
			for _, pt := range pts {
				xy := strings.SplitN(pt, ",", 2)
				fmt.Fprintf(&b, `<circle cx="%s" cy="%s" r="2.5" fill="%s"/>`, xy[0], xy[1], color(s, i))
			}
		}
	}
	b.WriteString("</svg>\n")
	return b.String()
}

func color(s Series, i int) string {
	if s.Color != "" {
		return s.Color
	}
	return palette[i%len(palette)]
}

func dash(s Series) string {
	if s.Dashed {
		return ` stroke-dasharray="5 3"`
	}
	return ""
}

func esc(s string) string { return html.EscapeString(s) }

// ticks gives about six round values in [lo, hi]; powers of ten on a log axis.
func ticks(lo, hi float64, log bool) []float64 {
	var out []float64
	if log {
		for v := lo; v <= hi*1.0001 && len(out) < 30; v *= 10 {
			out = append(out, v)
		}
		return out
	}
	step := math.Pow(10, math.Floor(math.Log10((hi-lo)/5)))
	for _, m := range []float64{1, 2, 5, 10} {
		if (hi-lo)/(step*m) <= 7 {
			step *= m
			break
		}
	}
	for v := math.Ceil(lo/step) * step; v <= hi+step*1e-9 && len(out) < 30; v += step {
		out = append(out, v)
	}
	return out
}

// num prints a tick: 20000 as 20k, 2500 as 2500, 0.5 as 0.5.
func num(v float64) string {
	switch a := math.Abs(v); {
	case a >= 1e6 && math.Mod(v, 1e5) == 0:
		return strconv.FormatFloat(v/1e6, 'f', -1, 64) + "M"
	case a >= 1e4 && math.Mod(v, 100) == 0:
		return strconv.FormatFloat(v/1e3, 'f', -1, 64) + "k"
	default:
		return strconv.FormatFloat(v, 'f', -1, 64)
	}
}
