// Package transport is a node's edge: the HTTP API, the client WebSocket (/ws)
// and the worker WebSocket (/ws/worker) of PROTOCOL.md, on net/http and
// coder/websocket. It decodes what arrives (bounded: frame size, body size,
// events per request), hands it to the actors as messages, and writes what the
// actors queue for a connection through a bounded per-connection queue drained
// by one writer goroutine, several waiting objects to a frame.
//
// It imports actors and events; nothing imports it but cmd/actorhub.
//
// Concurrency: a Server owns one goroutine per HTTP request (net/http's), and per
// WebSocket a reader (the handler's goroutine), a writer and a pinger; Stop
// closes every WebSocket and waits for all of them.
package transport
