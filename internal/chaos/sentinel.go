package chaos

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"strconv"
	"strings"
	"time"

	"github.com/actorhub/actorhub/internal/backoff"
)

// startSentinel starts the store of a redis-failover run: a primary, a
// replica of it and a sentinel, and points the nodes at the sentinel.
//
// One replica, so that --store-wait-replicas 1 means every replica: an
// acknowledged event is on every server the sentinel could promote. With two
// replicas and WAIT 1, the one promoted may lack what the other confirmed.
func (c *cluster) startSentinel(ctx context.Context) error {
	// A server started again comes back as it was configured last: a
	// deployment's sentinel rewrites each server's config file when it
	// changes its role, and a returning stale primary is made a replica of
	// the current one. These servers have no config file, so the replica is
	// made one by a REPLICAOF command, not by its arguments: every server
	// comes back as a primary with what it had, and the sentinel turns it
	// into a replica. (Coming back with a first --replicaof would make a
	// promoted server a replica of its own replica: it would drop its data
	// and copy the other's.)
	for i, name := range []string{"redis-a", "redis-b"} {
		r, err := startRedisNamed(c.cfg.Dir, name, nil)
		if err != nil {
			return err
		}
		c.servers = append(c.servers, r)
		if i > 0 {
			if _, err := redisCommand(addr(r.port), "REPLICAOF", "127.0.0.1", strconv.Itoa(c.servers[0].port)); err != nil {
				return fmt.Errorf("make %s a replica of %s: %w", name, c.servers[0].name, err)
			}
		}
	}
	s, err := startSentinel(c.cfg.Dir, c.servers[0].port)
	if err != nil {
		return err
	}
	c.sentinel = s
	// the replicas in sync, and known to the sentinel (it learns them from
	// the primary's INFO)
	deadline := time.Now().Add(30 * time.Second)
	for {
		synced := 0
		for _, r := range c.servers[1:] {
			if info, err := redisCommand(addr(r.port), "INFO", "replication"); err == nil && strings.Contains(strings.Join(info, ""), "master_link_status:up") {
				synced++
			}
		}
		known, err := redisCommand(addr(s.port), "SENTINEL", "REPLICAS", sentinelMaster)
		if synced == len(c.servers)-1 && err == nil && len(known) == synced {
			break
		}
		if time.Now().After(deadline) || !backoff.Sleep(ctx, 100*time.Millisecond) {
			return fmt.Errorf("the redis replica and sentinel did not settle within 30s: %d of %d replicas synced, the sentinel knows %d (%v)", synced, len(c.servers)-1, len(known), err)
		}
	}
	c.store = fmt.Sprintf("redis+sentinel://%s/0?master_name=%s", addr(s.port), sentinelMaster)
	return nil
}

// primary returns the server the sentinel names primary (nil if none of ours).
func (c *cluster) primary() *redis {
	a, err := redisCommand(addr(c.sentinel.port), "SENTINEL", "GET-MASTER-ADDR-BY-NAME", sentinelMaster)
	if err != nil || len(a) != 2 {
		return nil
	}
	for _, r := range c.servers {
		if strconv.Itoa(r.port) == a[1] {
			return r
		}
	}
	return nil
}

// failover kills the primary, waits until the sentinel promoted a replica,
// and starts the old primary again (the sentinel makes it a replica of the
// new one). It returns the fault's note.
func (c *cluster) failover(ctx context.Context) string {
	old := c.primary()
	if old == nil {
		return " (the sentinel names no primary of ours)"
	}
	old.kill()
	killed := time.Now()
	note := ""
	for {
		if p := c.primary(); p != nil && p != old {
			note = fmt.Sprintf(" (%s promoted %d ms after %s was killed)", p.name, time.Since(killed).Milliseconds(), old.name)
			break
		}
		if time.Since(killed) > 30*time.Second || !backoff.Sleep(ctx, 50*time.Millisecond) {
			note = " (no replica was promoted within 30s)"
			break
		}
	}
	if err := old.startWait(); err != nil {
		note += " (" + old.name + " did not come back: " + err.Error() + ")"
	}
	return note
}

// redisCommand sends one command to a redis-server (or sentinel) and returns
// its reply: the elements of an array (of bulk strings or numbers), or the
// one string of any other reply; an error reply is an error.
func redisCommand(a string, args ...string) ([]string, error) {
	conn, err := dialTCP(a)
	if err != nil {
		return nil, err
	}
	defer conn.Close()
	_ = conn.SetDeadline(time.Now().Add(2 * time.Second))
	var req strings.Builder
	fmt.Fprintf(&req, "*%d\r\n", len(args))
	for _, x := range args {
		fmt.Fprintf(&req, "$%d\r\n%s\r\n", len(x), x)
	}
	if _, err := conn.Write([]byte(req.String())); err != nil {
		return nil, err
	}
	r := bufio.NewReader(conn)
	line, err := readLine(r)
	if err != nil {
		return nil, err
	}
	switch line[0] {
	case '-':
		return nil, fmt.Errorf("%s: %s", args[0], line[1:])
	case '*':
		n, _ := strconv.Atoi(line[1:])
		out := make([]string, 0, max(n, 0))
		for range max(n, 0) {
			v, err := readValue(r)
			if err != nil {
				return nil, err
			}
			out = append(out, v)
		}
		return out, nil
	}
	v, err := valueOf(r, line)
	return []string{v}, err
}

func readLine(r *bufio.Reader) (string, error) {
	line, err := r.ReadString('\n')
	line = strings.TrimRight(line, "\r\n")
	if err == nil && line == "" {
		err = fmt.Errorf("empty reply line")
	}
	return line, err
}

func readValue(r *bufio.Reader) (string, error) {
	line, err := readLine(r)
	if err != nil {
		return "", err
	}
	return valueOf(r, line)
}

// valueOf reads the value that line starts: a bulk string's bytes, or the
// line's own text (a nested array is skipped: its length is returned).
func valueOf(r *bufio.Reader, line string) (string, error) {
	switch line[0] {
	case '$':
		n, err := strconv.Atoi(line[1:])
		if err != nil || n < 0 {
			return "", err
		}
		buf := make([]byte, n+2)
		if _, err := io.ReadFull(r, buf); err != nil {
			return "", err
		}
		return string(buf[:n]), nil
	case '*':
		n, _ := strconv.Atoi(line[1:])
		for range max(n, 0) {
			if _, err := readValue(r); err != nil {
				return "", err
			}
		}
		return line, nil
	}
	return line[1:], nil
}
