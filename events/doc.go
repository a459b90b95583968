// Package events is the versioned event schema of actorhub's external contract
// (PROTOCOL.md): event names (area:thing:vN), the payload of each known event,
// job status and its transitions, the job state that the state endpoint shows,
// the wire objects clients and workers exchange with a node, and the error codes
// every layer reports.
//
// It imports the standard library only, and every other package imports it, so
// the contract lives in one place. Nothing here owns goroutines or state: every
// function is safe for concurrent use.
package events

//go:generate go run ../internal/tsgen -out ../clients/js/src/protocol.ts
