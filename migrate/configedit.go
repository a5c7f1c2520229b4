package migrate

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"syscall"

	udiff "github.com/aymanbagabas/go-udiff"
	"github.com/tidwall/gjson"

	"github.com/picosess/picosess/workspace"
)

// Merging the proposed session settings into an existing config.json
// edits its text: the members the proposal adds are inserted after the
// last member of the object they belong to, laid out like its other
// members (indentation, spacing around ':', line endings, one line or
// several), and nothing else of the file changes: comments cannot be
// there (config.json is strict JSON, which picosess reads before anything
// is written), key order, spacing, number spelling and unrelated keys stay
// byte for byte. Where the file cannot be edited in place safely (a
// symbolic link, a file with other hard links, a key that appears twice,
// a result that would not read back as the proposal's keying), the merged
// text is written beside it, as config.merged.json, and config.json is
// left as it is.

// ConfigBesideName is the file the merged config goes to when config.json
// cannot be edited in place safely.
const ConfigBesideName = "config.merged.json"

// ConfigEdit is what writing the proposed config into a workspace does,
// before it is done: the outcome, the file written, and the change as a
// unified diff of config.json.
type ConfigEdit struct {
	Change ConfigChange `json:"change"`
	// Path is the file written (config.json, or ConfigBesideName beside
	// it); "" when nothing is to be written.
	Path string `json:"path,omitempty"`
	// Diff is the change to config.json as a unified diff ("" when it is
	// written whole or left alone).
	Diff string `json:"diff,omitempty"`
	// Why says why config.json is not edited in place (ConfigBeside).
	Why string `json:"why,omitempty"`

	data []byte
	mode fs.FileMode
}

// errNotInPlace: the file cannot be edited in place safely.
var errNotInPlace = errors.New("cannot be edited in place safely")

// jsonMember is one member to add to a JSON object.
type jsonMember struct {
	Key   string
	Value json.RawMessage
}

// addMembers inserts members at the end of the object at top-level key
// parent ("" for the top-level object itself), laid out like that
// object's members (or, in an empty object, one level deeper than the line
// it opens on). The rest of doc is kept byte for byte. A member key
// already in the object, or a parent that appears twice, is errNotInPlace.
func addMembers(doc []byte, parent string, add []jsonMember) ([]byte, error) {
	top := gjson.ParseBytes(doc)
	if !top.IsObject() {
		return nil, fmt.Errorf("%w: the top level is not an object", errNotInPlace)
	}
	obj, start := top, bytes.IndexByte(doc, '{')
	if parent != "" {
		n := 0
		top.ForEach(func(k, v gjson.Result) bool {
			if k.String() == parent {
				n++
				obj, start = v, v.Index
			}
			return true
		})
		switch {
		case n == 0:
			return nil, fmt.Errorf("no %q object to add to", parent)
		case n > 1:
			return nil, fmt.Errorf("%w: %q appears %d times", errNotInPlace, parent, n)
		case !obj.IsObject() || start <= 0 || doc[start] != '{':
			return nil, fmt.Errorf("%w: %q is not an object", errNotInPlace, parent)
		}
	}
	type member struct{ key, value gjson.Result }
	var ms []member
	var dup string
	obj.ForEach(func(k, v gjson.Result) bool {
		for _, a := range add {
			if k.String() == a.Key {
				dup = a.Key
			}
		}
		ms = append(ms, member{k, v})
		return true
	})
	if dup != "" {
		return nil, fmt.Errorf("%w: %q is set already", errNotInPlace, dup)
	}
	nl := "\n"
	if bytes.Contains(doc, []byte("\r\n")) {
		nl = "\r\n"
	}
	end := start + len(obj.Raw) - 1 // the object's '}'
	if parent == "" {
		// the top level's Raw may hold the white space around it
		end = bytes.LastIndexByte(doc, '}')
	}
	var sep, colon, indent, unit string
	at := 0
	if len(ms) > 0 {
		first, last := ms[0], ms[len(ms)-1]
		lead := string(doc[start+1 : first.key.Index])
		sep = "," + lead
		if len(ms) > 1 {
			// what stands between two members (comma and layout)
			sep = string(doc[first.value.Index+len(first.value.Raw) : ms[1].key.Index])
		}
		colon = string(doc[first.key.Index+len(first.key.Raw) : first.value.Index])
		if i := strings.LastIndexAny(lead, "\n"); i >= 0 {
			indent = lead[i+1:]
		}
		unit = strings.TrimPrefix(indent, lineIndent(doc, start))
		at = last.value.Index + len(last.value.Raw)
	} else {
		// an empty object: one level deeper than its line, in the unit
		// the top level uses (two spaces when it shows none)
		unit = topUnit(top, doc)
		if parent == "" {
			unit = "  " // an empty file: laid out as picosess writes one
		}
		colon = ": "
		at = start + 1
		sep = ","
		if unit != "" {
			indent = lineIndent(doc, start) + unit
			sep = "," + nl + indent
		}
	}
	multiline := strings.Contains(sep, "\n")
	var b bytes.Buffer
	for i, a := range add {
		val := []byte(a.Value)
		var buf bytes.Buffer
		if multiline {
			if err := json.Indent(&buf, val, indent, unitOr(unit)); err != nil {
				return nil, fmt.Errorf("migrate: proposed %s: %w", a.Key, err)
			}
		} else if err := json.Compact(&buf, val); err != nil {
			return nil, fmt.Errorf("migrate: proposed %s: %w", a.Key, err)
		}
		key, _ := json.Marshal(a.Key)
		if len(ms) == 0 && i == 0 {
			b.WriteString(strings.TrimPrefix(sep, ","))
		} else {
			b.WriteString(sep)
		}
		b.Write(key)
		b.WriteString(colon)
		b.WriteString(strings.ReplaceAll(buf.String(), "\n", nl))
	}
	out := make([]byte, 0, len(doc)+b.Len()+8)
	out = append(out, doc[:at]...)
	out = append(out, b.Bytes()...)
	if len(ms) == 0 {
		// the empty object's inside is replaced; its '}' goes on its own
		// line when the members do
		if multiline {
			out = append(out, nl+lineIndent(doc, start)...)
		}
		out = append(out, doc[end:]...)
	} else {
		out = append(out, doc[at:]...)
	}
	return out, nil
}

