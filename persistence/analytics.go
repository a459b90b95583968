package persistence

import (
	"context"
	"encoding/binary"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/actorhub/actorhub/analytics"
	bolt "go.etcd.io/bbolt"
)

// Analytics figures live beside the jobs, per UTC day:
//
//	Redis: ah:an:{day}:users (a HyperLogLog), ah:an:{day}:c (a hash "name|type" → count),
//	       ah:an:{day}:h (a hash "name|type|bucket" → count); each expires retention after its last flush.
//	bolt:  bucket "analytics" / day / "users" (user → nothing), "c" and "h" (keys as on Redis → uint64),
//	       and "at" (the day's last flush, unix ms), swept by day once older than the retention.
//
// The day is in braces so that a day's keys share a hash slot on Redis Cluster.

var (
	_ analytics.Store = (*Redis)(nil)
	_ analytics.Store = (*Bolt)(nil)

	bucketAnalytics = []byte("analytics")
)

func counterField(k analytics.Key) string { return k.Name + "|" + k.Type }

func histField(k analytics.Key, b int) string { return k.Name + "|" + k.Type + "|" + strconv.Itoa(b) }

// parseField splits "name|type[|bucket]"; ok is false for anything else.
func parseField(f string, hist bool) (analytics.Key, int, bool) {
	parts := strings.Split(f, "|")
	if hist && len(parts) == 3 {
		b, err := strconv.Atoi(parts[2])
		return analytics.Key{Name: parts[0], Type: parts[1]}, b, err == nil
	}
	if !hist && len(parts) == 2 {
		return analytics.Key{Name: parts[0], Type: parts[1]}, 0, true
	}
	return analytics.Key{}, 0, false
}

func analyticsKeys(day string) (users, counters, hists string) {
	p := "ah:an:{" + day + "}:"
	return p + "users", p + "c", p + "h"
}

// connsKey holds each node's open client connections: node → "count|unix ms".
const connsKey = "ah:an:conns"

// Flush implements analytics.Store.
func (r *Redis) Flush(ctx context.Context, b *analytics.Batch, retention time.Duration) error {
	if r.isClosed() {
		return fmt.Errorf("flush analytics: %w", ErrClosed)
	}
	pipe := r.client.Pipeline()
	if b.Node != "" {
		pipe.HSet(ctx, connsKey, b.Node, strconv.FormatInt(b.Conns, 10)+"|"+strconv.FormatInt(time.Now().UnixMilli(), 10))
		pipe.Expire(ctx, connsKey, retention)
	}
	days := map[string]bool{}
	for day, users := range b.Users {
		uk, _, _ := analyticsKeys(day)
		args := make([]any, 0, len(users))
		for u := range users {
			args = append(args, u)
		}
		pipe.PFAdd(ctx, uk, args...)
		pipe.Expire(ctx, uk, retention)
		days[day] = true
	}
	for day, cs := range b.Counters {
		_, ck, _ := analyticsKeys(day)
		for k, n := range cs {
			pipe.HIncrBy(ctx, ck, counterField(k), n)
		}
		pipe.Expire(ctx, ck, retention)
	}
	for day, hs := range b.Hists {
		_, _, hk := analyticsKeys(day)
		for k, h := range hs {
			for bucket, n := range h {
				pipe.HIncrBy(ctx, hk, histField(k, bucket), n)
			}
		}
		pipe.Expire(ctx, hk, retention)
	}
	if _, err := pipe.Exec(ctx); err != nil {
		return r.fail("flush analytics", err)
	}
	return nil
}

// DAU implements analytics.Store.
func (r *Redis) DAU(ctx context.Context, day string) (int64, error) {
	uk, _, _ := analyticsKeys(day)
	n, err := r.client.PFCount(ctx, uk).Result()
	if err != nil {
		return 0, r.fail("read the daily active users of "+day, err)
	}
	return n, nil
}

// Day implements analytics.Store.
func (r *Redis) Day(ctx context.Context, day string) (map[analytics.Key]int64, map[analytics.Key]analytics.Hist, error) {
	_, ck, hk := analyticsKeys(day)
	cs, err := r.client.HGetAll(ctx, ck).Result()
	if err != nil {
		return nil, nil, r.fail("read the analytics of "+day, err)
	}
	hs, err := r.client.HGetAll(ctx, hk).Result()
	if err != nil {
		return nil, nil, r.fail("read the analytics of "+day, err)
	}
	return parseDay(cs, hs)
}

// Connections implements analytics.Store.
func (r *Redis) Connections(ctx context.Context, fresh time.Duration) (map[string]int64, error) {
	all, err := r.client.HGetAll(ctx, connsKey).Result()
	if err != nil {
		return nil, r.fail("read the connections per node", err)
	}
	return freshConns(all, fresh), nil
}

// freshConns parses node → "count|unix ms" and keeps the entries younger than fresh.
func freshConns(all map[string]string, fresh time.Duration) map[string]int64 {
	out := map[string]int64{}
	now := time.Now().UnixMilli()
	for node, v := range all {
		c, at, ok := strings.Cut(v, "|")
		n, err1 := strconv.ParseInt(c, 10, 64)
		ms, err2 := strconv.ParseInt(at, 10, 64)
		if ok && err1 == nil && err2 == nil && now-ms <= fresh.Milliseconds() {
			out[node] = n
		}
	}
	return out
}

