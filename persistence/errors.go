package persistence

import "errors"

// Sentinel errors of this package. The stores also wrap the shared sentinels of
// package events (ErrJobNotFound, ErrFenced, ErrStoreUnavailable); these are the
// failures that only a store can have.
var (
	// ErrClosed: the store was closed; nothing more can be read or written.
	ErrClosed = errors.New("persistence: store closed")
	// ErrLocked: another process holds the embedded store's file.
	ErrLocked = errors.New("persistence: store locked by another process")
	// ErrBadURL: Open was given a store URL it cannot use.
	ErrBadURL = errors.New("persistence: bad store URL")
	// ErrCorrupt: bytes read back from the store do not decode (a snapshot, a
	// journal entry, a record). The job cannot be served until it is repaired.
	ErrCorrupt = errors.New("persistence: corrupt data in store")
	// ErrInvalid: a call had arguments that break its contract
	// (seqs not contiguous, an event of another job, no Raw, a bad job id, ...). A caller bug.
	ErrInvalid = errors.New("persistence: invalid arguments")
)
