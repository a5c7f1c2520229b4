package workspace

import (
	"encoding/json"
	"strconv"
	"unicode/utf16"
	"unicode/utf8"
)

// decodeFast parses the records this package writes (and any JSON object
// made only of Record's own keys, strings, integers, string arrays and a
// usage object of integers)
// about five times faster than encoding/json; tail reads decode every
// message they return, so it matters. It gives up — returns false — on
// anything else (a null, a scope, a key it does not know, a float), and
// the caller then uses encoding/json, so the two always agree: the fuzz
// test checks it.
func decodeFast(b []byte, r *Record) bool {
	p := fastParser{b: b}
	p.ws()
	if !p.byte('{') {
		return false
	}
	p.ws()
	if p.peek() == '}' {
		p.i++
		return p.end()
	}
	for {
		p.ws()
		key, ok := p.plainString()
		if !ok {
			return false
		}
		p.ws()
		if !p.byte(':') {
			return false
		}
		p.ws()
		if !p.field(key, r) {
			return false
		}
		p.ws()
		switch p.peek() {
		case ',':
			p.i++
		case '}':
			p.i++
			return p.end()
		default:
			return false
		}
	}
}

type fastParser struct {
	b []byte
	i int
}

func (p *fastParser) peek() byte {
	if p.i < len(p.b) {
		return p.b[p.i]
	}
	return 0
}

func (p *fastParser) byte(c byte) bool {
	if p.peek() != c {
		return false
	}
	p.i++
	return true
}

func (p *fastParser) ws() {
	for p.i < len(p.b) {
		switch p.b[p.i] {
		case ' ', '\t', '\r', '\n':
			p.i++
		default:
			return
		}
	}
}

func (p *fastParser) end() bool {
	p.ws()
	return p.i == len(p.b)
}

func (p *fastParser) field(key string, r *Record) bool {
	var ok bool
	switch key {
	case "type":
		r.Type, ok = p.string()
	case "seq":
		r.Seq, ok = p.int()
	case "at":
		start := p.i
		if _, ok = p.plainString(); ok {
			ok = r.At.UnmarshalJSON(p.b[start:p.i]) == nil
		}
	case "v":
		var v int64
		v, ok = p.int()
		r.V = int(v)
	case "tokens":
		var v int64
		v, ok = p.int()
		r.Tokens = int(v)
	case "through":
		r.Through, ok = p.int()
	case "checkpoint":
		r.Checkpoint, ok = p.int()
	case "id":
		r.ID, ok = p.string()
	case "name":
		r.Name, ok = p.string()
	case "role":
		r.Role, ok = p.string()
	case "content":
		r.Content, ok = p.string()
	case "sender":
		r.Sender, ok = p.string()
	case "model_name":
		r.ModelName, ok = p.string()
	case "reasoning_content":
		r.ReasoningContent, ok = p.string()
	case "tool_call_id":
		r.ToolCallID, ok = p.string()
	case "text":
		r.Text, ok = p.string()
	case "by":
		r.By, ok = p.string()
	case "reason":
		r.Reason, ok = p.string()
	case "rule":
		r.Rule, ok = p.string()
	case "trigger":
		r.Trigger, ok = p.string()
	case "description":
		r.Description, ok = p.string()
	case "aliases":
		r.Aliases, ok = p.strings()
	case "continues":
		r.Continues, ok = p.string()
	case "moved":
		r.Moved, ok = p.int()
	case "media":
		r.Media, ok = p.strings()
	case "origin":
		r.Origin, ok = p.raw()
	case "attachments":
		r.Attachments, ok = p.raw()
	case "system_parts":
		r.SystemParts, ok = p.raw()
	case "tool_calls":
		r.ToolCalls, ok = p.raw()
	case "usage":
		ok = p.usage(r)
	case "tool_name":
		r.ToolName, ok = p.string()
	case "is_error":
		r.IsError, ok = p.bool()
	case "key_id":
		r.KeyID, ok = p.string()
	case "enc":
		ok = p.sealed(r)
	}
	return ok
}

// usage reads a usage object of integers (not null). A second "usage" key
// fills the same Usage, as encoding/json does through the pointer.
func (p *fastParser) usage(r *Record) bool {
	if !p.byte('{') {
		return false
	}
	if r.Usage == nil {
		r.Usage = &Usage{}
	}
	u := r.Usage
	p.ws()
	if p.byte('}') {
		return true
	}
	for {
		p.ws()
		key, ok := p.plainString()
		if !ok {
			return false
		}
		p.ws()
		if !p.byte(':') {
			return false
		}
		p.ws()
		var dst *int
		switch key {
		case "input_tokens":
			dst = &u.InputTokens
		case "output_tokens":
			dst = &u.OutputTokens
		case "cache_read_tokens":
			dst = &u.CacheReadTokens
		case "cache_write_tokens":
			dst = &u.CacheWriteTokens
		default:
			return false
		}
		v, ok := p.int()
		if !ok || int64(int(v)) != v { // too big for an int: encoding/json says so
			return false
		}
		*dst = int(v)
		p.ws()
		if p.byte('}') {
			return true
		}
		if !p.byte(',') {
			return false
		}
	}
}

