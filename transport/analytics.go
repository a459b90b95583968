package transport

import (
	"context"
	"errors"
	"net/http"
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

// day reads ?date=YYYY-MM-DD (default: today, UTC).
func day(r *http.Request) (string, error) {
	d := r.URL.Query().Get("date")
	if d == "" {
		return analytics.Day(time.Now()), nil
	}
	if _, err := time.Parse(time.DateOnly, d); err != nil {
		return "", badRequest("date must be YYYY-MM-DD")
	}
	return d, nil
}

// GET /api/analytics/dau?date=YYYY-MM-DD → {"date","dau"}.
func (s *Server) analyticsDAU(w http.ResponseWriter, r *http.Request) {
	as := s.analyticsStore(w)
	if as == nil {
		return
	}
	d, err := day(r)
	if err != nil {
		writeError(w, err)
		return
	}
	n, err := as.DAU(r.Context(), d)
	if err != nil {
		writeError(w, unavailable(err))
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
	as := s.analyticsStore(w)
	if as == nil {
		return
	}
	d, err := day(r)
	if err != nil {
		writeError(w, err)
		return
	}
	ctx, cancel := context.WithTimeout(r.Context(), 5*time.Second)
	defer cancel()
	dau, err := as.DAU(ctx, d)
	if err != nil {
		writeError(w, unavailable(err))
		return
	}
	counters, hists, err := as.Day(ctx, d)
	if err != nil {
		writeError(w, unavailable(err))
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
	writeJSON(w, 200, map[string]any{
		"dau":       dau,
		"timestamp": time.Now().UnixMilli(),
		"date":      d,
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

func unavailable(err error) error {
	var ce *events.CodedError
	if errors.As(err, &ce) {
		return err
	}
	return &events.CodedError{Code: events.CodeUnavailable, Err: err}
}