func unitOr(u string) string {
	if u == "" {
		return "  "
	}
	return u
}

// lineIndent is the leading white space of the line holding offset i.
func lineIndent(doc []byte, i int) string {
	s := bytes.LastIndexByte(doc[:i], '\n') + 1
	e := s
	for e < len(doc) && (doc[e] == ' ' || doc[e] == '\t') {
		e++
	}
	return string(doc[s:e])
}

// topUnit is the indentation of the top-level members ("" when they are
// on the line of the '{').
func topUnit(top gjson.Result, doc []byte) string {
	u := ""
	top.ForEach(func(k, _ gjson.Result) bool {
		u = lineIndent(doc, k.Index)
		if bytes.LastIndexByte(doc[:k.Index], '\n') < bytes.IndexByte(doc, '{') {
			u = "" // on the first line
		}
		return false
	})
	return u
}

// planConfigEdit decides what writing the proposal into <root>/config.json
// does, and makes the text to write.
func planConfigEdit(root string, proposal json.RawMessage) (*ConfigEdit, error) {
	path := filepath.Join(root, workspace.ConfigFile)
	want, _, err := workspace.ParseConfig("proposed config", proposal)
	if err != nil {
		return nil, fmt.Errorf("migrate: proposed config: %w", err)
	}
	st, err := os.Lstat(path)
	if errors.Is(err, os.ErrNotExist) {
		return &ConfigEdit{Change: ConfigWritten, Path: path, data: proposal, mode: 0o644}, nil
	}
	if err != nil {
		return nil, fmt.Errorf("migrate: %s: %w", path, err)
	}
	old, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("migrate: read %s: %w", path, err)
	}
	have, _, err := workspace.ParseConfig(path, old)
	if err != nil {
		return nil, err
	}
	if SameKeying(have.Policy(), want.Policy()) {
		return &ConfigEdit{Change: ConfigUnchanged}, nil
	}
	var doc map[string]json.RawMessage
	if err := json.Unmarshal(old, &doc); err != nil {
		return nil, fmt.Errorf("migrate: read %s: %w", path, err)
	}
	var session map[string]json.RawMessage
	if raw, ok := doc["session"]; ok {
		if err := json.Unmarshal(raw, &session); err != nil {
			return nil, fmt.Errorf("migrate: read %s: session: %w", path, err)
		}
	}
	var set []string
	for _, f := range keyingFields {
		if _, ok := session[f]; ok {
			set = append(set, "session."+f)
		}
	}
	if len(set) > 0 || len(want.Agents.Dispatch.Rules) > 0 || len(have.Agents.Dispatch.Rules) > 0 {
		return nil, fmt.Errorf("%w: %s sets %s; the source install keys them as %s; nothing was written: edit config.json, or pass --config to choose the keying for this migration",
			ErrConfigConflict, path, strings.Join(set, ", "), oneLine(proposal))
	}
	var prop struct {
		Session json.RawMessage `json:"session"`
	}
	if err := json.Unmarshal(proposal, &prop); err != nil {
		return nil, fmt.Errorf("migrate: proposed config: %w", err)
	}
	members, err := orderedMembers(prop.Session)
	if err != nil {
		return nil, fmt.Errorf("migrate: proposed config: %w", err)
	}
	var merged []byte
	if session == nil {
		merged, err = addMembers(old, "", []jsonMember{{Key: "session", Value: prop.Session}})
	} else {
		merged, err = addMembers(old, "session", members)
	}
	e := &ConfigEdit{Change: ConfigMerged, Path: path, mode: st.Mode().Perm()}
	why := ""
	switch {
	case errors.Is(err, errNotInPlace):
		why = err.Error()
	case err != nil:
		return nil, err
	case st.Mode()&fs.ModeSymlink != 0:
		why = "it is a symbolic link (to a file kept elsewhere)"
	case hardLinks(st) > 1:
		why = fmt.Sprintf("it has %d hard links, which a rewrite would break", hardLinks(st))
	}
	if err == nil {
		// the merged text must read back as the proposal's keying
		got, _, perr := workspace.ParseConfig(path, merged)
		if perr != nil || !SameKeying(got.Policy(), want.Policy()) {
			why = "the merged text would not read back as the proposed keying"
		}
	}
	if why != "" {
		// laid out anew (sorted keys), beside it: config.json stays
		if merged, err = mergedWhole(old, prop.Session); err != nil {
			return nil, err
		}
		e.Change, e.Why = ConfigBeside, why
		e.Path = filepath.Join(root, ConfigBesideName)
		if real, err := os.Stat(path); err == nil {
			e.mode = real.Mode().Perm() // the target's, for a link
		}
	}
	e.data = merged
	e.Diff = udiff.Unified(workspace.ConfigFile, workspace.ConfigFile+" (merged)", string(old), string(merged))
	return e, nil
}

