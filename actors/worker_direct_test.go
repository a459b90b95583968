package actors

import (
	"testing"

	"github.com/actorhub/actorhub/cluster"
	"github.com/asynkron/protoactor-go/actor"
	"github.com/prometheus/client_golang/prometheus"
)

// A worker connection sends an emit straight to its job's actor on this node
// only when no emit to the job through the job directory is unanswered, so
// that none overtakes another: while one is, the next go through the
// directory too, even once the job's actor is there again; once all are
// answered, they go straight again.
func TestWorkerEmitsNeverOvertakeThroughTheDirectory(t *testing.T) {
	t.Parallel()
	sys := quietSystem()
	got := make(chan string, 16)
	recorder := func(name string) *actor.PID {
		return sys.Root.Spawn(actor.PropsFromFunc(func(ctx actor.Context) {
			if _, ok := ctx.Message().(*emit); ok {
				got <- name
			} else if _, ok := ctx.Message().(*cluster.JobMsg); ok {
				got <- name
			}
		}))
	}
	h := &Hub{cfg: DefaultConfig(), metrics: NewMetrics(prometheus.NewRegistry()), system: sys}
	h.jobs = recorder("directory")
	d := newDirectory("job", nil)
	h.jobDir.Store(d)
	w := &WorkerConnActor{h: h, conn: &Conn{credits: make(chan struct{}, 16)}, sink: &recordSink{},
		watched: map[string]watch{}, sent: map[string]sentTo{}, self: actor.NewPID("nonhost", "worker")}
	emitTo := func(want string) {
		t.Helper()
		w.send(sys.Root, "j", nil)
		if to := <-got; to != want {
			t.Fatalf("an emit went to the %s, want the %s (sent: %+v)", to, want, w.sent["j"])
		}
	}
	first := recorder("first actor")
	d.setChild("j", first)
	emitTo("first actor")
	emitTo("first actor") // the unanswered one went to the same actor
	d.setChild("j", nil)  // it passivated
	emitTo("directory")
	d.setChild("j", recorder("second actor"))
	emitTo("directory") // one through the directory is unanswered
	w.onResult(&EmitResult{JobID: "j", Acks: 3})
	emitTo("directory") // still one
	w.onResult(&EmitResult{JobID: "j", Acks: 2})
	if len(w.sent) != 0 {
		t.Fatalf("every emit answered, yet sent holds %+v", w.sent)
	}
	emitTo("second actor")
}
