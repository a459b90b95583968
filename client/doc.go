// Package client is the Go SDK of actorhub: a Subscriber that follows jobs over
// GET /ws, and a Worker that creates jobs and emits their events over
// GET /ws/worker or POST /api/jobs/{id}/events, both speaking the external
// contract of PROTOCOL.md and nothing else. It imports events (the wire schema),
// internal/backoff (its Backoff is client.Backoff) and coder/websocket, and no
// other package of actorhub.
//
// # Subscriber
//
// A Subscriber keeps one WebSocket to one node at a time. Run dials, waits for
// {"type":"connected"}, subscribes every job from the last seq it processed,
// and reads. It drops what it has already processed (seq ≤ last), reports and
// counts any gap, and after a close or an error dials another URL (one of the
// others at random, so that the clients of a node that went away spread over
// the rest) after a full-jitter backoff and resubscribes, so that the Handler sees every job's
// events exactly once and in seq order. {"type":"reconnect","afterMs"} (a
// draining node) makes it wait afterMs and go to another URL.
//
// # Worker
//
// A Worker numbers the events it emits per job (offsets 0, 1, 2, …), queues
// them, and sends them in batches (several objects per frame, or per POST)
// until the node acks them as durable. After a failure it sends every unacked
// event again, on the next node if the connection failed; offsets make that
// idempotent. Refusals that retrying cannot fix end the job's stream with an
// *EmitError, which Flush and EmitSync return. So does a node's word, on
// WebSocket, that the job was cancelled (code job_finished; OnCancel is
// called): its unacked events are not sent again. Once a job's terminal event
// is acked the Worker forgets the job, so a worker that streams job after job
// holds only those still going. An Emit to one of the last 4,096 jobs a lane
// forgot is refused with job_finished at once; to one forgotten longer ago it
// numbers from offset 0 again, which the node takes for resends of events it
// has (acked, not appended).
//
// On WebSocket a Worker keeps a connection (a lane) to each node of BaseURLs by
// default. A job starts on the lane its id hashes to; when an ack says that
// another node holds the job (the lane's node passes its emits on to it and
// the answers back), the job moves to a lane connected to that node, once
// none of its events is unacked, and its next events go there: each then
// costs one node's work instead of two's (docs/BENCHMARKS.md C28). On HTTP
// the answer names the node, and the job's next batches are posted to it.
//
// # Concurrency
//
// Every exported method of Subscriber and Worker is safe for concurrent use.
// Run owns one goroutine per connection (its reader) and waits for it before
// it returns; the Handler and OnStatus run on those goroutines, one at a time,
// so a slow Handler slows that subscriber's reading and nothing else. A Worker
// owns one goroutine per lane (Config.Conns) plus, on WebSocket, one reader per
// connection; Close stops and waits for all of them. OnAck runs on the
// goroutine that read the ack (the connection's reader on WebSocket, the
// lane's goroutine on HTTP); OnCancel runs on the reader of the connection
// that got the node's push, after the job's stream has ended (Emit and Flush
// of that job return its *EmitError by then). Callbacks (Handler, OnStatus, OnAck,
// OnCancel) must not call back into the object that calls them in a way
// that waits for it (Run, Close, Flush).
package client