// orderedMembers are an object's members in the order written.
func orderedMembers(obj json.RawMessage) ([]jsonMember, error) {
	r := gjson.ParseBytes(obj)
	if !r.IsObject() {
		return nil, errors.New("session is not an object")
	}
	var out []jsonMember
	r.ForEach(func(k, v gjson.Result) bool {
		out = append(out, jsonMember{Key: k.String(), Value: json.RawMessage(v.Raw)})
		return true
	})
	return out, nil
}

// mergedWhole is the merged config re-encoded (what is written beside a
// config.json that cannot be edited in place).
func mergedWhole(old []byte, propSession json.RawMessage) ([]byte, error) {
	var doc map[string]json.RawMessage
	if err := json.Unmarshal(old, &doc); err != nil {
		return nil, fmt.Errorf("migrate: read config.json: %w", err)
	}
	var session, prop map[string]json.RawMessage
	if raw, ok := doc["session"]; ok {
		if err := json.Unmarshal(raw, &session); err != nil {
			return nil, fmt.Errorf("migrate: read config.json: session: %w", err)
		}
	}
	if err := json.Unmarshal(propSession, &prop); err != nil {
		return nil, fmt.Errorf("migrate: proposed config: %w", err)
	}
	if session == nil {
		session = map[string]json.RawMessage{}
	}
	for k, v := range prop {
		session[k] = v
	}
	sb, err := json.Marshal(session)
	if err != nil {
		return nil, err
	}
	doc["session"] = sb
	out, err := json.MarshalIndent(doc, "", "  ")
	if err != nil {
		return nil, err
	}
	return append(out, '\n'), nil
}

func hardLinks(fi fs.FileInfo) uint64 {
	if st, ok := fi.Sys().(*syscall.Stat_t); ok {
		return uint64(st.Nlink)
	}
	return 1
}

// write puts the edit's text in place: a new file through a temporary
// file and a rename, keeping the mode of the file it replaces (a config
// holding tokens stays private).
func (e *ConfigEdit) write() error {
	if e.Change == ConfigUnchanged || e.Path == "" {
		return nil
	}
	dir := filepath.Dir(e.Path)
	tmp, err := os.CreateTemp(dir, ".config.json.tmp-")
	if err != nil {
		return fmt.Errorf("migrate: write %s: %w", e.Path, err)
	}
	_, err = tmp.Write(e.data)
	if err == nil {
		err = tmp.Sync()
	}
	if cerr := tmp.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = os.Chmod(tmp.Name(), e.mode)
	}
	if err == nil {
		err = os.Rename(tmp.Name(), e.Path)
	}
	if err != nil {
		os.Remove(tmp.Name())
		return fmt.Errorf("migrate: write %s: %w", e.Path, err)
	}
	return nil
}
