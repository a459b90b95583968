// Package transport is a node's edge: the HTTP API, the client WebSocket (/ws)
// and the worker WebSocket (/ws/worker) of PROTOCOL.md, on net/http and
// coder/websocket. It decodes what arrives (bounded: frame size, body size,
// events per request), hands it to the node's actors through the Hub
// interface it declares (an opaque *actors.Conn per connection; no actor
// runtime type crosses into this package), and writes what the actors queue
// for a connection through a bounded per-connection queue, several waiting
// objects to a frame.
//
// Backpressure: a connection's reader hands its requests to the actor with
// Conn.Deliver, which blocks while the connection has MaxInflight requests
// waiting for jobs; the reader then stops reading and TCP slows the peer.
//
// It imports actors and events; nothing imports it but cmd/actorhub.
//
// Concurrency: a Server owns one goroutine per HTTP request (net/http's), and
// per WebSocket a reader, a writer that exists only while there is something
// to write, and its share of one pinger; Stop closes every WebSocket and waits
// for all of them.
package transport
