package workspace

import (
	"bytes"
	"encoding/json"
	"strconv"
	"unicode/utf8"
)

// decodeRecord parses one line (without its '\n'). On failure it returns
// a hint for a CorruptError: what is wrong with the line.
func decodeRecord(line []byte) (Record, string) {
	var r Record
	if len(line) == 0 {
		return r, "empty line"
	}
	if i := bytes.IndexByte(line, 0); i >= 0 {
		return r, "NUL bytes at column " + strconv.Itoa(i+1) + " (a crash may have left zeroed blocks)"
	}
	if !utf8.Valid(line) {
		return r, "invalid UTF-8 (a character cut in half?)"
	}
	if !decodeFast(line, &r) {
		r = Record{}
		if err := json.Unmarshal(line, &r); err != nil {
			return Record{}, "not a JSON record: " + err.Error()
		}
	}
	if r.Type == "" {
		return Record{}, `no "type"`
	}
	if r.Seq < 1 {
		return Record{}, `no "seq" (or seq < 1)`
	}
	if r.At.IsZero() {
		return Record{}, `no "at"`
	}
	return r, ""
}

// peekHead reads type and seq from the start of a line written by this
// package ({"type":"...","seq":N,...) without decoding the rest. ok is
// false for any other shape; callers then decode the whole line.
func peekHead(line []byte) (typ string, seq int64, ok bool) {
	const p1, p2 = `{"type":"`, `","seq":`
	if !bytes.HasPrefix(line, []byte(p1)) {
		return "", 0, false
	}
	rest := line[len(p1):]
	q := bytes.IndexByte(rest, '"')
	if q <= 0 || q > 32 {
		return "", 0, false
	}
	typ = string(rest[:q])
	rest = rest[q:]
	if !bytes.HasPrefix(rest, []byte(p2)) {
		return "", 0, false
	}
	rest = rest[len(p2):]
	n := 0
	for n < len(rest) && n < 19 && rest[n] >= '0' && rest[n] <= '9' {
		seq = seq*10 + int64(rest[n]-'0')
		n++
	}
	if n == 0 || n >= len(rest) || rest[n] != ',' || seq < 1 {
		return "", 0, false
	}
	return typ, seq, true
}

// headOf returns type and seq of a line, decoding it fully when it does
// not have this package's shape. ok is false for a corrupt line.
func headOf(line []byte) (typ string, seq int64, ok bool) {
	if typ, seq, ok = peekHead(line); ok {
		return typ, seq, true
	}
	r, hint := decodeRecord(line)
	if hint != "" {
		return "", 0, false
	}
	return r.Type, r.Seq, true
}