// bool reads true or false.
func (p *fastParser) bool() (bool, bool) {
	for _, lit := range []string{"true", "false"} {
		if len(p.b)-p.i >= len(lit) && string(p.b[p.i:p.i+len(lit)]) == lit {
			p.i += len(lit)
			return lit == "true", true
		}
	}
	return false, false
}

// plainString reads a string without escapes (keys, times).
func (p *fastParser) plainString() (string, bool) {
	if !p.byte('"') {
		return "", false
	}
	start := p.i
	for p.i < len(p.b) {
		c := p.b[p.i]
		switch {
		case c == '"':
			s := string(p.b[start:p.i])
			p.i++
			return s, true
		case c == '\\' || c < 0x20:
			return "", false
		}
		p.i++
	}
	return "", false
}

// string reads a JSON string, escapes included. The input is valid UTF-8
// (decodeRecord checks first).
func (p *fastParser) string() (string, bool) {
	if !p.byte('"') {
		return "", false
	}
	start := p.i
	for p.i < len(p.b) {
		c := p.b[p.i]
		if c == '"' {
			s := string(p.b[start:p.i])
			p.i++
			return s, true
		}
		if c == '\\' {
			break
		}
		if c < 0x20 {
			return "", false
		}
		p.i++
	}
	buf := make([]byte, 0, p.i-start+16)
	buf = append(buf, p.b[start:p.i]...)
	for p.i < len(p.b) {
		c := p.b[p.i]
		switch {
		case c == '"':
			p.i++
			return string(buf), true
		case c < 0x20:
			return "", false
		case c != '\\':
			buf = append(buf, c)
			p.i++
			continue
		}
		p.i++
		if p.i >= len(p.b) {
			return "", false
		}
		e := p.b[p.i]
		p.i++
		switch e {
		case '"', '\\', '/':
			buf = append(buf, e)
		case 'b':
			buf = append(buf, '\b')
		case 'f':
			buf = append(buf, '\f')
		case 'n':
			buf = append(buf, '\n')
		case 'r':
			buf = append(buf, '\r')
		case 't':
			buf = append(buf, '\t')
		case 'u':
			r1, ok := p.hex4()
			if !ok {
				return "", false
			}
			if utf16.IsSurrogate(r1) {
				// A pair, as encoding/json decodes it; a lone half is U+FFFD.
				if p.i+6 <= len(p.b) && p.b[p.i] == '\\' && p.b[p.i+1] == 'u' {
					save := p.i
					p.i += 2
					r2, ok := p.hex4()
					if ok {
						if dec := utf16.DecodeRune(r1, r2); dec != utf8.RuneError {
							buf = utf8.AppendRune(buf, dec)
							continue
						}
					}
					p.i = save
				}
				r1 = utf8.RuneError
			}
			buf = utf8.AppendRune(buf, r1)
		default:
			return "", false
		}
	}
	return "", false
}

func (p *fastParser) hex4() (rune, bool) {
	if p.i+4 > len(p.b) {
		return 0, false
	}
	var r rune
	for _, c := range p.b[p.i : p.i+4] {
		switch {
		case '0' <= c && c <= '9':
			c -= '0'
		case 'a' <= c && c <= 'f':
			c = c - 'a' + 10
		case 'A' <= c && c <= 'F':
			c = c - 'A' + 10
		default:
			return 0, false
		}
		r = r*16 + rune(c)
	}
	p.i += 4
	return r, true
}

// int reads an integer literal of at most 18 digits.
func (p *fastParser) int() (int64, bool) {
	start := p.i
	if p.peek() == '-' {
		p.i++
	}
	digits := p.i
	for p.i < len(p.b) && p.b[p.i] >= '0' && p.b[p.i] <= '9' {
		p.i++
	}
	n := p.i - digits
	if n == 0 || n > 18 || n > 1 && p.b[digits] == '0' {
		return 0, false
	}
	switch p.peek() {
	case '.', 'e', 'E':
		return 0, false
	}
	v, err := strconv.ParseInt(string(p.b[start:p.i]), 10, 64)
	return v, err == nil
}

// strings reads an array of strings (not null).
func (p *fastParser) strings() ([]string, bool) {
	if !p.byte('[') {
		return nil, false
	}
	out := []string{}
	p.ws()
	if p.byte(']') {
		return out, true
	}
	for {
		p.ws()
		s, ok := p.string()
		if !ok {
			return nil, false
		}
		out = append(out, s)
		p.ws()
		if p.byte(']') {
			return out, true
		}
		if !p.byte(',') {
			return nil, false
		}
	}
}

// raw reads an object or array, checked with json.Valid and copied
// verbatim, as encoding/json fills a json.RawMessage.
func (p *fastParser) raw() (json.RawMessage, bool) {
	open := p.peek()
	if open != '{' && open != '[' {
		return nil, false
	}
	start, depth := p.i, 0
	for p.i < len(p.b) {
		c := p.b[p.i]
		p.i++
		switch c {
		case '"':
			for p.i < len(p.b) && p.b[p.i] != '"' {
				if p.b[p.i] == '\\' {
					p.i++
				}
				p.i++
			}
			p.i++
		case '{', '[':
			depth++
		case '}', ']':
			depth--
			if depth == 0 {
				v := p.b[start:p.i]
				if !json.Valid(v) {
					return nil, false
				}
				return append(json.RawMessage(nil), v...), true
			}
		}
	}
	return nil, false
}
