package persistence

import (
	"context"
	"fmt"
	"testing"
	"time"


	"github.com/actorhub/actorhub/internal/redistest"
)


func TestZZHung(t *testing.T) {
	srv := redistest.Start(t)
	for _, mr := range []int{-1, 1} {
		cfg := DefaultConfig()
		cfg.MaxRetries = mr
		s := openRedis(t, srv.URL(), cfg)
		j := newJob(fmt.Sprint("hung-x", mr))
		j.create(t, s)
		srv.Pause()
		for i := 0; i < 3; i++ {
			start := time.Now()
			delta, evs := j.chunks(1)
			err := s.Append(context.Background(), j.st, delta, evs)
			t.Logf("maxretries %d try %d: %v %v", mr, i, time.Since(start), err)
			start = time.Now()
			_, err = s.Snapshot(context.Background(), j.st.JobID)
			t.Logf("  snapshot: %v %v", time.Since(start), err)
		}
		srv.Resume()
	}
}
