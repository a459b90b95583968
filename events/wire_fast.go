package events

import (
	"bytes"
	"encoding/json"
	"strconv"
)

// decodeInboundFast decodes line into m without reflection when line is what
// clients and workers send almost always: one object of Inbound's keys, each
// once, spelled as declared, with plain ASCII strings (no escapes), integer
// numbers and an object as data. It reports false, leaving the line to
// encoding/json (which gives the same result or the error), for anything else.
// FuzzDecodeInboundFast holds the two to the same answers.
func decodeInboundFast(line []byte, m *Inbound) bool {
	p := fastParser{b: line}
	if !p.eat('{') {
		return false
	}
	var seen [8]bool
	if p.eat('}') {
		return p.done()
	}
	for {
		key, ok := p.plain()
		if !ok || !p.eat(':') {
			return false
		}
		field := inboundField(key)
		if field < 0 || seen[field] {
			return false // unknown (maybe a case variant), or twice: encoding/json decides
		}
		seen[field] = true
		p.ws()
		switch field {
		case 0:
			m.Type, ok = p.knownString()
		case 1:
			m.JobID, ok = p.plainString()
		case 2:
			m.Event, ok = p.knownString()
		case 3:
			m.Reason, ok = p.plainString()
		case 4:
			m.Offset, ok = p.int()
		case 5:
			m.FromSeq, ok = p.int()
		case 6: // id: a plain string or an integer, kept as it came
			start := p.i
			if p.peek() == '"' {
				_, ok = p.plain()
			} else {
				_, ok = p.int()
			}
			m.ID = json.RawMessage(bytes.Clone(bytes.TrimSpace(line[start:p.i])))
		case 7: // data: an object, kept as it came
			start := p.i
			ok = p.peek() == '{' && p.skipObject()
			if ok {
				m.Data = json.RawMessage(bytes.Clone(line[start:p.i]))
				ok = json.Valid(m.Data)
			}
		}
		if !ok {
			return false
		}
		if p.eat(',') {
			continue
		}
		return p.eat('}') && p.done()
	}
}

func inboundField(key []byte) int {
	switch string(key) {
	case "type":
		return 0
	case "jobId":
		return 1
	case "event":
		return 2
	case "reason":
		return 3
	case "offset":
		return 4
	case "fromSeq":
		return 5
	case "id":
		return 6
	case "data":
		return 7
	}
	return -1
}

// fastParser reads the JSON of decodeInboundFast; every method skips the
// whitespace before what it reads.
type fastParser struct {
	b []byte
	i int
}

func (p *fastParser) ws() {
	for p.i < len(p.b) {
		switch p.b[p.i] {
		case ' ', '\t', '\n', '\r':
			p.i++
		default:
			return
		}
	}
}

func (p *fastParser) peek() byte {
	p.ws()
	if p.i < len(p.b) {
		return p.b[p.i]
	}
	return 0
}

func (p *fastParser) eat(c byte) bool {
	if p.peek() != c {
		return false
	}
	p.i++
	return true
}

// done reports whether only whitespace is left.
func (p *fastParser) done() bool {
	p.ws()
	return p.i == len(p.b)
}

// plain reads a string of printable ASCII without escapes and returns its
// content (sharing the line).
func (p *fastParser) plain() ([]byte, bool) { return p.str(true) }

// unescaped reads a string without escapes or control characters (any other
// bytes, UTF-8 included, as they are) and returns its content.
func (p *fastParser) unescaped() ([]byte, bool) { return p.str(false) }

// str reads a string without escapes or control characters, and with ascii
// without bytes past 0x7e either, and returns its content (sharing the line).
func (p *fastParser) str(ascii bool) ([]byte, bool) {
	if !p.eat('"') {
		return nil, false
	}
	start := p.i
	for ; p.i < len(p.b); p.i++ {
		c := p.b[p.i]
		if c == '"' {
			p.i++
			return p.b[start : p.i-1], true
		}
		if c < 0x20 || c == '\\' || (ascii && c > 0x7e) {
			return nil, false
		}
	}
	return nil, false
}

func (p *fastParser) plainString() (string, bool) {
	s, ok := p.plain()
	return string(s), ok
}

// knownString is plainString for a message's type or an event's name: the
// common ones are the package's constants instead of a new string each.
func (p *fastParser) knownString() (string, bool) {
	s, ok := p.plain()
	if !ok {
		return "", false
	}
	switch string(s) {
	case TypeEmit:
		return TypeEmit, true
	case TypeSubscribe:
		return TypeSubscribe, true
	case TypePing:
		return TypePing, true
	case Chunk:
		return Chunk, true
	case Progress:
		return Progress, true
	case Completed:
		return Completed, true
	case Failed:
		return Failed, true
	}
	return string(s), true
}

// int reads a JSON integer that fits an int64 (no fraction, no exponent).
func (p *fastParser) int() (*int64, bool) {
	v, ok := p.intValue()
	if !ok {
		return nil, false
	}
	return &v, true
}

// intValue is int without the pointer.
func (p *fastParser) intValue() (int64, bool) {
	p.ws()
	start := p.i
	if p.i < len(p.b) && p.b[p.i] == '-' {
		p.i++
	}
	digits := p.i
	for p.i < len(p.b) && p.b[p.i] >= '0' && p.b[p.i] <= '9' {
		p.i++
	}
	n := p.i - digits
	if n == 0 || (n > 1 && p.b[digits] == '0') {
		return 0, false
	}
	if p.i < len(p.b) {
		switch p.b[p.i] {
		case '.', 'e', 'E':
			return 0, false
		}
	}
	v, err := strconv.ParseInt(string(p.b[start:p.i]), 10, 64)
	return v, err == nil
}

// skipObject moves past an object, strings and nesting included; its caller
// checks the object with json.Valid.
func (p *fastParser) skipObject() bool {
	depth, inStr := 0, false
	for ; p.i < len(p.b); p.i++ {
		c := p.b[p.i]
		switch {
		case inStr:
			if c == '\\' {
				p.i++
			} else if c == '"' {
				inStr = false
			}
		case c == '"':
			inStr = true
		case c == '{' || c == '[':
			depth++
		case c == '}' || c == ']':
			depth--
			if depth == 0 {
				p.i++
				return true
			}
		}
	}
	return false
}