func parseDay(cs, hs map[string]string) (map[analytics.Key]int64, map[analytics.Key]analytics.Hist, error) {
	counters := map[analytics.Key]int64{}
	for f, v := range cs {
		k, _, ok := parseField(f, false)
		n, err := strconv.ParseInt(v, 10, 64)
		if ok && err == nil {
			counters[k] += n
		}
	}
	hists := map[analytics.Key]analytics.Hist{}
	for f, v := range hs {
		k, b, ok := parseField(f, true)
		n, err := strconv.ParseInt(v, 10, 64)
		if !ok || err != nil {
			continue
		}
		if hists[k] == nil {
			hists[k] = analytics.Hist{}
		}
		hists[k][b] += n
	}
	return counters, hists, nil
}

// Flush implements analytics.Store: one write transaction.
func (s *Bolt) Flush(ctx context.Context, b *analytics.Batch, retention time.Duration) error {
	if err := s.check(ctx); err != nil {
		return fmt.Errorf("flush analytics: %w", err)
	}
	now := time.Now()
	err := s.db.Update(func(tx *bolt.Tx) error {
		root, err := tx.CreateBucketIfNotExists(bucketAnalytics)
		if err != nil {
			return err
		}
		dayBucket := func(day, sub string) (*bolt.Bucket, error) {
			d, err := root.CreateBucketIfNotExists([]byte(day))
			if err != nil {
				return nil, err
			}
			if err := d.Put([]byte("at"), binary.BigEndian.AppendUint64(nil, uint64(now.UnixMilli()))); err != nil {
				return nil, err
			}
			return d.CreateBucketIfNotExists([]byte(sub))
		}
		if b.Node != "" {
			cb, err := root.CreateBucketIfNotExists([]byte("conns"))
			if err != nil {
				return err
			}
			v := strconv.FormatInt(b.Conns, 10) + "|" + strconv.FormatInt(now.UnixMilli(), 10)
			if err := cb.Put([]byte(b.Node), []byte(v)); err != nil {
				return err
			}
		}
		add := func(bk *bolt.Bucket, key string, n int64) error {
			var cur int64
			if v := bk.Get([]byte(key)); len(v) == 8 {
				cur = int64(binary.BigEndian.Uint64(v))
			}
			return bk.Put([]byte(key), binary.BigEndian.AppendUint64(nil, uint64(cur+n)))
		}
		for day, users := range b.Users {
			bk, err := dayBucket(day, "users")
			if err != nil {
				return err
			}
			for u := range users {
				if err := bk.Put([]byte(u), nil); err != nil {
					return err
				}
			}
		}
		for day, cs := range b.Counters {
			bk, err := dayBucket(day, "c")
			if err != nil {
				return err
			}
			for k, n := range cs {
				if err := add(bk, counterField(k), n); err != nil {
					return err
				}
			}
		}
		for day, hs := range b.Hists {
			bk, err := dayBucket(day, "h")
			if err != nil {
				return err
			}
			for k, h := range hs {
				for bucket, n := range h {
					if err := add(bk, histField(k, bucket), n); err != nil {
						return err
					}
				}
			}
		}
		// days whose last flush is older than the retention go
		var old [][]byte
		_ = root.ForEachBucket(func(day []byte) error {
			if string(day) == "conns" {
				return nil
			}
			d := root.Bucket(day)
			if at := d.Get([]byte("at")); len(at) == 8 && now.UnixMilli()-int64(binary.BigEndian.Uint64(at)) > retention.Milliseconds() {
				old = append(old, append([]byte(nil), day...))
			}
			return nil
		})
		for _, day := range old {
			if err := root.DeleteBucket(day); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		return s.fail("flush analytics", err)
	}
	return nil
}

// DAU implements analytics.Store: the embedded store counts exactly.
func (s *Bolt) DAU(ctx context.Context, day string) (int64, error) {
	var n int64
	err := s.read(ctx, "read the daily active users of "+day, func(t *boltTx) error {
		if bk := dayBucketOf(t.tx, day, "users"); bk != nil {
			n = int64(bk.Stats().KeyN)
		}
		return nil
	})
	return n, err
}

// Day implements analytics.Store.
func (s *Bolt) Day(ctx context.Context, day string) (map[analytics.Key]int64, map[analytics.Key]analytics.Hist, error) {
	cs, hs := map[string]string{}, map[string]string{}
	err := s.read(ctx, "read the analytics of "+day, func(t *boltTx) error {
		for sub, into := range map[string]map[string]string{"c": cs, "h": hs} {
			if bk := dayBucketOf(t.tx, day, sub); bk != nil {
				_ = bk.ForEach(func(k, v []byte) error {
					if len(v) == 8 {
						into[string(k)] = strconv.FormatInt(int64(binary.BigEndian.Uint64(v)), 10)
					}
					return nil
				})
			}
		}
		return nil
	})
	if err != nil {
		return nil, nil, err
	}
	return parseDay(cs, hs)
}

// Connections implements analytics.Store.
func (s *Bolt) Connections(ctx context.Context, fresh time.Duration) (map[string]int64, error) {
	all := map[string]string{}
	err := s.read(ctx, "read the connections per node", func(t *boltTx) error {
		if root := t.tx.Bucket(bucketAnalytics); root != nil {
			if cb := root.Bucket([]byte("conns")); cb != nil {
				return cb.ForEach(func(k, v []byte) error { all[string(k)] = string(v); return nil })
			}
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	return freshConns(all, fresh), nil
}

func dayBucketOf(tx *bolt.Tx, day, sub string) *bolt.Bucket {
	root := tx.Bucket(bucketAnalytics)
	if root == nil {
		return nil
	}
	d := root.Bucket([]byte(day))
	if d == nil {
		return nil
	}
	return d.Bucket([]byte(sub))
}
