package events

import (
	"encoding/json"
	"strconv"
)

// The objects of the WebSocket protocol as Go types: the one source of truth
// for what a node sends (the Append functions below marshal these types) and
// for the TypeScript client's types (internal/tsgen generates
// clients/js/src/protocol.ts from them and from the payloads, names, codes and
// JobState of this package; a test fails when that file is stale).
//
// In every frame type, Type holds the frame's type constant, and an `id` is
// echoed back as it came (a string or a number).

// Frames a client sends on /ws.

// SubscribeFrame asks for a job's events with seq > FromSeq, then live ones.
type SubscribeFrame struct {
	Type    string          `json:"type"`
	ID      json.RawMessage `json:"id,omitempty" ts:"string | number"`
	JobID   string          `json:"jobId"`
	FromSeq *int64          `json:"fromSeq,omitempty"`
}

// UnsubscribeFrame ends a subscription.
type UnsubscribeFrame struct {
	Type  string          `json:"type"`
	ID    json.RawMessage `json:"id,omitempty" ts:"string | number"`
	JobID string          `json:"jobId"`
}

// CancelFrame cancels a job; answered with an AckFrame once durable. A job
// that is cancelled already acks again and gets no second job:cancelled:v1.
type CancelFrame struct {
	Type   string          `json:"type"`
	ID     json.RawMessage `json:"id,omitempty" ts:"string | number"`
	JobID  string          `json:"jobId"`
	Reason string          `json:"reason,omitempty"`
}

// CreateFrame creates a job owned by the connection's user; answered with a
// CreatedFrame once durable. Creating a jobId that exists (with the same user
// and type) answers with its state again: a client that generates its ids
// resends safely.
type CreateFrame struct {
	Type    string          `json:"type"`
	ID      json.RawMessage `json:"id,omitempty" ts:"string | number"`
	JobID   string          `json:"jobId,omitempty"` // generated (job-<24 hex>) when absent
	JobType string          `json:"jobType"`
	Input   json.RawMessage `json:"input,omitempty" ts:"unknown"`
}

// PingFrame asks for a PongFrame (both sockets).
type PingFrame struct {
	Type string          `json:"type"`
	ID   json.RawMessage `json:"id,omitempty" ts:"string | number"`
}

// Frames a node sends on /ws.

// ConnectedFrame is the first object on a connection.
type ConnectedFrame struct {
	Type      string `json:"type"`
	SessionID string `json:"sessionId"`
	NodeID    string `json:"nodeId"`
	UserID    string `json:"userId"`
}

// SubscribedFrame starts a subscription's events.
type SubscribedFrame struct {
	Type         string          `json:"type"`
	ID           json.RawMessage `json:"id,omitempty" ts:"string | number"`
	JobID        string          `json:"jobId"`
	Status       Status          `json:"status"`
	LastSequence int64           `json:"lastSequence"`
	Epoch        uint64          `json:"epoch"`
}

// EventFrame is one event of a job (Event.Encode writes it).
type EventFrame struct {
	Type  string          `json:"type"`
	JobID string          `json:"jobId"`
	Seq   int64           `json:"seq"`
	Event string          `json:"event"`
	Data  json.RawMessage `json:"data" ts:"Record<string, unknown>"`
	TS    int64           `json:"ts"`
}

// ReplyFrame answers unsubscribe (unsubscribed), ping (pong) and cancel (ack).
type ReplyFrame struct {
	Type  string          `json:"type"`
	ID    json.RawMessage `json:"id,omitempty" ts:"string | number"`
	JobID string          `json:"jobId,omitempty"`
}

// CreatedFrame answers a CreateFrame: the job is durable. Existing is true
// when the job existed before this request.
type CreatedFrame struct {
	Type         string          `json:"type"`
	ID           json.RawMessage `json:"id,omitempty" ts:"string | number"`
	JobID        string          `json:"jobId"`
	Status       Status          `json:"status"`
	LastSequence int64           `json:"lastSequence"`
	Existing     bool            `json:"existing,omitempty"`
}

// ErrorFrame refuses a request (both sockets). NextOffset comes with a
// worker's offset_gap and job_finished, Epoch with a worker's refused emit.
type ErrorFrame struct {
	Type       string          `json:"type"`
	ID         json.RawMessage `json:"id,omitempty" ts:"string | number"`
	JobID      string          `json:"jobId,omitempty"`
	Code       string          `json:"code"`
	Message    string          `json:"message"`
	NextOffset *int64          `json:"nextOffset,omitempty"`
	Epoch      uint64          `json:"epoch,omitempty"`
}

