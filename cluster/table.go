package cluster

import (
	"encoding/json"
	"errors"
	"fmt"
	"reflect"

	"github.com/asynkron/protoactor-go/actor"
)

// Kind says how a cross-node message travels.
type Kind uint8

const (
	// Request goes to a job's owner, which answers it with one Reply.
	Request Kind = iota + 1
	// Reply answers a Request.
	Reply
	// Route goes one way to a job's owner.
	Route
	// Tell goes one way to one actor, on whichever node it lives.
	Tell
)

func (k Kind) String() string {
	switch k {
	case Request:
		return "request"
	case Reply:
		return "reply"
	case Route:
		return "route"
	case Tell:
		return "tell"
	}
	return fmt.Sprintf("kind(%d)", k)
}

// Message declares one message type that crosses between nodes. Adding a
// cross-node message means adding one Message to the table that the node's
// actors pass to NewNetwork; encoding, decoding and the routing of failures
// follow from it.
type Message struct {
	// Name is the message's name on the wire. A name keeps its meaning
	// forever: a changed message gets a new name.
	Name string
	// Type is a nil pointer of the message's Go type, e.g. (*emit)(nil). The
	// message is encoded as JSON (its exported fields), or by its own
	// MarshalWire/UnmarshalWire when it has them; after decoding, Check (when it
	// has one) validates it.
	Type any
	// Kind says how it travels.
	Kind Kind
	// Fail says who gets which answer when a Request or a Route cannot reach its
	// job (no node can own it, its owner changed twice, no answer in time). A
	// nil to means the requester. A nil Fail (or a nil reply) tells nobody.
	Fail func(jobID string, msg any, err error) (to *actor.PID, reply any)
	// Once, when set, says whether this message must not be served twice
	// (events without offsets are appended as they come). Such a message
	// whose node is declared dead before it answered is not routed to the
	// new owner: the node may only have been cut off or slow, and may serve
	// it yet. It fails (Fail, unavailable) and the sender decides.
	Once func(msg any) bool
}

// WireMarshaler is a message with an encoding of its own (a batch of events,
// whose journal bytes are carried as they are instead of as JSON strings).
type WireMarshaler interface {
	MarshalWire() ([]byte, error)
}

// WireUnmarshaler decodes what MarshalWire wrote. It never panics, on any input.
type WireUnmarshaler interface {
	UnmarshalWire(b []byte) error
}

// Checker is a message that validates itself once decoded: bytes from a peer
// are outside bytes.
type Checker interface {
	Check() error
}

// Table is the set of messages that cross between nodes.
type Table struct {
	byName map[string]*Message
	byType map[reflect.Type]*Message
}

// NewTable checks the declarations: names and types unique, every Type a
// pointer, every Kind known.
func NewTable(msgs ...Message) (*Table, error) {
	t := &Table{byName: map[string]*Message{}, byType: map[reflect.Type]*Message{}}
	for i := range msgs {
		m := &msgs[i]
		typ := reflect.TypeOf(m.Type)
		switch {
		case m.Name == "":
			return nil, fmt.Errorf("cluster: message %d has no name", i)
		case typ == nil || typ.Kind() != reflect.Pointer:
			return nil, fmt.Errorf("cluster: message %s: Type must be a nil pointer of its type, e.g. (*emit)(nil)", m.Name)
		case m.Kind < Request || m.Kind > Tell:
			return nil, fmt.Errorf("cluster: message %s: unknown kind %d", m.Name, m.Kind)
		case t.byName[m.Name] != nil:
			return nil, fmt.Errorf("cluster: message name %s declared twice", m.Name)
		case t.byType[typ] != nil:
			return nil, fmt.Errorf("cluster: type %s declared twice (%s and %s)", typ, t.byType[typ].Name, m.Name)
		}
		t.byName[m.Name], t.byType[typ] = m, m
	}
	return t, nil
}

// MustTable is NewTable for a table declared in code: a bad declaration is a
// programming error and panics at start-up.
func MustTable(msgs ...Message) *Table {
	t, err := NewTable(msgs...)
	if err != nil {
		panic(err)
	}
	return t
}

// Lookup returns the declaration of msg's type.
func (t *Table) Lookup(msg any) (*Message, bool) {
	m, ok := t.byType[reflect.TypeOf(msg)]
	return m, ok
}

// Encode turns a declared message into its name and payload.
func (t *Table) Encode(msg any) (name string, payload []byte, err error) {
	m, ok := t.Lookup(msg)
	if !ok {
		return "", nil, fmt.Errorf("encode %T: not a cluster message (declare it in the table)", msg)
	}
	if wm, ok := msg.(WireMarshaler); ok {
		payload, err = wm.MarshalWire()
	} else {
		payload, err = json.Marshal(msg)
	}
	if err != nil {
		return "", nil, fmt.Errorf("encode %s: %w", m.Name, err)
	}
	return m.Name, payload, nil
}

// Decode is Encode's inverse; it checks the message when it is a Checker. It
// never panics, on any input.
func (t *Table) Decode(name string, b []byte) (any, *Message, error) {
	m := t.byName[name]
	if m == nil {
		return nil, nil, fmt.Errorf("decode: unknown message %q", name)
	}
	msg := reflect.New(reflect.TypeOf(m.Type).Elem()).Interface()
	var err error
	if wu, ok := msg.(WireUnmarshaler); ok {
		err = wu.UnmarshalWire(b)
	} else {
		err = json.Unmarshal(b, msg)
	}
	if err == nil {
		if c, ok := msg.(Checker); ok {
			err = c.Check()
		}
	}
	if err != nil {
		return nil, nil, fmt.Errorf("decode %s: %w", name, err)
	}
	return msg, m, nil
}

// once reports whether msg must not be served twice (Message.Once).
func (t *Table) once(msg any) bool {
	m, ok := t.Lookup(msg)
	return ok && m.Once != nil && m.Once(msg)
}

// Fail returns who is told what when msg, from sender, cannot reach job
// jobID: to is nil when nobody is.
func (t *Table) Fail(jobID string, msg any, sender *actor.PID, err error) (to *actor.PID, reply any) {
	m, ok := t.Lookup(msg)
	if !ok || m.Fail == nil {
		return nil, nil
	}
	to, reply = m.Fail(jobID, msg, err)
	if to == nil {
		to = sender
	}
	if to == nil || reply == nil {
		return nil, nil
	}
	return to, reply
}

// errNoTable is returned by a network built without a table.
var errNoTable = errors.New("cluster: NetworkConfig.Table is required")
