// Package bench is the engine of `actorhub bench`: it starts one actorhub node
// as a child process (or drives a running one), creates jobs, connects many
// subscribers and emits model:chunk:v1 events at a fixed total rate through a
// client.Worker, and measures what the subscribers receive: delivered msgs/s,
// latency from emit to receive, lost, duplicate and out-of-order events, the
// worker's ack latency, and the node's CPU and memory.
//
// It drives the node through the external contract only (package client and
// HTTP), and reads the node's CPU and memory from /proc (Linux). Run owns
// every goroutine and child process it starts and stops them all before it
// returns, also on error, on ctx cancellation and when its watchdog fires.
package bench
