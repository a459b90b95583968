package actors

import (
	"slices"
	"testing"
)

// TestSubSet checks the conn's subscription set against a map, the type it
// replaced: the first subscription sits in place, the others in the map,
// and each visits every one even while it deletes them.
func TestSubSet(t *testing.T) {
	var ss subSet
	want := map[string]*connSub{}
	check := func(step string) {
		t.Helper()
		if ss.len() != len(want) {
			t.Fatalf("%s: len %d, want %d", step, ss.len(), len(want))
		}
		for id, s := range want {
			if got := ss.get(id); got != s {
				t.Fatalf("%s: get(%q) = %p, want %p", step, id, got, s)
			}
		}
		if ss.get("never") != nil {
			t.Fatalf("%s: get of an unknown job found a subscription", step)
		}
		var seen []string
		ss.each(func(id string, s *connSub) {
			if want[id] != s {
				t.Fatalf("%s: each gave %q → %p, want %p", step, id, s, want[id])
			}
			seen = append(seen, id)
		})
		if len(seen) != len(want) {
			t.Fatalf("%s: each visited %v, want %d subscriptions", step, seen, len(want))
		}
	}
	set := func(id string) *connSub {
		s := &connSub{}
		ss.set(id, s)
		want[id] = s
		return s
	}
	del := func(id string) {
		ss.del(id)
		delete(want, id)
	}
	check("empty")
	set("a")
	check("one")
	if ss.more != nil {
		t.Fatal("one subscription made a map")
	}
	set("a") // a repeated subscribe replaces it
	check("a replaced")
	set("b")
	set("c")
	check("three")
	set("b")
	check("b replaced")
	del("a") // the one in place: the next new one takes its place
	check("a deleted")
	set("b") // one that is in the map stays there
	check("b replaced while the place is free")
	set("d")
	check("d added")
	if ss.oneJob != "d" {
		t.Fatalf("the place the deleted one left holds %q, want d", ss.oneJob)
	}
	del("c")
	del("never")
	check("c deleted")

	// each, deleting every subscription it visits (as a stopping conn drops them)
	var dropped []string
	ss.each(func(id string, _ *connSub) {
		ss.del(id)
		dropped = append(dropped, id)
	})
	slices.Sort(dropped)
	if !slices.Equal(dropped, []string{"b", "d"}) {
		t.Fatalf("each while deleting visited %v, want [b d]", dropped)
	}
	clear(want)
	check("all dropped")
}
