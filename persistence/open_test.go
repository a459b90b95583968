package persistence

import (
	"context"
	"errors"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/actorhub/actorhub/events"
	"github.com/actorhub/actorhub/internal/redistest"
)

func TestOpen(t *testing.T) {
	t.Parallel()
	srv := redistest.Start(t)
	dir := t.TempDir()
	cases := []struct {
		name, url string
		want      string // String() of the store, or a part of the error
		wantErr   error
	}{
		{"bolt", "bolt:" + filepath.Join(dir, "x", "a.db"), "bolt:" + filepath.Join(dir, "x", "a.db"), nil},
		{"bolt with slashes", "bolt://" + filepath.Join(dir, "b.db"), "bolt:" + filepath.Join(dir, "b.db"), nil},
		{"redis", srv.URL(), srv.URL(), nil},
		{"redis with password", "redis://:s3cret@" + srv.Addr() + "/0", "redis://:xxxxx@" + srv.Addr() + "/0", nil}, // the server ignores it
		{"redis cluster url, not a cluster", srv.ClusterURL(), "cluster", errors.New("any")},
		{"bolt without path", "bolt:", "bolt:PATH", ErrBadURL},
		{"no scheme", "localhost:6379", "unknown scheme", ErrBadURL},
		{"unknown scheme", "mysql://x", "unknown scheme", ErrBadURL},
		{"empty", "", "no scheme", ErrBadURL},
		{"unparsable with password", "redis://:s3cret@host:x/0", "invalid port", ErrBadURL},
		{"bad db", "redis://" + srv.Addr() + "/x", "database", ErrBadURL},
		{"bad option", "redis://" + srv.Addr() + "/0?colour=blue", "colour", ErrBadURL},
		{"cluster with db", "redis://" + srv.Addr() + "/3?addr=" + srv.Addr(), "database 0", ErrBadURL},
		{"nobody listens", "redis://127.0.0.1:1/0", "127.0.0.1:1", events.ErrStoreUnavailable},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
			defer cancel()
			s, err := Open(ctx, c.url, testConfig())
			if c.wantErr == nil {
				if err != nil {
					t.Fatalf("Open(%q): %v", c.url, err)
				}
				defer s.Close()
				if s.String() != c.want {
					t.Fatalf("String() = %q; want %q", s.String(), c.want)
				}
				if err := s.Ping(ctx); err != nil {
					t.Fatalf("Ping: %v", err)
				}
				return
			}
			if err == nil {
				s.Close()
				t.Fatalf("Open(%q) succeeded; want an error", c.url)
			}
			if s != nil { // a nil *Redis in a Store would pass a caller's nil check
				t.Fatalf("Open(%q) failed but returned the Store %#v; want nil", c.url, s)
			}
			if c.wantErr.Error() != "any" {
				wantErr(t, "Open("+c.url+")", err, c.wantErr)
			}
			if !strings.Contains(err.Error(), c.want) || strings.Contains(err.Error(), "s3cret") {
				t.Fatalf("Open(%q) error %q; want it to mention %q and no password", c.url, err, c.want)
			}
		})
	}
}

func TestConfigValidation(t *testing.T) {
	t.Parallel()
	for _, c := range []Config{{Retention: -1}, {Writers: -1}, {MaxRetries: -2}, {SweepInterval: -time.Second}} {
		if _, err := c.withDefaults(); err == nil {
			t.Errorf("withDefaults(%+v) accepted a negative value", c)
		}
	}
	c, err := Config{}.withDefaults()
	if err != nil || c.Retention != 24*time.Hour || c.Writers != 4 || c.MaxRetries != 1 || c.Logger == nil {
		t.Fatalf("zero Config = %+v, %v; want the defaults", c, err)
	}
}
