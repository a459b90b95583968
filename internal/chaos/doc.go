// Package chaos is the engine of `actorhub chaos`: it runs a local cluster of
// real `actorhub serve` processes on loopback with a private redis-server (AOF
// on, so a Redis restart keeps what it acknowledged), streams jobs through the
// Go SDK's worker to the SDK's subscribers on every node, injects faults on a
// seeded schedule (kill -9, SIGSTOP/SIGCONT, SIGTERM drain, restart, Redis
// restart), and checks DESIGN.md's invariants continuously and at the end. Its
// report says what happened and what broke; Run's caller exits non-zero when
// anything did.
//
// Every loop is bounded by the run's duration plus fixed grace periods; every
// process it starts is killed when Run returns.
package chaos
