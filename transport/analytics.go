package transport

import (
	"context"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/actorhub/actorhub/analytics"
	"github.com/actorhub/actorhub/events"
)

// The analytics endpoints answer from the store, so every node gives the
// cluster-wide figures (each node flushes its share once a second).

// analyticsStore returns the store's analytics, or writes 404 when it keeps none.
func (s *Server) analyticsStore(w http.ResponseWriter) analytics.Store {
	as := s.hub.Analytics()
	if as == nil {
		writeJSON(w, 404, map[string]string{"error": events.CodeBadRequest, "message": "this node's store keeps no analytics"})
	}
	return as
}

// analyticsDay returns the store's analytics and the day of ?date=YYYY-MM-DD
// (default: today, UTC), or writes the error and returns nil.
func (s *Server) analyticsDay(w http.ResponseWriter, r *http.Request) (analytics.Store, string) {
	as := s.analyticsStore(w)
	if as == nil {
		return nil, ""
	}
	d := r.URL.Query().Get("date")
	if d == "" {
		return as, analytics.Day(time.Now())
	}
	if _, err := time.Parse(time.DateOnly, d); err != nil {
		writeError(w, badRequest("date must be YYYY-MM-DD"))
		return nil, ""
	}
	return as, d
}

// GET /api/analytics/dau?date=YYYY-MM-DD → {"date","dau"}.
func (s *Server) analyticsDAU(w http.ResponseWriter, r *http.Request) {
	as, d := s.analyticsDay(w, r)
	if as == nil {
		return
	}
	n, err := as.DAU(r.Context(), d)
	if err != nil {
		writeError(w, events.AsCoded(err, events.CodeUnavailable))
		return
	}
	writeJSON(w, 200, map[string]any{"date": d, "dau": n})
}

// jobFigures are one job type's figures of a day.
type jobFigures struct {
	Created      int64             `json:"created"`
	Completed    int64             `json:"completed"`
	Failed       int64             `json:"failed"`
	Cancelled    int64             `json:"cancelled"`
	Tokens       int64             `json:"tokens"`
	TTFTMs       analytics.Summary `json:"ttftMs"`
	DurationMs   analytics.Summary `json:"durationMs"`
	TokensPerJob analytics.Summary `json:"tokensPerJob"`
	TokensPerSec analytics.Summary `json:"tokensPerSec"`
}

// GET /api/analytics/metrics?date=YYYY-MM-DD → {"dau","timestamp",…}: the
// summary of the stack actorhub replaces, with the day's sessions, jobs per
// type and their distributions, reconnects, resumes and replayed events.
func (s *Server) analyticsMetrics(w http.ResponseWriter, r *http.Request) {
	as, d := s.analyticsDay(w, r)
	if as == nil {
		return
	}
	ctx, cancel := context.WithTimeout(r.Context(), 5*time.Second)
	defer cancel()
	dau, err := as.DAU(ctx, d)
	if err != nil {
		writeError(w, events.AsCoded(err, events.CodeUnavailable))
		return
	}
	counters, hists, err := as.Day(ctx, d)
	if err != nil {
		writeError(w, events.AsCoded(err, events.CodeUnavailable))
		return
	}
	types := map[string]*jobFigures{}
	all := &jobFigures{}
	fig := func(t string) *jobFigures {
		if types[t] == nil {
			types[t] = &jobFigures{}
		}
		return types[t]
	}
	for k, n := range counters {
		if k.Type == "" {
			continue
		}
		f := fig(k.Type)
		for _, p := range []struct {
			name     string
			one, sum *int64
		}{{analytics.JobsCreated, &f.Created, &all.Created}, {analytics.JobsCompleted, &f.Completed, &all.Completed},
			{analytics.JobsFailed, &f.Failed, &all.Failed}, {analytics.JobsCancelled, &f.Cancelled, &all.Cancelled},
			{analytics.Tokens, &f.Tokens, &all.Tokens}} {
			if k.Name == p.name {
				*p.one += n
				*p.sum += n
			}
		}
	}
	merged := map[string]analytics.Hist{}
	for k, h := range hists {
		if k.Type == "" {
			continue
		}
		if merged[k.Name] == nil {
			merged[k.Name] = analytics.Hist{}
		}
		merged[k.Name].Merge(h)
		f := fig(k.Type)
		summarizeInto(f, k.Name, h)
	}
	for name, h := range merged {
		summarizeInto(all, name, h)
	}
	conns, err := as.Connections(ctx, 10*time.Second)
	if err != nil {
		writeError(w, events.AsCoded(err, events.CodeUnavailable))
		return
	}
	writeJSON(w, 200, map[string]any{
		"dau":         dau,
		"connections": conns,
		"timestamp":   time.Now().UnixMilli(),
		"date":        d,
		"sessions": map[string]any{
			"count":   counters[analytics.Key{Name: analytics.Sessions}],
			"seconds": hists[analytics.Key{Name: analytics.SessionSeconds}].Summarize(),
		},
		"reconnects": counters[analytics.Key{Name: analytics.Reconnects}],
		"resumes":    counters[analytics.Key{Name: analytics.Resumes}],
		"replayed":   counters[analytics.Key{Name: analytics.Replayed}],
		"jobs":       all,
		"jobsByType": types,
	})
}

