package config

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"reflect"
	"sort"
	"strings"
)

// ErrConfig is matched by every configuration error.
var ErrConfig = errors.New("config: bad config")

// Error locates a configuration problem: the file, the line and column
// (1-based; 0 when unknown) and the field path (session.dimensions[1]).
type Error struct {
	File   string
	Line   int
	Column int
	Field  string
	Msg    string
	Err    error
}

func (e *Error) Error() string {
	where := e.File
	if e.Line > 0 {
		where = fmt.Sprintf("%s:%d:%d", e.File, e.Line, e.Column)
	}
	if e.Field != "" {
		where += ": " + e.Field
	}
	return where + ": " + e.Msg
}

func (e *Error) Unwrap() []error {
	if e.Err != nil {
		return []error{ErrConfig, e.Err}
	}
	return []error{ErrConfig}
}

// FieldError is a value that cannot be used, by its field path. Validate
// methods return it; Parse turns it into an *Error with file, line and
// column.
type FieldError struct {
	Path string
	Msg  string
}

func (e *FieldError) Error() string { return e.Path + ": " + e.Msg }

func (e *FieldError) Unwrap() error { return ErrConfig }

func fieldErr(path, format string, args ...any) error {
	return &FieldError{Path: path, Msg: fmt.Sprintf(format, args...)}
}

// open is implemented by schema structs whose unknown fields are accepted
// silently: blocks that PicoClaw or OpenClaw write with settings of theirs
// next to ours (agents.defaults, agents.list[] entries).
type open interface{ openFields() }

// selfChecked is implemented by schema types whose JSON has more than one
// shape (an identity link is an array or an object): checkJSON reports
// problems through c, by path, as walk would.
type selfChecked interface {
	checkJSON(c *checker, path string, v any)
}

var (
	selfCheckedType = reflect.TypeFor[selfChecked]()
	openType        = reflect.TypeFor[open]()
	unmarshalerType = reflect.TypeFor[json.Unmarshaler]()
	rawType         = reflect.TypeFor[json.RawMessage]()
)

// checker walks a decoded document against the schema's Go types before
// it is decoded into them: a wrong type is an error naming its path (with
// array indexes, which encoding/json's errors lack), an unknown field a
// warning. After it passes, json.Unmarshal into the schema cannot fail on
// shape.
type checker struct {
	warnings []string
	err      *FieldError
}

func (c *checker) fail(path, format string, args ...any) {
	if c.err == nil {
		c.err = &FieldError{Path: path, Msg: fmt.Sprintf(format, args...)}
	}
}

func join(path, key string) string {
	if path == "" {
		return key
	}
	return path + "." + key
}

func (c *checker) walk(path string, v any, t reflect.Type) {
	if c.err != nil {
		return
	}
	if v == nil {
		return // null: the field stays unset
	}
	if t == rawType {
		return
	}
	if t.Implements(selfCheckedType) {
		reflect.Zero(t).Interface().(selfChecked).checkJSON(c, path, v)
		return
	}
	if reflect.PointerTo(t).Implements(unmarshalerType) && t.Kind() != reflect.Struct {
		// Duration and the like check themselves.
		b, _ := json.Marshal(v)
		if err := reflect.New(t).Interface().(json.Unmarshaler).UnmarshalJSON(b); err != nil {
			c.fail(path, "%v", err)
		}
		return
	}
	switch t.Kind() {
	case reflect.Pointer:
		c.walk(path, v, t.Elem())
	case reflect.Struct:
		m, ok := v.(map[string]any)
		if !ok {
			c.fail(path, "want an object, got %s", kind(v))
			return
		}
		fields := jsonFields(t)
		isOpen := reflect.PointerTo(t).Implements(openType)
		for _, k := range sortedKeys(m) {
			f, ok := fields[k]
			if !ok {
				if !isOpen {
					c.warnings = append(c.warnings, join(path, k))
				}
				continue
			}
			c.walk(join(path, k), m[k], f)
		}
	case reflect.Map:
		m, ok := v.(map[string]any)
		if !ok {
			c.fail(path, "want an object, got %s", kind(v))
			return
		}
		for _, k := range sortedKeys(m) {
			c.walk(join(path, k), m[k], t.Elem())
		}
	case reflect.Slice:
		a, ok := v.([]any)
		if !ok {
			c.fail(path, "want an array%s, got %s", elemKind(t.Elem()), kind(v))
			return
		}
		for i, e := range a {
			c.walk(fmt.Sprintf("%s[%d]", path, i), e, t.Elem())
		}
	case reflect.String:
		if _, ok := v.(string); !ok {
			c.fail(path, "want a string, got %s", kind(v))
		}
	case reflect.Bool:
		if _, ok := v.(bool); !ok {
			c.fail(path, "want true or false, got %s", kind(v))
		}
	case reflect.Int, reflect.Int64:
		n, ok := v.(json.Number)
		if !ok {
			c.fail(path, "want a whole number, got %s", kind(v))
			return
		}
		if _, err := n.Int64(); err != nil {
			c.fail(path, "want a whole number, got %s", n)
		}
	case reflect.Float64:
		if _, ok := v.(json.Number); !ok {
			c.fail(path, "want a number, got %s", kind(v))
		}
	case reflect.Interface:
	default:
		c.fail(path, "unsupported schema type %s", t)
	}
}

