package cluster

import (
	"fmt"
	"log/slog"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/hashicorp/memberlist"
)

// startMembers starts n members on loopback (gossip port 0), all joined to
// the first, and stops them at cleanup.
func startMembers(t *testing.T, n int) []*Membership {
	t.Helper()
	return startMembersWith(t, n, nil)
}

// startMembersWith is startMembers with each member's config changed by tune.
func startMembersWith(t *testing.T, n int, tune func(*Config)) []*Membership {
	t.Helper()
	var ms []*Membership
	for i := range n {
		var join []string
		if i > 0 {
			join = []string{ms[0].Addr()}
		}
		ms = append(ms, startMemberWith(t, i, join, tune))
	}
	for _, m := range ms {
		waitState(t, m, 10*time.Second, func(v *View) error {
			if c := count(v, StateAlive); c != n {
				return fmt.Errorf("%s sees %d alive members, want %d", m.Self(), c, n)
			}
			return nil
		})
	}
	return ms
}

// startMember starts member n<i+1> on loopback (gossip port 0), joining
// join, and stops it at cleanup; it does not wait for the join.
func startMember(t *testing.T, i int, join []string) *Membership {
	t.Helper()
	return startMemberWith(t, i, join, nil)
}

func startMemberWith(t *testing.T, i int, join []string, tune func(*Config)) *Membership {
	t.Helper()
	cfg := DefaultConfig()
	cfg.Gossip = "127.0.0.1:0"
	cfg.Meta = Meta{ID: fmt.Sprintf("n%d", i+1), Remote: fmt.Sprintf("127.0.0.1:%d", 9000+i)}
	if testing.Verbose() {
		cfg.Logger = slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelInfo})).With("node", cfg.Meta.ID)
	}
	cfg.Join = join
	if tune != nil {
		tune(&cfg)
	}
	m, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	if err := m.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = m.Stop(time.Second) })
	return m
}

func count(v *View, state string) int {
	c := 0
	for _, mem := range v.Members {
		if mem.State == state {
			c++
		}
	}
	return c
}

func stateOf(v *View, id string) string {
	for _, mem := range v.Members {
		if mem.Meta.ID == id {
			return mem.State
		}
	}
	return ""
}