// RefreshFrame hands the connection a fresh token (--auth jwt) before the
// one it connected with expires: the same user with the same scopes.
type RefreshFrame struct {
	Type  string          `json:"type"`
	ID    json.RawMessage `json:"id,omitempty" ts:"string | number"`
	Token string          `json:"token"`
}

// RefreshedFrame answers a refresh: the connection now lasts until ExpiresAt.
type RefreshedFrame struct {
	Type      string          `json:"type"`
	ID        json.RawMessage `json:"id,omitempty" ts:"string | number"`
	ExpiresAt int64           `json:"expiresAt"`
}

// TokenExpiringFrame warns that the connection's token expires at ExpiresAt:
// without a refresh by then the node closes the connection (1008).
type TokenExpiringFrame struct {
	Type      string `json:"type"`
	ExpiresAt int64  `json:"expiresAt"`
}

// ReconnectFrame comes before a draining node closes the socket: connect to
// another node after AfterMs.
type ReconnectFrame struct {
	Type    string `json:"type"`
	AfterMs int64  `json:"afterMs"`
	Reason  string `json:"reason"`
}

// Frames of /ws/worker.

// EmitFrame is a worker's event for a job.
type EmitFrame struct {
	Type   string          `json:"type"`
	JobID  string          `json:"jobId"`
	Offset *int64          `json:"offset,omitempty"`
	Event  string          `json:"event"`
	Data   json.RawMessage `json:"data,omitempty" ts:"Record<string, unknown>"`
}

// WorkerAckFrame says a job's events up to NextOffset are durable.
type WorkerAckFrame struct {
	Type         string `json:"type"`
	JobID        string `json:"jobId"`
	NextOffset   int64  `json:"nextOffset"`
	LastSequence int64  `json:"lastSequence"`
	Epoch        uint64 `json:"epoch,omitempty"`
	// Node, when set, is the id of the node that holds the job, which is not
	// the node of this connection: the worker's emits for the job cross to it
	// and back. A worker with a connection to that node (it learns each
	// connection's node from the upgrade's Actorhub-Node header) sends the
	// job's next emits there.
	Node string `json:"node,omitempty"`
}

// CancelledFrame tells a worker connection that a job it emitted to was
// cancelled: stop working on it (further emits get job_finished).
type CancelledFrame struct {
	Type   string `json:"type"`
	JobID  string `json:"jobId"`
	Reason string `json:"reason"`
}

// Frame names one frame type for the generator: Go is a value of its Go
// type, Type the value of its type field, Name its TypeScript name.
type Frame struct {
	Name string // the TypeScript name
	Type string
	Go   any
}

// Frames of each direction of each socket, for internal/tsgen.
var (
	ClientFrames = []Frame{
		{"SubscribeFrame", TypeSubscribe, SubscribeFrame{}},
		{"UnsubscribeFrame", TypeUnsubscribe, UnsubscribeFrame{}},
		{"CancelFrame", TypeCancel, CancelFrame{}},
		{"CreateFrame", TypeCreate, CreateFrame{}},
		{"PingFrame", TypePing, PingFrame{}},
		{"RefreshFrame", TypeRefresh, RefreshFrame{}},
	}
	ServerFrames = []Frame{
		{"ConnectedFrame", TypeConnected, ConnectedFrame{}},
		{"SubscribedFrame", TypeSubscribed, SubscribedFrame{}},
		{"EventFrame", TypeEvent, EventFrame{}},
		{"UnsubscribedFrame", TypeUnsubscribed, ReplyFrame{}},
		{"AckFrame", TypeAck, ReplyFrame{}},
		{"PongFrame", TypePong, ReplyFrame{}},
		{"CreatedFrame", TypeCreated, CreatedFrame{}},
		{"ErrorFrame", TypeError, ErrorFrame{}},
		{"ReconnectFrame", TypeReconnect, ReconnectFrame{}},
		{"RefreshedFrame", TypeRefreshed, RefreshedFrame{}},
		{"TokenExpiringFrame", TypeTokenExpiry, TokenExpiringFrame{}},
	}
	WorkerFrames = []Frame{
		{"EmitFrame", TypeEmit, EmitFrame{}},
		{"PingFrame", TypePing, PingFrame{}},
		{"RefreshFrame", TypeRefresh, RefreshFrame{}},
	}
	WorkerServerFrames = []Frame{
		{"WorkerAckFrame", TypeAck, WorkerAckFrame{}},
		{"CancelledFrame", TypeCancelled, CancelledFrame{}},
		{"ErrorFrame", TypeError, ErrorFrame{}},
		{"PongFrame", TypePong, ReplyFrame{}},
		{"ReconnectFrame", TypeReconnect, ReconnectFrame{}},
		{"RefreshedFrame", TypeRefreshed, RefreshedFrame{}},
		{"TokenExpiringFrame", TypeTokenExpiry, TokenExpiringFrame{}},
	}
)

