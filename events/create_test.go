package events

import (
	"regexp"
	"testing"
)

func TestNewJobID(t *testing.T) {
	t.Parallel()
	a, b := NewJobID(), NewJobID()
	if !regexp.MustCompile(`^job-[0-9a-f]{24}$`).MatchString(a) || a == b || ValidateJobID(a) != nil {
		t.Fatalf("NewJobID: %q, %q", a, b)
	}
}

func TestNormalizeInput(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		in, want string
		ok       bool
	}{
		{"", "", true},
		{" null ", "", true},
		{`{ "a" : [1, 2] }`, `{"a":[1,2]}`, true},
		{`"text"`, `"text"`, true},
		{`{"a":`, "", false},
		{"{\"a\":\"\xff\"}", "", false}, // invalid UTF-8
	} {
		got, err := NormalizeInput([]byte(tc.in))
		if (err == nil) != tc.ok || string(got) != tc.want {
			t.Errorf("NormalizeInput(%q) = %q, %v", tc.in, got, err)
		}
	}
}