func waitState(t *testing.T, m *Membership, d time.Duration, ok func(*View) error) {
	t.Helper()
	deadline := time.Now().Add(d)
	for {
		err := ok(m.View())
		if err == nil {
			return
		}
		if time.Now().After(deadline) {
			t.Fatal(err)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// TestMembershipCrashIsSuspectThenDead: a member that stops answering without
// leaving is first suspect, then dead, in the others' views (the states GET
// /api/cluster shows), and it owns nothing from the moment it is dead.
func TestMembershipCrashIsSuspectThenDead(t *testing.T) {
	ms := startMembers(t, 3)
	victim := ms[2]
	crash(t, victim)
	var seen []string
	deadline := time.Now().Add(15 * time.Second)
	for time.Now().Before(deadline) {
		s := stateOf(ms[0].View(), victim.Self())
		if len(seen) == 0 || seen[len(seen)-1] != s {
			seen = append(seen, s)
		}
		if s == StateDead {
			break
		}
		time.Sleep(2 * time.Millisecond)
	}
	if got := strings.Join(seen, " "); got != "alive suspect dead" {
		t.Fatalf("%s saw %s go through %q, want \"alive suspect dead\"", ms[0].Self(), victim.Self(), got)
	}
	for i := range 200 {
		if id, _, _ := ms[0].Owner(fmt.Sprintf("job-%d", i)); id == victim.Self() {
			t.Fatalf("job-%d is still placed on the dead %s", i, id)
		}
	}
	if ms[0].Alive(victim.cfg.Meta.Remote) {
		t.Fatal("a dead member's remote address is still reported alive")
	}
}

// TestMembershipDrainThenLeave: a draining member stays in the view but owns
// no job, and once it leaves it shows as left, not dead.
func TestMembershipDrainThenLeave(t *testing.T) {
	ms := startMembers(t, 3)
	if err := ms[1].SetDraining(); err != nil {
		t.Fatal(err)
	}
	for _, m := range ms {
		waitState(t, m, 5*time.Second, func(v *View) error {
			for i := range 200 {
				if mem, _ := v.Owner(fmt.Sprintf("job-%d", i)); mem.Meta.ID == "n2" {
					return fmt.Errorf("%s still places job-%d on the draining n2", m.Self(), i)
				}
			}
			return nil
		})
	}
	if err := ms[1].Stop(2 * time.Second); err != nil {
		t.Fatal(err)
	}
	waitState(t, ms[0], 10*time.Second, func(v *View) error {
		if s := stateOf(v, "n2"); s != StateLeft {
			return fmt.Errorf("n1 sees n2 as %q, want left", s)
		}
		return nil
	})
}

// TestMembershipSuspicionExpires: a suspicion this node raised is dropped
// once memberlist would have declared the member dead by then, if it did not
// (the member refuted it).
func TestMembershipSuspicionExpires(t *testing.T) {
	m, err := New(Config{Meta: Meta{ID: "a"}})
	if err != nil {
		t.Fatal(err)
	}
	m.members["b"] = Member{Meta: Meta{ID: "b"}, State: StateAlive}
	_, _ = (*logSink)(m).Write([]byte("2026/11/26 18:00:00 [INFO] memberlist: Suspect b has failed, no acks received\n"))
	if s := stateOf(m.build(), "b"); s != StateSuspect {
		t.Fatalf("after the suspect log line b is %q", s)
	}
	m.mu.Lock()
	m.expireSuspects(time.Now().Add(time.Minute))
	m.mu.Unlock()
	if s := stateOf(m.build(), "b"); s != StateAlive {
		t.Fatalf("an expired suspicion left b %q", s)
	}
	_, _ = (*logSink)(m).Write([]byte("[INFO] memberlist: Suspect b has failed, no acks received"))
	(*pings)(m).NotifyPingComplete(nodeNamed("b"), time.Millisecond, nil)
	if s := stateOf(m.build(), "b"); s != StateAlive {
		t.Fatalf("an acked probe left b %q", s)
	}
	// unknown members and other lines change nothing
	_, _ = (*logSink)(m).Write([]byte("[INFO] memberlist: Suspect zz has failed, no acks received"))
	_, _ = (*logSink)(m).Write([]byte("[INFO] memberlist: Suspect  has failed"))
	if v := m.build(); len(v.Members) != 1 || count(v, StateAlive) != 1 {
		t.Fatalf("view changed on lines about no known member: %+v", v.Members)
	}
}

// TestViewOwnerMovesOnlyTheDepartedJobs: rendezvous placement moves exactly
// the jobs of a node that goes, and a node that comes takes jobs only for
// itself.
func TestViewOwnerMovesOnlyTheDepartedJobs(t *testing.T) {
	mk := func(ids ...string) *View {
		v := &View{Self: "a"}
		for _, id := range ids {
			v.Members = append(v.Members, Member{Meta: Meta{ID: id}, State: StateAlive})
		}
		return v
	}
	three, two, four := mk("a", "b", "c"), mk("a", "b"), mk("a", "b", "c", "d")
	per := map[string]int{}
	for i := range 3000 {
		j := fmt.Sprintf("job-%d", i)
		o3, _ := three.Owner(j)
		o2, _ := two.Owner(j)
		o4, _ := four.Owner(j)
		per[o3.Meta.ID]++
		if o3.Meta.ID != "c" && o2.Meta.ID != o3.Meta.ID {
			t.Fatalf("%s moved from %s to %s when c left", j, o3.Meta.ID, o2.Meta.ID)
		}
		if o4.Meta.ID != "d" && o4.Meta.ID != o3.Meta.ID {
			t.Fatalf("%s moved from %s to %s when d joined", j, o3.Meta.ID, o4.Meta.ID)
		}
	}
	for id, n := range per {
		if n < 800 || n > 1200 {
			t.Errorf("%s owns %d of 3000 jobs: placement is skewed", id, n)
		}
	}
}

func nodeNamed(name string) *memberlist.Node { return &memberlist.Node{Name: name} }

// crash stops m's member without a Leave: to the others it just goes silent.
// (memberlist panics on a Leave after Shutdown, so Stop is then a no-op.)
func crash(t *testing.T, m *Membership) {
	m.mu.Lock()
	ml := m.ml
	m.ml = nil
	m.mu.Unlock()
	if err := ml.Shutdown(); err != nil {
		t.Fatal(err)
	}
	close(m.stop)
	m.wg.Wait()
}

// TestMembershipSettledKnowsEveryMember: once a joining node says it settled,
// its view already has every member of the cluster it joined, including
// those it did not contact (a job held by one of them must not look like the
// job of a long-gone node).
func TestMembershipSettledKnowsEveryMember(t *testing.T) {
	ms := startMembers(t, 2)
	m := startMember(t, 2, []string{ms[1].Addr()}) // n3, through n2 only
	for deadline := time.Now().Add(10 * time.Second); !m.Settled(); time.Sleep(time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatal("n3 did not join within 10 s")
		}
	}
	for _, id := range []string{"n1", "n2", "n3"} {
		if !m.Known(id) {
			t.Errorf("settled, but the view does not know %s: %+v", id, m.View().Members)
		}
	}
	if m.Known("n9") {
		t.Error("the view knows a member that never was")
	}
}
