package bench

import (
	"maps"
	"math"
	"strconv"
	"strings"
	"time"

	"github.com/actorhub/actorhub/client"
)

// report turns what the run measured into a Report.
func (r *run) report(connect time.Duration, rssBefore, rssAfter, rssEnd rssReading, win steady) Report {
	cfg := r.cfg
	rep := Report{
		Config: configName(cfg), Target: "actorhub", Node: strings.Join(r.bases, ","), Transport: cfg.Transport, Store: cfg.Store,
		Conns: cfg.Conns, Nodes: len(r.bases), Jobs: cfg.Jobs, OfferedMsgsS: offered(cfg),
		ChunksPerSecPerJob: cfg.Rate / float64(cfg.Jobs), DurationS: cfg.Duration.Seconds(),
		WarmupS: cfg.Warmup.Seconds(), ChunkBytes: cfg.ChunkBytes, WorkerConns: cfg.WorkerConns, CreateOn: cfg.CreateOn,
		WorkerMoved: r.worker.Stats().Moved,
		ConnectS:    connect.Seconds(), Subscribed: int(r.subscribed.Load()),
		ScheduleLagMaxMs: float64(r.maxLagUs) / 1000,
	}
	if len(r.nodes) > 0 {
		rep.Store = r.nodes[0].store
	}
	for j := range r.emitted {
		rep.Emitted += r.emitted[j].Load()
	}
	windowMsgs := r.throughput(&rep)
	r.clientResults(&rep)
	r.workerResults(&rep)
	if pct, ok := cpuPercent(win.genA, win.genB); ok {
		rep.GenCPUPct = pct
	}
	if pct, ok := cpuPercent(win.srvA, win.srvB); ok && len(r.nodes) > 0 {
		rep.ServerCPUPct = &pct
		if windowMsgs > 0 {
			us := float64((win.srvB.cpu - win.srvA.cpu).Microseconds()) / float64(windowMsgs)
			rep.CPUUsPerMsg = &us
		}
	}
	if rssBefore.ok && rssAfter.ok {
		kb := float64(rssAfter.kb-rssBefore.kb) / float64(cfg.Conns)
		rep.RSSPerConnKB = &kb
	}
	if rssEnd.ok {
		kb := rssEnd.kb
		rep.ServerRSSKB = &kb
	}
	return rep
}

// throughput fills the delivered msgs/s of the steady window (its whole
// seconds) and returns the messages received in it.
func (r *run) throughput(rep *Report) int64 {
	perSec := make([]int64, len(r.recvBySec))
	for i := range perSec {
		perSec[i] = r.recvBySec[i].Load()
	}
	from, to := int(ceilSeconds(r.cfg.Warmup)), int(r.cfg.Duration/time.Second)
	mean, worst, ok := window(perSec, from, to)
	if !ok {
		return 0
	}
	rep.DeliveredMsgsS, rep.DeliveredMinSec = mean, worst
	return int64(mean * float64(to-from))
}

// clientResults fills latency, loss and order from the stopped subscribers.
func (r *run) clientResults(rep *Report) {
	var lats []int64
	rep.ProtoErrors = map[string]int64{}
	for _, c := range r.clients {
		lats = append(lats, c.lats...)
		emitted, got := r.emitted[c.job].Load(), c.recv.Load()
		rep.Expected += emitted
		rep.Received += got
		rep.Lost += max(emitted-got, 0)
		st := c.sub.Stats()
		rep.OutOfOrder += st.OutOfOrder
		rep.Duplicates += st.DuplicatesDropped - st.OutOfOrder
		rep.SeqGaps += st.MissedSeqs
		rep.ClientReconnects += st.Reconnects
		for k, v := range st.Errors {
			rep.ProtoErrors[k] += v
		}
	}
	ls := summarize(lats)
	rep.LatP50Ms, rep.LatP90Ms, rep.LatP99Ms, rep.LatP999Ms, rep.LatMaxMs, rep.LatSamples = ls.P50, ls.P90, ls.P99, ls.P999, ls.Max, ls.N
}

func (r *run) workerResults(rep *Report) {
	ws := r.worker.Stats()
	rep.WorkerAcked, rep.WorkerUnacked, rep.WorkerResent, rep.WorkerReconnects = ws.Acked, ws.Pending, ws.Resent, ws.Reconnects
	rep.WorkerErrors = maps.Clone(ws.Errors)
	r.ackMu.Lock()
	as := summarize(r.ackLats)
	r.ackMu.Unlock()
	rep.WorkerAckP50Ms, rep.WorkerAckP99Ms, rep.WorkerAckMaxMs = as.P50, as.P99, as.Max
}

// offered is what the subscribers should receive per second: each of them
// gets its job's Rate/Jobs chunks/s.
func offered(cfg Config) float64 { return cfg.Rate / float64(cfg.Jobs) * float64(cfg.Conns) }

// configName names a run as the baseline table does: C<conns>-N<nodes>, with
// -<k>k when the offered load is not 10,000 msg/s, and -http for an HTTP worker.
func configName(cfg Config) string {
	name := "C" + strconv.Itoa(cfg.Conns) + "-N" + strconv.Itoa(max(1, cfg.Nodes))
	if k := math.Round(offered(cfg) / 1000); k != 10 {
		name += "-" + strconv.FormatFloat(k, 'f', -1, 64) + "k"
	}
	if cfg.Transport == client.TransportHTTP {
		name += "-http"
	}
	if cfg.CreateOn == "subscriber" {
		name += "-sub"
	}
	return name
}

// RateForDelivered returns the Rate (emits/s) at which conns subscribers spread
// over jobs receive delivered msgs/s in total, as the baseline sizes its runs.
func RateForDelivered(delivered float64, conns, jobs int) float64 {
	return delivered * float64(jobs) / float64(conns)
}

// rssReading is a VmRSS reading, ok false when not measured.
type rssReading struct {
	kb int64
	ok bool
}

func ceilSeconds(d time.Duration) int64 { return int64((d + time.Second - 1) / time.Second) }
