// Package actors holds the actors of a node: a JobActor per job (seq, offsets,
// status, output; journals to the Store in group commits and only then acks and
// fans out), a JobFeed per watched job on this node (local fan-out, gap filling
// from the store), a ConnActor per client WebSocket and a WorkerConnActor per
// worker WebSocket, and the two directories that activate jobs and feeds on
// demand. Hub wires them to an actor system and is what transport talks to.
//
// It imports protoactor-go, prometheus and events; it defines the interfaces it
// consumes (Store, Sink) and never imports transport or persistence.
//
// Concurrency: every actor touches its state only inside Receive. Slow I/O (store
// reads and writes) runs on goroutines owned by the Hub's wait group and comes
// back to its actor as a message. Hub's methods are safe for concurrent use.
package actors