func elemKind(t reflect.Type) string {
	if t.Kind() == reflect.String {
		return " of strings"
	}
	return ""
}

// jsonFields maps the JSON names of a struct's fields (embedded structs
// flattened) to their types.
func jsonFields(t reflect.Type) map[string]reflect.Type {
	out := map[string]reflect.Type{}
	for i := 0; i < t.NumField(); i++ {
		f := t.Field(i)
		tag := f.Tag.Get("json")
		name, _, _ := strings.Cut(tag, ",")
		if name == "-" {
			continue
		}
		if f.Anonymous && name == "" {
			for k, v := range jsonFields(f.Type) {
				if _, ok := out[k]; !ok {
					out[k] = v
				}
			}
			continue
		}
		if !f.IsExported() {
			continue
		}
		if name == "" {
			name = f.Name
		}
		out[name] = f.Type
	}
	return out
}

func sortedKeys[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}

func kind(v any) string {
	switch v.(type) {
	case nil:
		return "null"
	case bool:
		return "a boolean"
	case json.Number:
		return "a number"
	case string:
		return "a string"
	case []any:
		return "an array"
	case map[string]any:
		return "an object"
	}
	return fmt.Sprintf("%T", v)
}

// offsets maps each field path of a JSON document to the offset of its
// value, so that an error about a field can say its line and column.
func offsets(data []byte) map[string]int64 {
	out := map[string]int64{}
	dec := json.NewDecoder(bytes.NewReader(data))
	type frame struct {
		path    string
		array   bool
		index   int
		key     string
		wantKey bool
	}
	var stack []*frame
	for {
		// The value starts after the separators that follow the last token.
		start := dec.InputOffset()
		for start < int64(len(data)) && strings.IndexByte(" \t\r\n:,", data[start]) >= 0 {
			start++
		}
		tok, err := dec.Token()
		if err != nil {
			return out
		}
		if d, ok := tok.(json.Delim); ok && (d == '}' || d == ']') {
			stack = stack[:len(stack)-1]
			continue
		}
		var path string
		if n := len(stack); n > 0 {
			top := stack[n-1]
			switch {
			case top.array:
				path = fmt.Sprintf("%s[%d]", top.path, top.index)
				top.index++
			case top.wantKey:
				top.key, top.wantKey = tok.(string), false
				continue
			default:
				path, top.wantKey = join(top.path, top.key), true
			}
		}
		if _, seen := out[path]; !seen {
			out[path] = start
		}
		if d, ok := tok.(json.Delim); ok {
			stack = append(stack, &frame{path: path, array: d == '[', wantKey: d == '{'})
		}
	}
}

// lineCol turns a byte offset into a 1-based line and column (in bytes).
func lineCol(data []byte, off int64) (int, int) {
	if off > int64(len(data)) {
		off = int64(len(data))
	}
	line := 1 + bytes.Count(data[:off], []byte{'\n'})
	col := int(off) - bytes.LastIndexByte(data[:off], '\n')
	return line, col
}

// at locates a field path in data: the path itself, else its nearest
// parent that is in the document.
func at(offs map[string]int64, data []byte, path string) (int, int) {
	for p := path; ; {
		if off, ok := offs[p]; ok {
			return lineCol(data, off)
		}
		i := strings.LastIndexAny(p, ".[")
		if i < 0 {
			return 0, 0
		}
		p = p[:i]
	}
}
