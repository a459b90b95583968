package events

import (
	"fmt"
	"strconv"
)

// Names of the events the hub knows. Any other valid name is carried as an
// opaque event.
const (
	Created      = "job:created:v1"
	Running      = "job:running:v1"
	Progress     = "job:progress:v1"
	Chunk        = "model:chunk:v1"
	Checkpointed = "job:checkpointed:v1"
	Paused       = "job:paused:v1"
	Resumed      = "job:resumed:v1"
	Completed    = "job:completed:v1"
	Failed       = "job:failed:v1"
	Cancelled    = "job:cancelled:v1"
)

// MaxNameLen bounds an event name.
const MaxNameLen = 128

// ValidateName checks that name has the form area:thing:vN: area and thing start
// with a lower-case letter and hold lower-case letters, digits, '_', '-' or '.',
// and N is a positive decimal number without leading zeros.
func ValidateName(name string) error {
	if name == "" {
		return fmt.Errorf("event name is empty; use area:thing:vN, e.g. model:chunk:v1")
	}
	if len(name) > MaxNameLen {
		return fmt.Errorf("event name is %d bytes; the limit is %d", len(name), MaxNameLen)
	}
	rest := name
	for part := 0; part < 2; part++ {
		i := 0
		for i < len(rest) && rest[i] != ':' {
			i++
		}
		if i == len(rest) || !validWord(rest[:i]) {
			return fmt.Errorf("event name %q is not of the form area:thing:vN (lower-case words, e.g. model:chunk:v1)", name)
		}
		rest = rest[i+1:]
	}
	if len(rest) < 2 || rest[0] != 'v' || rest[1] == '0' {
		return fmt.Errorf("event name %q does not end in a version :vN (N ≥ 1)", name)
	}
	if n, err := strconv.ParseUint(rest[1:], 10, 31); err != nil || n == 0 {
		return fmt.Errorf("event name %q does not end in a version :vN (N ≥ 1)", name)
	}
	return nil
}

func validWord(w string) bool {
	if w == "" || w[0] < 'a' || w[0] > 'z' {
		return false
	}
	for i := 1; i < len(w); i++ {
		c := w[i]
		if !(c >= 'a' && c <= 'z' || c >= '0' && c <= '9' || c == '_' || c == '-' || c == '.') {
			return false
		}
	}
	return true
}

// Terminal reports whether the event ends its job.
func Terminal(name string) bool {
	return name == Completed || name == Failed || name == Cancelled
}
