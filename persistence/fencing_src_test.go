package persistence

import (
	"strings"
	"testing"
)

// TestFencingIsCutOutWhole: the chaosnofence build drops the append's epoch
// and seq checks by cutting their source out of the script (withoutFencing),
// so each must appear in it exactly once, and what is left must have no
// refusal in it. A check rewritten without its constant would stay in that
// build, and the chaos test that must catch a missing fence would pass.
func TestFencingIsCutOutWhole(t *testing.T) {
	for name, part := range map[string]string{"epochCheck": epochCheck, "seqCheck": seqCheck} {
		if n := strings.Count(appendChecked, part); n != 1 {
			t.Errorf("%s appears %d times in the append script; want 1", name, n)
		}
	}
	cut := strings.Replace(strings.Replace(appendChecked, epochCheck, "", 1), seqCheck, "", 1)
	for _, refusal := range []string{"{-2", "{-3", "{2}"} {
		if strings.Contains(cut, refusal) {
			t.Errorf("the append script without its fencing still replies %s…}", refusal)
		}
	}
}
