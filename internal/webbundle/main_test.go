package main

import (
	"bytes"
	"os"
	"path/filepath"
	"testing"
)

// TestUpToDate fails when a bundle in demo/ is not what its sources give:
// change clients/js/src or clients/js/page, then `go generate ./demo`.
func TestUpToDate(t *testing.T) {
	for _, b := range bundles {
		want, err := bundle(filepath.Join("../..", b.entry), b.format)
		if err != nil {
			t.Fatal(err)
		}
		got, err := os.ReadFile(filepath.Join("../../demo", b.out))
		if err != nil {
			t.Fatalf("%v: run `go generate ./demo`", err)
		}
		if !bytes.Equal(got, want) {
			t.Errorf("demo/%s (%d bytes) is not the bundle of %s (%d bytes): run `go generate ./demo` and commit it", b.out, len(got), b.entry, len(want))
		}
	}
}
