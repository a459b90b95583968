package cluster

import (
	"fmt"
	"net"
	"testing"
	"time"
)

// slowProbes makes memberlist's own failure detection too slow to matter
// within a test (a probe every minute), so that what a test sees comes from
// the direct signals.
func slowProbes(c *Config) { c.ProbeInterval, c.ProbeTimeout = time.Minute, 30*time.Second }

// TestMembershipDownWhenItsPortRefuses: a member whose process is gone (its
// gossip port refuses) is dead in the view of the node that lost a connection
// to it at once, without waiting for memberlist's probes, and owns nothing;
// the members that had no connection to it hear it through the gossip and
// check for themselves; once its port answers again it is taken back.
func TestMembershipDownWhenItsPortRefuses(t *testing.T) {
	ms := startMembersWith(t, 3, slowProbes)
	victim := ms[2]
	addr := victim.Addr()
	crash(t, victim)
	ms[0].PeerLost(victim.cfg.Meta.Remote)
	for _, m := range ms[:2] { // ms[1] only through ms[0]'s gossip
		waitState(t, m, 20*time.Second, func(v *View) error {
			if s := stateOf(v, victim.Self()); s != StateDead {
				return fmt.Errorf("%s sees %s %s, want dead", m.Self(), victim.Self(), s)
			}
			return nil
		})
		for i := range 200 {
			if id, _, _ := m.Owner(fmt.Sprintf("job-%d", i)); id == victim.Self() {
				t.Fatalf("%s still places job-%d on the refusing %s", m.Self(), i, id)
			}
		}
		if m.Alive(victim.cfg.Meta.Remote) {
			t.Fatalf("%s reports the refusing member's remote address alive", m.Self())
		}
	}

	// Its port answers again (a process is back there): taken back at the
	// next check, although memberlist never declared it dead.
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		t.Skipf("cannot listen on the crashed member's gossip address again: %v", err)
	}
	defer ln.Close()
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			c.Close()
		}
	}()
	waitState(t, ms[0], 20*time.Second, func(v *View) error {
		if s := stateOf(v, victim.Self()); s != StateAlive {
			return fmt.Errorf("%s sees %s %s after its port answers again, want alive", ms[0].Self(), victim.Self(), s)
		}
		return nil
	})
}

// TestMembershipPeerLostOfALiveMember: a broken connection to a member whose
// port still answers (a network blip, a busy or stopped process) changes
// nothing.
func TestMembershipPeerLostOfALiveMember(t *testing.T) {
	ms := startMembersWith(t, 2, slowProbes)
	ms[0].PeerLost(ms[1].cfg.Meta.Remote)
	waitState(t, ms[0], 10*time.Second, func(*View) error {
		ms[0].mu.Lock()
		defer ms[0].mu.Unlock()
		if len(ms[0].checking) > 0 {
			return fmt.Errorf("the check of %s still runs", ms[1].Self())
		}
		return nil
	})
	ms[0].refresh()
	if s := stateOf(ms[0].View(), ms[1].Self()); s != StateAlive {
		t.Fatalf("%s sees the live %s %s after a lost connection, want alive", ms[0].Self(), ms[1].Self(), s)
	}
}
