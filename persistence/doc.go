// Package persistence owns the durable home of jobs: a journal of events and
// a snapshot of the state per job, plus its ownership (owner and epoch) and the
// fencing of stale writers. It implements actors.Store twice:
//
//   - Redis (go-redis v9, one server or a cluster): every key of a job shares
//     one hash slot ({job:<id>}:state, :log, :out); each operation is one Lua
//     script, so the epoch check, the seq check and the writes are atomic.
//     Appends of all jobs are group-committed: writer goroutines send whatever
//     is queued as one pipeline. An append journals its events; the snapshot
//     and the output follow every snapshotEvery events and at the terminal
//     event, and reads fold the events in between (format 2,
//     redis_scripts.go), so that an event costs Redis little more than its
//     RPUSH.
//   - Bolt (bbolt, the zero-setup default): one file, bolt transactions;
//     appends of many jobs share a transaction and its fsync: one appender
//     goroutine writes whatever is queued in one transaction.
//
// Both implement actors.AsyncAppender: an append's outcome comes back through
// a callback on the writer goroutine, so no goroutine of the caller waits for
// it.
//
// Open picks one from a URL (bolt:PATH, redis://, rediss://, a cluster seed
// list). Both keep the output apart from the snapshot so that an append costs
// O(chunk), make a terminal job expire after Config.Retention, and make a
// retried append (same epoch, already journaled) succeed without writing
// twice, so callers may retry after a timeout.
//
// Errors wrap events.ErrJobNotFound, events.ErrFenced and
// events.ErrStoreUnavailable (connection refused, timeouts, Redis LOADING,
// I/O errors: retry later) or this package's sentinels (ErrClosed, ErrCorrupt,
// ErrInvalid, ErrLocked, ErrBadURL). Nothing read back from a store can make
// it panic; go-redis's redis.Nil never leaves the package.
//
// It imports events, go-redis, bbolt and actors (only for actors.Store, the
// contract its stores implement and Store embeds); never cluster or transport.
//
// Concurrency: every method of a store is safe for concurrent use and blocks
// until the store answered or ctx ended (bolt transactions cannot be
// interrupted, so Bolt checks ctx only before it starts). A store owns
// goroutines (Redis: Config.Writers writers; Bolt: one appender and one janitor); Close stops
// accepting calls, lets queued appends finish and returns after all of them
// exited.
package persistence
