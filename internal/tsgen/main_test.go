package main

import (
	"bytes"
	"os"
	"strings"
	"testing"
)

// TestUpToDate fails when clients/js/src/protocol.ts is not what the Go
// package events generates: change the Go types, then `go generate ./events`.
func TestUpToDate(t *testing.T) {
	want, err := generate("../../events")
	if err != nil {
		t.Fatal(err)
	}
	got, err := os.ReadFile("../../clients/js/src/protocol.ts")
	if err != nil {
		t.Fatalf("%v: run `go generate ./events`", err)
	}
	if !bytes.Equal(got, want) {
		gl, wl := strings.Split(string(got), "\n"), strings.Split(string(want), "\n")
		for i := 0; i < len(gl) || i < len(wl); i++ {
			var g, w string
			if i < len(gl) {
				g = gl[i]
			}
			if i < len(wl) {
				w = wl[i]
			}
			if g != w {
				t.Fatalf("clients/js/src/protocol.ts is stale (line %d: have %q, the Go types give %q): run `go generate ./events` and commit it", i+1, g, w)
			}
		}
	}
}

// TestGenerateCoversTheContract checks what the generator relies on: every frame and
// payload field has a json name, and a json.RawMessage field says its
// TypeScript type (or is left as unknown on purpose).
func TestGenerateCoversTheContract(t *testing.T) {
	out, err := generate("../../events")
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{
		`export interface SubscribeFrame {`, `type: "subscribe";`, `fromSeq?: number;`,
		`export interface EventFrame {`, `export interface CreatedFrame {`, `export interface CancelledFrame {`,
		`"model:chunk:v1": ChunkData;`, `"job:running:v1": Record<string, unknown>;`,
		`OffsetGap: "offset_gap",`, `export type JobStatus = "created" | "running" | "completed" | "failed" | "cancelled";`,
		`error: string | null;`, `id?: string | number;`,
	} {
		if !strings.Contains(string(out), want) {
			t.Errorf("generated TypeScript lacks %q", want)
		}
	}
}
