package transport

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"time"

	"github.com/actorhub/actorhub/actors"
	"github.com/actorhub/actorhub/events"
)

func (s *Server) readyz(w http.ResponseWriter, r *http.Request) {
	if s.draining.Load() {
		writeJSON(w, 503, map[string]string{"status": "draining"})
		return
	}
	if why := s.standbyReason(); why != "" {
		writeJSON(w, 503, map[string]string{"status": "standby", "reason": why})
		return
	}
	if !s.cluster.Joined() {
		writeJSON(w, 503, map[string]string{"status": "joining the cluster"})
		return
	}
	ctx, cancel := context.WithTimeout(r.Context(), 2*time.Second)
	defer cancel()
	if err := s.hub.Ready(ctx); err != nil {
		writeJSON(w, 503, map[string]string{"status": "store unavailable", "error": err.Error()})
		return
	}
	writeJSON(w, 200, map[string]string{"status": "ready"})
}

func (s *Server) clusterInfo(w http.ResponseWriter, r *http.Request) {
	self, members := s.cluster.Members()
	if members == nil {
		members = []Member{}
	}
	writeJSON(w, 200, struct {
		Self    string   `json:"self"`
		Members []Member `json:"members"`
	}{self, members})
}

type createRequest struct {
	JobID  string          `json:"jobId"`
	UserID string          `json:"userId"`
	Type   string          `json:"type"`
	Input  json.RawMessage `json:"input"`
}

func (s *Server) createJob(w http.ResponseWriter, r *http.Request) {
	who, err := s.authenticate(r)
	if err != nil {
		writeError(w, err)
		return
	}
	var req createRequest
	if err := s.decodeBody(w, r, &req); err != nil {
		writeError(w, err)
		return
	}
	// A job is its creator's: the token's user, unless a worker (or admin)
	// creates it on behalf of the userId it names.
	switch {
	case s.cfg.Auth != "jwt":
	case req.UserID == "":
		req.UserID = who.User
	case req.UserID != who.User && !who.can(ScopeWorker):
		writeError(w, s.counted(&events.CodedError{Code: events.CodeForbidden,
			Err: fmt.Errorf("userId %q is not the token's user: creating a job for another user needs a token with scope worker", req.UserID)}))
		return
	}
	if req.JobID == "" {
		req.JobID = events.NewJobID()
	}
	switch {
	case events.ValidateJobID(req.JobID) != nil:
		writeError(w, badRequest(events.ValidateJobID(req.JobID).Error()))
		return
	case req.UserID == "" || len(req.UserID) > 128:
		writeError(w, badRequest("userId is required (at most 128 bytes)"))
		return
	case req.Type == "" || len(req.Type) > 128:
		writeError(w, badRequest("type is required (at most 128 bytes)"))
		return
	}
	input, err := events.NormalizeInput(req.Input)
	if err != nil {
		writeError(w, badRequest(err.Error()))
		return
	}
	st, created, err := s.hub.CreateJob(r.Context(), req.JobID, req.UserID, req.Type, input)
	if err != nil {
		writeError(w, err)
		return
	}
	if created {
		writeJSON(w, 201, map[string]any{"jobId": st.JobID, "status": st.Status, "lastSequence": st.LastSequence})
		return
	}
	writeJSON(w, 200, st)
}

// eventsBody is the body of POST /api/jobs/{id}/events.
type eventsBody struct {
	Events []struct {
		Offset *int64          `json:"offset"`
		Event  string          `json:"event"`
		Data   json.RawMessage `json:"data"`
	} `json:"events"`
}

// decodeEventsBody parses and checks a POST .../events body into emit items.
func decodeEventsBody(b []byte, maxEvents int) ([]actors.EmitItem, error) {
	var body eventsBody
	if err := json.Unmarshal(b, &body); err != nil {
		return nil, badRequest("body is not {\"events\":[{\"offset\",\"event\",\"data\"}…]}: " + err.Error())
	}
	if len(body.Events) == 0 {
		return nil, badRequest("events is empty")
	}
	if len(body.Events) > maxEvents {
		return nil, &events.CodedError{Code: events.CodeTooLarge,
			Err: fmt.Errorf("%d events in one request; the limit is %d", len(body.Events), maxEvents)}
	}
	items := make([]actors.EmitItem, len(body.Events))
	for i, e := range body.Events {
		it, cerr := emitItem(e.Offset, e.Event, e.Data)
		if cerr != nil {
			cerr.Err = fmt.Errorf("events[%d]: %w", i, cerr.Err)
			return nil, cerr
		}
		items[i] = it
	}
	return items, nil
}