func summarizeInto(f *jobFigures, name string, h analytics.Hist) {
	switch name {
	case analytics.TTFTMillis:
		f.TTFTMs = h.Summarize()
	case analytics.DurationMillis:
		f.DurationMs = h.Summarize()
	case analytics.TokensPerJob:
		f.TokensPerJob = h.Summarize()
	case analytics.TokensPerSec:
		f.TokensPerSec = h.Summarize()
	}
}

// seriesLimit bounds the points of one series answer.
const seriesLimit = 2000

// parseTime reads a time as unix ms or RFC 3339.
func parseTime(v string, def time.Time) (time.Time, error) {
	if v == "" {
		return def, nil
	}
	if ms, err := strconv.ParseInt(v, 10, 64); err == nil {
		return time.UnixMilli(ms).UTC(), nil
	}
	t, err := time.Parse(time.RFC3339, v)
	if err != nil {
		return time.Time{}, badRequest("from and to are unix ms or RFC 3339 times")
	}
	return t.UTC(), nil
}

// GET /api/analytics/series?metric=M&from=T&to=T&step=S → {"metric","step",
// "from","to","points":[[unix ms, value],…]}: a counter per step (1m or more;
// default 1m; from and to default to the last hour), or dau per day (step 1d).
func (s *Server) analyticsSeries(w http.ResponseWriter, r *http.Request) {
	as := s.analyticsStore(w)
	if as == nil {
		return
	}
	q := r.URL.Query()
	metric := q.Get("metric")
	counter := false
	for _, m := range analytics.PerMinute {
		counter = counter || m == metric
	}
	if !counter && metric != "dau" {
		writeError(w, badRequest("metric must be dau or one of "+strings.Join(analytics.PerMinute, ", ")))
		return
	}
	now := time.Now().UTC()
	to, err := parseTime(q.Get("to"), now)
	if err == nil {
		var from time.Time
		if from, err = parseTime(q.Get("from"), to.Add(-time.Hour)); err == nil {
			s.series(w, r, as, metric, from, to)
			return
		}
	}
	writeError(w, err)
}

func (s *Server) series(w http.ResponseWriter, r *http.Request, as analytics.Store, metric string, from, to time.Time) {
	step := time.Minute
	if v := r.URL.Query().Get("step"); v != "" {
		var err error
		if v == "1d" {
			step = 24 * time.Hour
		} else if step, err = time.ParseDuration(v); err != nil || step < time.Minute || step%time.Minute != 0 {
			writeError(w, badRequest("step is a whole number of minutes (1m, 5m, 1h) or 1d"))
			return
		}
	}
	if metric == "dau" {
		step = 24 * time.Hour
	}
	from, to = from.Truncate(step), to.Truncate(step)
	if step == 24*time.Hour {
		from = time.Date(from.Year(), from.Month(), from.Day(), 0, 0, 0, 0, time.UTC)
		to = time.Date(to.Year(), to.Month(), to.Day(), 0, 0, 0, 0, time.UTC)
	}
	n := int(to.Sub(from)/step) + 1
	if to.Before(from) || n > seriesLimit {
		writeError(w, badRequest(fmt.Sprintf("from must be before to, with at most %d steps between them", seriesLimit)))
		return
	}
	ctx, cancel := context.WithTimeout(r.Context(), 5*time.Second)
	defer cancel()
	vals := make([]int64, n)
	for d := time.Date(from.Year(), from.Month(), from.Day(), 0, 0, 0, 0, time.UTC); !d.After(to); d = d.Add(24 * time.Hour) {
		day := analytics.Day(d)
		if metric == "dau" {
			v, err := as.DAU(ctx, day)
			if err != nil {
				writeError(w, events.AsCoded(err, events.CodeUnavailable))
				return
			}
			vals[int(d.Sub(from)/step)] = v
			continue
		}
		counters, _, err := as.Day(ctx, day)
		if err != nil {
			writeError(w, events.AsCoded(err, events.CodeUnavailable))
			return
		}
		for k, v := range counters {
			name, hhmm, ok := strings.Cut(k.Name, "@")
			if !ok || name != metric || len(hhmm) != 4 {
				continue
			}
			hh, err1 := strconv.Atoi(hhmm[:2])
			mm, err2 := strconv.Atoi(hhmm[2:])
			if err1 != nil || err2 != nil {
				continue
			}
			t := d.Add(time.Duration(hh)*time.Hour + time.Duration(mm)*time.Minute)
			if t.Before(from) || !t.Before(to.Add(step)) {
				continue
			}
			vals[int(t.Sub(from)/step)] += v
		}
	}
	points := make([][2]int64, n)
	for i := range vals {
		points[i] = [2]int64{from.Add(time.Duration(i) * step).UnixMilli(), vals[i]}
	}
	writeJSON(w, 200, map[string]any{"metric": metric, "step": step.String(), "from": from.UnixMilli(), "to": to.UnixMilli(), "points": points})
}