// Outbound objects. Each Append* appends one object (no newline).

// AppendConnected appends {"type":"connected",...}.
func AppendConnected(b []byte, sessionID, nodeID, userID string) []byte {
	return appendJSON(b, ConnectedFrame{TypeConnected, sessionID, nodeID, userID})
}

// AppendSubscribed appends {"type":"subscribed",...}.
func AppendSubscribed(b []byte, id json.RawMessage, jobID string, status Status, lastSeq int64, epoch uint64) []byte {
	return appendJSON(b, SubscribedFrame{TypeSubscribed, id, jobID, status, lastSeq, epoch})
}

// AppendReply appends a short reply: unsubscribed, pong or a client's ack
// (jobId may be empty).
func AppendReply(b []byte, typ string, id json.RawMessage, jobID string) []byte {
	return appendJSON(b, ReplyFrame{typ, id, jobID})
}

// AppendCreated appends {"type":"created",...}.
func AppendCreated(b []byte, id json.RawMessage, st *JobState, existing bool) []byte {
	return appendJSON(b, CreatedFrame{TypeCreated, id, st.JobID, st.Status, st.LastSequence, existing})
}

// AppendCancelled appends a worker's {"type":"cancelled","jobId","reason"}.
func AppendCancelled(b []byte, jobID, reason string) []byte {
	return appendJSON(b, CancelledFrame{TypeCancelled, jobID, reason})
}

// AppendAck appends a worker's ack: {"type":"ack","jobId","nextOffset","lastSequence"},
// "epoch" (the answering incarnation's) when it is not 0, and "node" (the
// job's node, when it is another than the connection's) when not empty
// (WorkerAckFrame). It is written by hand: a worker gets one per commit of
// each of its jobs.
func AppendAck(b []byte, jobID string, nextOffset, lastSeq int64, epoch uint64, node string) []byte {
	b = append(b, `{"type":"ack","jobId":`...)
	b = AppendString(b, jobID)
	b = append(b, `,"nextOffset":`...)
	b = strconv.AppendInt(b, nextOffset, 10)
	b = append(b, `,"lastSequence":`...)
	b = strconv.AppendInt(b, lastSeq, 10)
	if epoch != 0 {
		b = append(b, `,"epoch":`...)
		b = strconv.AppendUint(b, epoch, 10)
	}
	if node != "" {
		b = append(b, `,"node":`...)
		b = AppendString(b, node)
	}
	return append(b, '}')
}

// AppendError appends {"type":"error",...}; nextOffset < 0 and epoch 0 leave
// them out.
func AppendError(b []byte, id json.RawMessage, jobID, code, message string, nextOffset int64, epoch uint64) []byte {
	var no *int64
	if nextOffset >= 0 {
		no = &nextOffset
	}
	return appendJSON(b, ErrorFrame{TypeError, id, jobID, code, message, no, epoch})
}

// AppendReconnect appends {"type":"reconnect","afterMs","reason"}.
func AppendReconnect(b []byte, afterMs int64, reason string) []byte {
	return appendJSON(b, ReconnectFrame{TypeReconnect, afterMs, reason})
}

// AppendRefreshed appends {"type":"refreshed","id"?,"expiresAt"}.
func AppendRefreshed(b []byte, id json.RawMessage, expiresAt int64) []byte {
	return appendJSON(b, RefreshedFrame{TypeRefreshed, id, expiresAt})
}

// AppendTokenExpiring appends {"type":"token_expiring","expiresAt"}.
func AppendTokenExpiring(b []byte, expiresAt int64) []byte {
	return appendJSON(b, TokenExpiringFrame{TypeTokenExpiry, expiresAt})
}