func (s *Server) postEvents(w http.ResponseWriter, r *http.Request) {
	w.Header().Set(nodeHeader, s.cfg.NodeID) // which node this is: the answer may name another ("node")
	if _, err := s.authorize(r, ScopeWorker); err != nil {
		writeError(w, err)
		return
	}
	id := r.PathValue("id")
	if err := events.ValidateJobID(id); err != nil {
		writeError(w, badRequest(err.Error()))
		return
	}
	b, err := s.readBody(w, r)
	if err != nil {
		writeError(w, err)
		return
	}
	items, err := decodeEventsBody(b, s.cfg.MaxEventsPerRequest)
	if err != nil {
		writeError(w, err)
		return
	}
	res, err := s.hub.Emit(r.Context(), id, items)
	if err != nil {
		var ce *events.CodedError
		if errors.As(err, &ce) && (ce.Code == events.CodeOffsetGap || ce.Code == events.CodeJobFinished) {
			writeJSON(w, 409, map[string]any{"error": ce.Code, "message": ce.Error(), "jobId": id,
				"nextOffset": res.NextOffset, "lastSequence": res.LastSequence})
			return
		}
		writeErrorJob(w, err, id)
		return
	}
	ans := map[string]any{"jobId": id, "nextOffset": res.NextOffset, "lastSequence": res.LastSequence}
	if res.Node != "" {
		ans["node"] = res.Node // the node that holds the job: a worker may send its next events there
	}
	writeJSON(w, 200, ans)
}

func (s *Server) cancelJob(w http.ResponseWriter, r *http.Request) {
	who, err := s.authenticate(r)
	if err != nil {
		writeError(w, err)
		return
	}
	id := r.PathValue("id")
	var req struct {
		Reason string `json:"reason"`
	}
	if r.ContentLength != 0 {
		if err := s.decodeBody(w, r, &req); err != nil {
			writeError(w, err)
			return
		}
	}
	st, err := s.hub.Cancel(r.Context(), id, req.Reason, who.Access())
	if err != nil {
		writeErrorJob(w, err, id)
		return
	}
	writeJSON(w, 200, st)
}

// readable returns the state of the job named in r's path once who may read
// it; it answers the request itself otherwise.
func (s *Server) readable(w http.ResponseWriter, r *http.Request, who Principal) (events.JobState, bool) {
	id := r.PathValue("id")
	st, err := s.hub.State(r.Context(), id)
	if err != nil {
		writeErrorJob(w, err, id)
		return st, false
	}
	if !who.Access().MayRead(st.UserID) {
		writeError(w, s.counted(&events.CodedError{Code: events.CodeForbidden,
			Err: fmt.Errorf("job %s belongs to another user; reading it needs a token with scope jobs:read:*", id)}))
		return st, false
	}
	return st, true
}

func (s *Server) jobState(w http.ResponseWriter, r *http.Request) {
	who, err := s.authenticate(r)
	if err != nil {
		writeError(w, err)
		return
	}
	st, ok := s.readable(w, r, who)
	if !ok {
		return
	}
	writeJSON(w, 200, st)
}

func (s *Server) jobStatus(w http.ResponseWriter, r *http.Request) {
	who, err := s.authenticate(r)
	if err != nil {
		writeError(w, err)
		return
	}
	id := r.PathValue("id")
	st, ok := s.readable(w, r, who)
	if !ok {
		return
	}
	out := map[string]any{"jobId": st.JobID, "status": st.Status, "progress": st.Progress, "lastSequence": st.LastSequence}
	if node, err := s.hub.Holder(r.Context(), id); err == nil && node != "" {
		out["node"] = node // where the job lives now
	}
	writeJSON(w, 200, out)
}

