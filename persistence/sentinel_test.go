package persistence

import (
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/actorhub/actorhub/internal/redistest"
)

// TestRedisSentinelFailover: a redis+sentinel:// store writes to the primary
// the sentinel names; the primary is killed, the sentinel promotes the
// replica, and the store finds the new primary by itself. With WaitReplicas
// every append acknowledged before the kill was on the replica, so the new
// primary holds the whole journal: the job is taken over (a new epoch) and
// continues from there.
func TestRedisSentinelFailover(t *testing.T) {
	primary := redistest.Start(t)
	replica := redistest.Start(t, redistest.ReplicaOf(primary))
	redistest.WaitReplicated(t, replica)
	sentinel := redistest.StartSentinel(t, primary, "hub", 500*time.Millisecond)
	waitFor(t, 30*time.Second, func() error { // the sentinel learns of the replica from the primary's INFO
		out, err := sentinel.Command("SENTINEL REPLICAS hub")
		if err != nil || out != "*1" {
			return fmt.Errorf("the sentinel lists %q replicas (%v), want *1", out, err)
		}
		return nil
	})
	url := "redis+sentinel://" + sentinel.Addr() + "/0?master_name=hub"
	cfg := testConfig()
	cfg.WaitReplicas, cfg.WaitTimeout = 1, 2*time.Second
	s := openRedis(t, url, cfg)
	if !strings.Contains(s.String(), "master_name=hub") {
		t.Errorf("the store names itself %q; want its URL", s.String())
	}
	j := newJob(jobID(t, "failover"))
	j.create(t, s)
	for range 20 {
		j.appendN(t, s, 1) // each acknowledged: on the primary and the replica
	}

	primary.Kill()
	// The sentinel promotes the replica; a store without WAIT (no replica is
	// left to wait for) takes the job over there.
	var after *Redis
	waitFor(t, 30*time.Second, func() error {
		if after == nil { // Open pings: it fails until the sentinel names a live primary
			s, err := OpenRedis(ctxT(t), url, testConfig())
			if err != nil {
				return err
			}
			after = s
			t.Cleanup(func() { _ = after.Close() })
		}
		st, err := after.Acquire(ctxT(t), j.st.JobID, "node-b")
		if err != nil {
			return fmt.Errorf("take the job over after the failover: %w", err)
		}
		if st.Epoch <= j.st.Epoch {
			return fmt.Errorf("epoch %d after the takeover, want more than %d", st.Epoch, j.st.Epoch)
		}
		j.st.Epoch = st.Epoch
		return nil
	})
	checkJournal(t, after, j.st.JobID, 21, j.output) // nothing acknowledged was lost
	j.appendN(t, after, 3)
	checkJournal(t, after, j.st.JobID, 24, j.output)
	if info, err := replica.Command("INFO replication"); err != nil || !strings.Contains(info, "role:master") {
		t.Fatalf("the replica was not promoted: %v\n%s", err, info)
	}
}

// TestRedisSentinelURL: a redis+sentinel:// URL must name its master.
func TestRedisSentinelURL(t *testing.T) {
	_, err := OpenRedis(ctxT(t), "redis+sentinel://127.0.0.1:1/0", testConfig())
	wantErr(t, "a sentinel URL without master_name", err, ErrBadURL)
	if got := redact("redis+sentinel://u:secret@127.0.0.1:26379/0?master_name=hub&password=hunter2"); strings.Contains(got, "secret") || strings.Contains(got, "hunter2") {
		t.Fatalf("redact left a password in %q", got)
	}
}
