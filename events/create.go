package events

import (
	"bytes"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"unicode/utf8"
)

// What a create (POST /api/jobs, or a client's create on /ws) makes of its
// request, in one place for both.

// NewJobID returns a fresh job id, job-<24 hex> (96 random bits): the id of a
// job created without one.
func NewJobID() string {
	var b [12]byte
	_, _ = rand.Read(b[:])
	return "job-" + hex.EncodeToString(b[:])
}

// NormalizeInput returns a job's input compact; absent, blank or null input
// is none (nil). It fails on input that is not JSON.
func NormalizeInput(raw json.RawMessage) ([]byte, error) {
	raw = bytes.TrimSpace(raw)
	if len(raw) == 0 || string(raw) == "null" {
		return nil, nil
	}
	if !utf8.Valid(raw) {
		return nil, fmt.Errorf("input is not valid UTF-8")
	}
	var buf bytes.Buffer
	if err := json.Compact(&buf, raw); err != nil {
		return nil, fmt.Errorf("input is not valid JSON: %v", err)
	}
	return buf.Bytes(), nil
}
