// Package e2e tests the actorhub binary from outside, through PROTOCOL.md only:
// real `actorhub serve` processes (internal/nodetest), a real redis-server
// (internal/redistest), raw WebSocket and HTTP clients written here and the Go
// SDK. It has no non-test code but this comment.
package e2e
