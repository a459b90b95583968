// Package actors holds the actors of a node: a JobActor per job (seq, offsets,
// status, output; journals to the Store in group commits and only then acks and
// fans out), a JobFeed per watched job on this node (local fan-out, gap filling
// from the store), a ConnActor per client WebSocket and a WorkerConnActor per
// worker WebSocket, and the two directories that activate jobs and feeds on
// demand. Hub wires them to an actor system and is what transport talks to
// (api.go); messages.go is the table of the messages that cross nodes.
//
// It imports protoactor-go, prometheus, cluster and events; it defines the
// interfaces it consumes (Store, AsyncAppender, Sink) and never imports
// transport or persistence.
//
// Concurrency: every actor touches its state only inside Receive. Store writes
// complete through the store's writer (AsyncAppender) and come back to the job
// as a message; other store I/O runs on goroutines of the Hub's group, and
// every timer belongs to that group too: Stop cancels the timers and waits for
// the goroutines. Hub's methods are safe for concurrent use.
//
// Bounds: a connection holds at most MaxInflight requests waiting for jobs
// (its reader waits past that), a job holds at most MaxPending events waiting
// for the store (it refuses past that), the node at most MaxAsks HTTP
// requests to jobs. A job tells at most 64 worker connections of its
// cancellation (the last that emitted to it); a worker connection follows at
// most 16384 jobs for that.
package actors
