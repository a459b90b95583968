// Package redistest runs a real redis-server for tests: on a free loopback
// port, with its data in the test's temporary directory, killed when the test
// ends. It can kill and restart the server (with an append-only file, nothing
// acknowledged is lost) to test outages, and run it as a one-node Redis
// Cluster that owns every slot.
//
// It imports the standard library only. A Server is safe for concurrent use;
// its methods block until the server is in the state they name.
package redistest
