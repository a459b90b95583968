package persistence

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"syscall"
	"testing"

	"github.com/redis/go-redis/v9"

	"github.com/actorhub/actorhub/events"
)

// replyErr is an error reply of a server, as go-redis types them.
type replyErr string

func (e replyErr) Error() string { return string(e) }
func (replyErr) RedisError()     {}

func TestRedisErrorMapping(t *testing.T) {
	t.Parallel()
	r := &Redis{addr: "10.0.0.1:6379"}
	refused := &net.OpError{Op: "dial", Net: "tcp", Err: syscall.ECONNREFUSED}
	cases := []struct {
		name        string
		err         error
		unavailable bool
		is          error // also wrapped, if not nil
	}{
		{"refused", refused, true, nil},
		{"eof", io.EOF, true, nil},
		{"deadline", context.DeadlineExceeded, true, context.DeadlineExceeded},
		{"pool timeout", redis.ErrPoolTimeout, true, nil},
		{"loading", replyErr("LOADING Redis is loading the dataset in memory"), true, nil},
		{"busy script", replyErr("BUSY Redis is busy running a script"), true, nil},
		{"cluster down", replyErr("CLUSTERDOWN The cluster is down"), true, nil},
		{"oom", replyErr("OOM command not allowed when used memory > 'maxmemory'"), true, nil},
		{"script error", replyErr("ERR user_script:1: Script attempted to access nonexistent global variable"), false, nil},
		{"wrong password", replyErr("WRONGPASS invalid username-password pair"), false, nil},
		{"cancelled", context.Canceled, false, context.Canceled},
		{"nil reply", redis.Nil, false, ErrCorrupt},
		{"closed store", ErrClosed, false, ErrClosed},
	}
	for _, c := range cases {
		err := r.fail("append job j", fmt.Errorf("wrapped: %w", c.err))
		if errors.Is(err, events.ErrStoreUnavailable) != c.unavailable {
			t.Errorf("%s: %v; want unavailable = %v", c.name, err, c.unavailable)
		}
		if c.is != nil && !errors.Is(err, c.is) {
			t.Errorf("%s: %v; want it to wrap %v", c.name, err, c.is)
		}
		if errors.Is(err, redis.Nil) {
			t.Errorf("%s: redis.Nil leaks: %v", c.name, err)
		}
		if c.unavailable && err.Error() != "append job j: store unavailable: redis 10.0.0.1:6379: wrapped: "+c.err.Error() {
			t.Errorf("%s: message %q does not name the action and the address", c.name, err)
		}
	}
}

func TestParseStateRejectsGarbage(t *testing.T) {
	t.Parallel()
	snap := `{"jobId":"j","status":"running","lastSequence":2}`
	for _, vals := range [][]any{
		nil,
		{int64(0)},
		{int64(0), "1", "2", snap},           // short
		{int64(0), int64(1), "2", snap, ""},  // epoch not a string
		{int64(0), "1", "-x", snap, ""},      // bad seq
		{int64(0), "1", "2", "{", ""},        // bad snapshot
		{int64(0), "1", "2", snap[:10], ""},  // truncated snapshot
		{int64(0), "1", "2", nil, ""},        // missing snapshot
		{int64(0), "1", "2", snap, int64(5)}, // output not a string
	} {
		st, err := parseState("j", vals)
		if err == nil {
			t.Errorf("parseState(%v) = %+v; want an error", vals, st)
		}
	}
}