func (s *Server) jobEvents(w http.ResponseWriter, r *http.Request) {
	id := r.PathValue("id")
	q := r.URL.Query()
	from, limit := int64(0), 1000
	if v := q.Get("fromSeq"); v != "" {
		n, err := strconv.ParseInt(v, 10, 64)
		if err != nil || n < 0 {
			writeError(w, badRequest("fromSeq must be a number ≥ 0"))
			return
		}
		from = n
	}
	if v := q.Get("limit"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 1 || n > 10000 {
			writeError(w, badRequest("limit must be within 1–10000"))
			return
		}
		limit = n
	}
	who, err := s.authenticate(r)
	if err != nil {
		writeError(w, err)
		return
	}
	if !who.Access().ReadAny { // whose job is it? (a job's user never changes)
		if _, ok := s.readable(w, r, who); !ok {
			return
		}
	}
	evs, err := s.hub.Events(r.Context(), id, from, limit)
	if err != nil {
		writeErrorJob(w, err, id)
		return
	}
	buf := append([]byte(`{"jobId":`), events.AppendString(nil, id)...)
	buf = append(buf, `,"events":[`...)
	for i, ev := range evs {
		if i > 0 {
			buf = append(buf, ',')
		}
		buf = append(buf, ev.Raw...)
	}
	buf = append(buf, "]}\n"...)
	w.Header().Set("Content-Type", "application/json")
	w.Write(buf)
}

// bodyTimeout bounds how long a request body may take to arrive: a client
// that trickles one in does not hold a connection and a handler for long.
const bodyTimeout = 30 * time.Second

func (s *Server) readBody(w http.ResponseWriter, r *http.Request) ([]byte, error) {
	_ = http.NewResponseController(w).SetReadDeadline(time.Now().Add(bodyTimeout))
	b, err := io.ReadAll(http.MaxBytesReader(w, r.Body, s.cfg.MaxBody))
	var mbe *http.MaxBytesError
	if errors.As(err, &mbe) {
		return nil, &events.CodedError{Code: events.CodeTooLarge, Err: fmt.Errorf("body over %d bytes", s.cfg.MaxBody)}
	}
	if err != nil {
		return nil, badRequest("read body: " + err.Error())
	}
	return b, nil
}

func (s *Server) decodeBody(w http.ResponseWriter, r *http.Request, v any) error {
	b, err := s.readBody(w, r)
	if err != nil {
		return err
	}
	if err := json.Unmarshal(b, v); err != nil {
		return badRequest("body is not the expected JSON object: " + err.Error())
	}
	return nil
}

func badRequest(msg string) error {
	return &events.CodedError{Code: events.CodeBadRequest, Err: errors.New(msg)}
}

// statusOf maps an error code to its HTTP status.
func statusOf(code string) int {
	switch code {
	case events.CodeBadRequest, events.CodeBadEventName, events.CodeInvalidEvent, events.CodeBadFrame:
		return 400
	case events.CodeUnauthorized:
		return 401
	case events.CodeForbidden:
		return 403
	case events.CodeNotFound:
		return 404
	case events.CodeOffsetGap, events.CodeJobFinished, events.CodeJobExists:
		return 409
	case events.CodeTooLarge:
		return 413
	case events.CodeRateLimited:
		return 429
	case events.CodeUnavailable, events.CodeTimeout:
		return 503
	}
	return 500
}

func writeErrorJob(w http.ResponseWriter, err error, jobID string) {
	var ce *events.CodedError
	if errors.As(err, &ce) && ce.Code == events.CodeNotFound {
		writeJSON(w, 404, map[string]any{"error": events.CodeNotFound, "jobId": jobID, "message": "job " + jobID + " not found"})
		return
	}
	writeError(w, err)
}

func writeError(w http.ResponseWriter, err error) {
	code := events.CodeInternal
	var ce *events.CodedError
	if errors.As(err, &ce) {
		code = ce.Code
	}
	status := statusOf(code)
	if status == 503 {
		w.Header().Set("Retry-After", "1")
	}
	writeJSON(w, status, map[string]any{"error": code, "message": err.Error()})
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	b, err := json.Marshal(v)
	if err != nil {
		status, b = 500, []byte(`{"error":"internal","message":"encode response"}`)
	}
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	w.Write(append(b, '\n'))
}
