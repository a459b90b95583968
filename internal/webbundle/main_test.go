package main

import (
	"bytes"
	"os"
	"testing"
)

// TestUpToDate fails when demo/app.js is not the bundle of the page's sources:
// change clients/js/src or clients/js/page, then `go generate ./demo`.
func TestUpToDate(t *testing.T) {
	want, err := bundle("../../clients/js/page/main.ts")
	if err != nil {
		t.Fatal(err)
	}
	got, err := os.ReadFile("../../demo/app.js")
	if err != nil {
		t.Fatalf("%v: run `go generate ./demo`", err)
	}
	if !bytes.Equal(got, want) {
		t.Fatalf("demo/app.js (%d bytes) is not the bundle of clients/js/page/main.ts (%d bytes): run `go generate ./demo` and commit it", len(got), len(want))
	}
}
