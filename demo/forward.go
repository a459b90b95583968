package demo

import (
	"bytes"
	"context"
	"io"
	"net/http"
	"strings"
	"sync/atomic"
	"time"

	"github.com/actorhub/actorhub/events"
)

// Forward serves POST /api/demo/prompt on a node whose demo model runs in
// other processes (`actorhub demo-worker`, `actorhub serve --demo-worker`):
// it passes the request to the first worker that answers, starting at the
// next one in turn, so that a prompt is answered while a worker is up.
func Forward(workers []string) http.Handler {
	var next atomic.Uint64
	client := &http.Client{Timeout: 15 * time.Second}
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, 8<<10))
		if err != nil {
			writeJSON(w, 400, map[string]string{"error": events.CodeBadRequest, "message": "the body is over 8 KiB"})
			return
		}
		start := int(next.Add(1))
		var last string
		for i := range workers {
			url := strings.TrimRight(workers[(start+i)%len(workers)], "/") + "/api/demo/prompt"
			req, err := http.NewRequestWithContext(r.Context(), http.MethodPost, url, bytes.NewReader(body))
			if err != nil {
				last = err.Error()
				continue
			}
			req.Header.Set("Content-Type", "application/json")
			resp, err := client.Do(req)
			if err != nil {
				last = err.Error()
				continue
			}
			b, _ := io.ReadAll(io.LimitReader(resp.Body, 64<<10))
			resp.Body.Close()
			if resp.StatusCode >= 500 {
				last = resp.Status
				continue
			}
			w.Header().Set("Content-Type", "application/json")
			w.WriteHeader(resp.StatusCode)
			w.Write(b)
			return
		}
		if r.Context().Err() == context.Canceled {
			return
		}
		w.Header().Set("Retry-After", "1")
		writeJSON(w, 503, map[string]string{"error": events.CodeUnavailable, "message": "no demo worker answered: " + last})
	})
}
