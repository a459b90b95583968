package cluster

import (
	"errors"
	"strings"
	"testing"
	"time"
)

func viewOf(self string, states map[string]string) *View {
	v := &View{Self: self}
	for id, st := range states {
		v.Members = append(v.Members, Member{Meta: Meta{ID: id}, State: st})
	}
	return v
}

// TestStandbyReason: who counts as a minority, and when a lost store is a
// reason.
func TestStandbyReason(t *testing.T) {
	all3 := []string{"a", "b", "c"}
	cases := []struct {
		name   string
		view   map[string]string
		live   []string
		err    error
		reason string // a prefix; "" for none
	}{
		{"whole", map[string]string{"a": StateAlive, "b": StateAlive, "c": StateAlive}, all3, nil, ""},
		{"cut off: the others heartbeat", map[string]string{"a": StateAlive, "b": StateDead, "c": StateDead}, all3, nil, "minority: it reaches 1 of the 3"},
		{"majority side", map[string]string{"a": StateAlive, "b": StateAlive, "c": StateDead}, all3, nil, ""},
		{"the others died (no heartbeat)", map[string]string{"a": StateAlive, "b": StateDead, "c": StateDead}, []string{"a"}, nil, ""},
		{"two cut apart: no minority", map[string]string{"a": StateAlive, "b": StateDead}, []string{"a", "b"}, nil, ""},
		{"half of four: no minority", map[string]string{"a": StateAlive, "b": StateAlive, "c": StateDead, "d": StateDead}, []string{"a", "b", "c", "d"}, nil, ""},
		{"one of four", map[string]string{"a": StateAlive, "b": StateDead, "c": StateDead, "d": StateSuspect}, []string{"a", "b", "c", "d"}, nil, ""},
		{"one of five", map[string]string{"a": StateAlive, "b": StateDead, "c": StateDead, "d": StateDead, "e": StateSuspect}, []string{"a", "b", "c", "d", "e"}, nil, "minority: it reaches 2 of the 5"},
		{"store lost, others can hold", map[string]string{"a": StateAlive, "b": StateAlive}, nil, errors.New("i/o timeout"), "the store does not answer"},
		{"store lost, alone", map[string]string{"a": StateAlive, "b": StateDead}, nil, errors.New("i/o timeout"), ""},
	}
	for _, c := range cases {
		got := reasonFor(viewOf("a", c.view), c.live, c.err)
		if (c.reason == "") != (got == "") || !strings.HasPrefix(got, c.reason) {
			t.Errorf("%s: reason %q, want %q", c.name, got, c.reason)
		}
	}
	// a member on standby, or that lost the store too, cannot hold the jobs
	// of a node without store
	for _, meta := range []Meta{{ID: "b", Standby: true}, {ID: "b", StoreDown: true}} {
		v := &View{Self: "a", Members: []Member{{Meta: Meta{ID: "a"}, State: StateAlive}, {Meta: meta, State: StateAlive}}}
		if got := reasonFor(v, nil, errors.New("down")); got != "" {
			t.Errorf("store lost, the only other %+v: reason %q, want none", meta, got)
		}
	}
}

// TestStandbyHold: a reason must last Hold before the node goes on
// standby, and be gone for Hold before it comes back; a blip changes nothing.
func TestStandbyHold(t *testing.T) {
	var calls []string
	s := NewStandby(StandbyConfig{Hold: 2 * time.Second,
		Enter: func(r string) { calls = append(calls, "enter "+r) }, Leave: func() { calls = append(calls, "leave") }})
	t0 := time.Unix(1000, 0)
	at := func(ms int) time.Time { return t0.Add(time.Duration(ms) * time.Millisecond) }
	steps := []struct {
		ms     int
		reason string
		calls  int
	}{
		{0, "", 0}, {500, "x", 0}, {1500, "", 0}, // a blip
		{2000, "x", 0}, {3500, "y", 0}, {4000, "y", 1}, // x then y, 2 s in all
		{4500, "", 1}, {5000, "z", 1}, {6000, "", 1}, {7900, "", 1}, {8000, "", 2},
	}
	for _, st := range steps {
		s.decide(at(st.ms), st.reason)
		if len(calls) != st.calls {
			t.Fatalf("at %d ms (%q): calls %v, want %d", st.ms, st.reason, calls, st.calls)
		}
	}
	if calls[0] != "enter y" || calls[1] != "leave" {
		t.Fatalf("calls %v", calls)
	}
}
