package actors

import (
	"io"
	"log/slog"
	"testing"

	"github.com/asynkron/protoactor-go/actor"
)

// A turn runs on the caller's goroutine only when nothing posted waits for
// the actor's own turn (it would be overtaken), the actor is in no turn, and
// it has not stopped; posting counts a message until the actor's turn takes
// it, and the actor gets it unwrapped.
func TestSharedTurnNeverOvertakesWhatWasPosted(t *testing.T) {
	t.Parallel()
	var s sharedTurn
	if !s.enter() {
		t.Fatal("an idle actor's turn was refused")
	}
	if s.enter() {
		t.Fatal("a second turn entered while the first runs")
	}
	s.end()

	got := make(chan any, 1)
	root := quietSystem().Root
	pid := root.Spawn(actor.PropsFromFunc(func(ctx actor.Context) {
		if p, ok := ctx.Message().(*posted); ok {
			got <- p
		}
	}))
	s.post(root, pid, "first")
	if s.enter() {
		t.Fatal("a turn entered while a posted message waits: it would overtake it")
	}
	if msg := s.begin(<-got); msg != "first" {
		t.Fatalf("the actor's turn got %v, want the message posted", msg)
	}
	s.end()
	if !s.enter() {
		t.Fatal("a turn was refused once the posted message was taken")
	}
	s.dead = true
	s.end()
	if s.enter() {
		t.Fatal("a stopped actor's turn was entered")
	}
	s.dead = false
	if msg := s.begin("own"); msg != "own" {
		t.Fatalf("an own message came out as %v", msg)
	}
	s.end()
}

// quietSystem is an actor system that logs nothing, for tests that send
// messages without a hub.
func quietSystem() *actor.ActorSystem {
	quiet := slog.New(slog.NewTextHandler(io.Discard, nil))
	return actor.NewActorSystem(actor.WithLoggerFactory(func(*actor.ActorSystem) *slog.Logger { return quiet }))
}
