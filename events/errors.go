package events

import "errors"

// Sentinel errors shared by every layer. Stores wrap them (errors.Is finds them),
// actors map them to the error codes below.
var (
	// ErrJobNotFound: no job with that id exists (or it expired).
	ErrJobNotFound = errors.New("job not found")
	// ErrFenced: a newer incarnation of the job (a higher epoch) owns it; the
	// writer that got this error must stop.
	ErrFenced = errors.New("fenced by a newer epoch")
	// ErrStoreUnavailable: the store could not be reached or refused the
	// operation for a transient reason; retrying later may succeed.
	ErrStoreUnavailable = errors.New("store unavailable")
)

// Error codes, as they appear in {"error":CODE} (HTTP) and {"type":"error","code":CODE}
// (WebSocket). NotFound keeps the text of the original API on the state endpoints.
const (
	CodeBadRequest    = "bad_request"     // malformed JSON or a missing/invalid field
	CodeBadFrame      = "bad_frame"       // a WebSocket object that is not valid JSON
	CodeUnknownType   = "unknown_type"    // a WebSocket object whose type is not known
	CodeFrameTooLarge = "frame_too_large" // a WebSocket frame over the limit
	CodeTooLarge      = "too_large"       // an HTTP body over the limit
	CodeBadEventName  = "bad_event_name"  // not of the form area:thing:vN
	CodeInvalidEvent  = "invalid_event"   // a known event with a payload that does not fit
	CodeOffsetGap     = "offset_gap"      // an offset past the next expected one
	CodeJobFinished   = "job_finished"    // a new event after the terminal one
	CodeNotFound      = "Job not found"   // unknown job
	CodeJobExists     = "job_exists"      // create with a different user/type than the existing job
	CodeTooManySubs   = "too_many_subscriptions"
	CodeNotSubscribed = "not_subscribed"
	CodeUnavailable   = "unavailable"   // store or node not ready; retry
	CodeSlowConsumer  = "slow_consumer" // outbound queue full
	CodeUnauthorized  = "unauthorized"  // missing or bad credentials
	CodeForbidden     = "forbidden"     // not allowed for this user
	CodeRateLimited   = "rate_limited"  // too many requests
	CodeTimeout       = "timeout"       // the job did not answer in time; retry
	CodeInternal      = "internal"      // a bug: logged with details on the node
)
