package migrate

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"path/filepath"
)

// readSource reads one legacy file whole, read-only, and describes it.
// Files are never opened for writing anywhere in this package.
func readSource(root, rel string) ([]byte, FileInfo, error) {
	p := filepath.Join(root, filepath.FromSlash(rel))
	f, err := os.Open(p)
	if err != nil {
		return nil, FileInfo{}, fmt.Errorf("migrate: read %s: %w", p, err)
	}
	defer f.Close()
	st, err := f.Stat()
	if err != nil {
		return nil, FileInfo{}, fmt.Errorf("migrate: stat %s: %w", p, err)
	}
	data, err := io.ReadAll(f)
	if err != nil {
		return nil, FileInfo{}, fmt.Errorf("migrate: read %s: %w", p, err)
	}
	sum := sha256.Sum256(data)
	return data, FileInfo{Path: rel, Size: int64(len(data)), ModTime: st.ModTime().UTC(), SHA256: hex.EncodeToString(sum[:])}, nil
}

// rawLine is one line of a JSONL file, without its newline.
type rawLine struct {
	no   int   // 1-based
	off  int64 // byte offset of its first byte
	data []byte
	torn bool // last line of the file, without a final newline
}

// splitLines cuts b into lines of any length (upstream readers choke on
// lines over 10 MB; the writer has no limit). Blank lines are kept so that
// line numbers stay true; callers skip them.
func splitLines(b []byte) []rawLine {
	var out []rawLine
	var off int64
	no := 0
	for len(b) > 0 {
		no++
		i := bytes.IndexByte(b, '\n')
		if i < 0 {
			out = append(out, rawLine{no: no, off: off, data: b, torn: true})
			break
		}
		out = append(out, rawLine{no: no, off: off, data: b[:i]})
		off += int64(i + 1)
		b = b[i+1:]
	}
	return out
}

func isBlank(b []byte) bool { return len(bytes.TrimSpace(b)) == 0 }

type span struct{ start, end int }

// salvageObjects finds the complete JSON objects in a line that does not
// parse as one: a torn write glued to the next line
// (`{"role":"user","content":"incomple{"role":"user",…}`), or two complete
// objects missing the newline between them. Candidates start at each
// occurrence of marker; each complete object found is kept, and the bytes
// between them are returned as bad spans to set aside.
func salvageObjects(line []byte, marker []byte) (objs, bad []span) {
	cursor := 0
	for s := 0; s < len(line); {
		i := bytes.Index(line[s:], marker)
		if i < 0 {
			break
		}
		start := s + i
		dec := json.NewDecoder(bytes.NewReader(line[start:]))
		var raw json.RawMessage
		if err := dec.Decode(&raw); err == nil && len(raw) > 0 && raw[0] == '{' {
			end := start + int(dec.InputOffset())
			if start > cursor && !isBlank(line[cursor:start]) {
				bad = append(bad, span{cursor, start})
			}
			objs = append(objs, span{start, end})
			cursor = end
			s = end
			continue
		}
		s = start + 1
	}
	if cursor < len(line) && !isBlank(line[cursor:]) {
		bad = append(bad, span{cursor, len(line)})
	}
	return objs, bad
}

// jsonLine is one object recovered from a JSONL file.
type jsonLine struct {
	no   int
	off  int64
	data []byte
}

// readJSONL returns every complete object of a JSONL file, salvaging glued
// and torn lines, and the bytes it could not read. marker is how an object
// of this format begins (`{"role":"`, `{"type":"`).
func readJSONL(rel string, data []byte, marker string) (objs []jsonLine, bad []SetAside) {
	for _, l := range splitLines(data) {
		if isBlank(l.data) {
			continue
		}
		if json.Valid(l.data) && bytes.HasPrefix(bytes.TrimSpace(l.data), []byte("{")) {
			objs = append(objs, jsonLine{no: l.no, off: l.off, data: l.data})
			continue
		}
		good, spans := salvageObjects(l.data, []byte(marker))
		for _, g := range good {
			objs = append(objs, jsonLine{no: l.no, off: l.off + int64(g.start), data: l.data[g.start:g.end]})
		}
		for _, b := range spans {
			reason := "unparsable line"
			switch {
			case l.torn && b.end == len(l.data):
				reason = "torn last line (no final newline)"
			case len(good) > 0:
				reason = "torn write glued to the next record"
			}
			bad = append(bad, SetAside{
				Path: rel, Line: l.no, Offset: l.off + int64(b.start), Length: int64(b.end - b.start),
				Reason: reason, Data: append([]byte(nil), l.data[b.start:b.end]...),
			})
		}
	}
	return objs, bad
}

// salvageArray reads the elements of a JSON array that may be cut short (a
// crash during a plain write) or followed by stray bytes ("Extra data" from
// two writers). It returns the complete elements, the offset just after the
// last byte read, and whether the array was complete.
func salvageArray(data []byte, start int) (elems []json.RawMessage, end int, complete bool) {
	dec := json.NewDecoder(bytes.NewReader(data[start:]))
	tok, err := dec.Token()
	if err != nil || tok != json.Delim('[') {
		return nil, start, false
	}
	end = start + int(dec.InputOffset())
	for dec.More() {
		var raw json.RawMessage
		if err := dec.Decode(&raw); err != nil {
			return elems, end, false
		}
		elems = append(elems, raw)
		end = start + int(dec.InputOffset())
	}
	if _, err := dec.Token(); err != nil {
		return elems, end, false
	}
	return elems, start + int(dec.InputOffset()), true
}

// firstValueEnd returns the end offset of the first JSON value in data, or
// -1 if data does not start with a complete value.
func firstValueEnd(data []byte) int {
	dec := json.NewDecoder(bytes.NewReader(data))
	var raw json.RawMessage
	if err := dec.Decode(&raw); err != nil {
		return -1
	}
	return int(dec.InputOffset())
}

// objectsIn finds complete JSON objects holding field in stray bytes (the
// tail of a longer array left behind an overwrite), so that messages in
// them are not lost.
func objectsIn(data []byte, field string) []span {
	var out []span
	for s := 0; s < len(data); {
		i := bytes.IndexByte(data[s:], '{')
		if i < 0 {
			break
		}
		start := s + i
		dec := json.NewDecoder(bytes.NewReader(data[start:]))
		var m map[string]json.RawMessage
		if err := dec.Decode(&m); err == nil {
			if _, ok := m[field]; ok {
				end := start + int(dec.InputOffset())
				out = append(out, span{start, end})
				s = end
				continue
			}
		}
		s = start + 1
	}
	return out
}
