// Package nodetest runs real `actorhub serve` processes for tests: it builds
// the binary once per test binary (with -race when the tests run with -race,
// so the node's own races fail the test), picks free loopback ports, waits for
// /readyz, and offers the faults tests inject: kill -9, SIGTERM, SIGSTOP,
// restart on the same store and ports.
package nodetest
