// Package demo is what `make run` shows: a page at / where a person types a
// prompt and watches the answer stream in (seq, status and node shown, resumed
// from the last seq after a reload), and a simulated LLM worker that streams
// tokens through the public worker API with the Go SDK, as any worker would.
//
// It imports client and events. Worker owns one goroutine per running demo job
// and waits for them in Stop.
package demo

//go:generate go run ../internal/webbundle -root .. -dir .
