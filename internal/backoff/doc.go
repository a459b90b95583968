// Package backoff owns the one full-jitter exponential backoff of actorhub and
// the one context-aware sleep: Backoff.Delay says how long retry n waits, Sleep
// waits that long unless the context ends first. The client SDK exports
// Backoff under its own name (client.Backoff); the node, the cluster and the
// test harnesses use it directly.
//
// It imports the standard library only. A Backoff is a value and safe for
// concurrent use; Sleep owns no goroutine.
package backoff
