package workspace

import (
	"bytes"
	"encoding/json"
	"fmt"
	"sort"
	"strconv"
	"time"
	"unicode/utf8"

	"github.com/picosess/picosess/keying"
)

// The encoder is written by hand for two reasons: the field order is part
// of the format (type, seq, at first, then the fields of the type), and
// messages always carry "content", even when it is empty, as PicoClaw's
// messages do. It is also several times faster than encoding/json, which
// matters on the append path.

// MarshalJSON encodes r in the on-disk form: one JSON object, no newline.
// It writes a record read from a file as it was read (show --json,
// exports), so it holds r to nothing appendRecord checks for writers.
func (r Record) MarshalJSON() ([]byte, error) {
	return encodeRecord(nil, &r)
}

// appendRecord appends the JSON form of a record about to be written to a
// session file (without the newline) to b, refusing what no writer may
// write: usage on anything but an assistant message, negative counts.
func appendRecord(b []byte, r *Record) ([]byte, error) {
	if err := r.usageError(); err != nil {
		return nil, err
	}
	return encodeRecord(b, r)
}

// encodeRecord appends the JSON form of r (without the newline) to b.
func encodeRecord(b []byte, r *Record) ([]byte, error) {
	b, err := encodeFields(b, r, false)
	if err != nil {
		return nil, err
	}
	return append(b, '}'), nil
}

// encodeFields appends r's JSON object without its closing brace. With
// clearOnly, only the fields a sealed record keeps in clear (what
// listing, check, repair, the fold and the seq cache use;
// docs/encryption.md lists them), in the same order: the rest is in its
// sealed box (encrypt.go).
func encodeFields(b []byte, r *Record, clearOnly bool) ([]byte, error) {
	all := !clearOnly
	b = append(b, `{"type":`...)
	b = appendString(b, r.Type)
	b = append(b, `,"seq":`...)
	b = strconv.AppendInt(b, r.Seq, 10)
	b = append(b, `,"at":"`...)
	b = r.At.UTC().AppendFormat(b, time.RFC3339Nano)
	b = append(b, '"')
	var err error
	switch r.Type {
	case TypeSession:
		b = appendIntField(b, "v", int64(r.V))
		b = appendStringField(b, "id", r.ID)
		if r.Scope != nil {
			b = append(b, `,"scope":`...)
			b = appendScope(b, r.Scope)
		}
		if len(r.Aliases) > 0 {
			b = append(b, `,"aliases":`...)
			b = appendStrings(b, r.Aliases)
		}
		b = appendStringField(b, "name", r.Name)
		b = appendStringField(b, "key_id", r.KeyID)
		if all {
			if b, err = appendRawField(b, "origin", r.Origin); err != nil {
				return nil, err
			}
		}
	case TypeMessage:
		b = appendStringField(b, "role", r.Role)
		if all {
			b = append(b, `,"content":`...)
			b = appendString(b, r.Content)
			b = appendStringField(b, "sender", r.Sender)
		}
		b = appendStringField(b, "model_name", r.ModelName)
		if all {
			if len(r.Media) > 0 {
				b = append(b, `,"media":`...)
				b = appendStrings(b, r.Media)
			}
			if b, err = appendRawField(b, "attachments", r.Attachments); err != nil {
				return nil, err
			}
			b = appendStringField(b, "reasoning_content", r.ReasoningContent)
			if b, err = appendRawField(b, "system_parts", r.SystemParts); err != nil {
				return nil, err
			}
			if b, err = appendRawField(b, "tool_calls", r.ToolCalls); err != nil {
				return nil, err
			}
			b = appendStringField(b, "tool_call_id", r.ToolCallID)
		}
		b = appendIntField(b, "tokens", int64(r.Tokens))
		if r.Usage != nil {
			b = append(b, `,"usage":`...)
			b = appendUsage(b, r.Usage)
		}
		if all {
			b = appendStringField(b, "tool_name", r.ToolName)
		}
		if r.IsError {
			b = append(b, `,"is_error":true`...)
		}
	case TypeSummary:
		b = appendIntField(b, "through", r.Through)
		if all {
			b = append(b, `,"text":`...)
			b = appendString(b, r.Text)
		}
		b = appendIntField(b, "tokens", int64(r.Tokens))
		b = appendStringField(b, "by", r.By)
	case TypeTitle:
		if all {
			b = append(b, `,"text":`...)
			b = appendString(b, r.Text)
		}
	case TypeReset:
		b = appendStringField(b, "reason", r.Reason)
		b = appendStringField(b, "rule", r.Rule)
		b = appendStringField(b, "trigger", r.Trigger)
	case TypeCheckpoint:
		if all {
			b = append(b, `,"name":`...)
			b = appendString(b, r.Name)
			b = appendStringField(b, "description", r.Description)
		}
		b = append(b, `,"through":`...)
		b = strconv.AppendInt(b, r.Through, 10)
	case TypeRestore, TypeCheckpointDelete:
		b = append(b, `,"checkpoint":`...)
		b = strconv.AppendInt(b, r.Checkpoint, 10)
	case TypeAliases:
		b = append(b, `,"aliases":`...)
		b = appendStrings(b, r.Aliases)
		b = appendStringField(b, "continues", r.Continues)
		b = appendIntField(b, "moved", r.Moved)
	case TypeUntrash:
	default:
		return nil, fmt.Errorf("workspace: cannot encode record of unknown type %q", r.Type)
	}
	return b, nil
}

func appendStringField(b []byte, name, v string) []byte {
	if v == "" {
		return b
	}
	b = append(b, ',', '"')
	b = append(b, name...)
	b = append(b, '"', ':')
	return appendString(b, v)
}

func appendIntField(b []byte, name string, v int64) []byte {
	if v == 0 {
		return b
	}
	b = append(b, ',', '"')
	b = append(b, name...)
	b = append(b, '"', ':')
	return strconv.AppendInt(b, v, 10)
}

// appendRawField appends a caller-supplied JSON value. It must be valid
// JSON, and it is compacted: an indented value would break the one record
// per line rule.
func appendRawField(b []byte, name string, v json.RawMessage) ([]byte, error) {
	if len(v) == 0 {
		return b, nil
	}
	b = append(b, ',', '"')
	b = append(b, name...)
	b = append(b, '"', ':')
	// Compact always: valid JSON with stray spaces or newlines becomes one
	// canonical line, and invalid JSON is refused before it reaches a file.
	if !utf8.Valid(v) {
		return nil, fmt.Errorf("workspace: field %q is not valid UTF-8", name)
	}
	buf := bytes.NewBuffer(make([]byte, 0, len(v)))
	if err := json.Compact(buf, v); err != nil {
		return nil, fmt.Errorf("workspace: field %q is not valid JSON: %w", name, err)
	}
	return append(b, buf.Bytes()...), nil
}

func appendStrings(b []byte, vs []string) []byte {
	b = append(b, '[')
	for i, v := range vs {
		if i > 0 {
			b = append(b, ',')
		}
		b = appendString(b, v)
	}
	return append(b, ']')
}

// appendUsage writes a usage object: input and output always (a usage
// object says the model reported both), the prompt-cache counts when not 0.
func appendUsage(b []byte, u *Usage) []byte {
	b = append(b, `{"input_tokens":`...)
	b = strconv.AppendInt(b, int64(u.InputTokens), 10)
	b = append(b, `,"output_tokens":`...)
	b = strconv.AppendInt(b, int64(u.OutputTokens), 10)
	b = appendIntField(b, "cache_read_tokens", int64(u.CacheReadTokens))
	b = appendIntField(b, "cache_write_tokens", int64(u.CacheWriteTokens))
	return append(b, '}')
}

// appendScope writes a scope as PicoClaw's meta files do: every field
// present, dimensions and values null when empty, values sorted by key.
func appendScope(b []byte, s *keying.Scope) []byte {
	b = append(b, `{"version":`...)
	b = strconv.AppendInt(b, int64(s.Version), 10)
	b = append(b, `,"agent_id":`...)
	b = appendString(b, s.AgentID)
	b = append(b, `,"channel":`...)
	b = appendString(b, s.Channel)
	b = append(b, `,"account":`...)
	b = appendString(b, s.Account)
	b = append(b, `,"dimensions":`...)
	if s.Dimensions == nil {
		b = append(b, "null"...)
	} else {
		b = appendStrings(b, s.Dimensions)
	}
	b = append(b, `,"values":`...)
	if s.Values == nil {
		b = append(b, "null"...)
	} else {
		keys := make([]string, 0, len(s.Values))
		for k := range s.Values {
			keys = append(keys, k)
		}
		sort.Strings(keys)
		b = append(b, '{')
		for i, k := range keys {
			if i > 0 {
				b = append(b, ',')
			}
			b = appendString(b, k)
			b = append(b, ':')
			b = appendString(b, s.Values[k])
		}
		b = append(b, '}')
	}
	return append(b, '}')
}

const hexDigits = "0123456789abcdef"

// appendString appends s as a JSON string. Control characters are escaped
// (so no record can contain a raw newline), and invalid UTF-8 becomes
// U+FFFD, as encoding/json does, so the file is always valid UTF-8.
func appendString(b []byte, s string) []byte {
	b = append(b, '"')
	start := 0
	for i := 0; i < len(s); {
		c := s[i]
		if c < utf8.RuneSelf {
			if c >= 0x20 && c != '"' && c != '\\' {
				i++
				continue
			}
			b = append(b, s[start:i]...)
			switch c {
			case '"', '\\':
				b = append(b, '\\', c)
			case '\n':
				b = append(b, '\\', 'n')
			case '\r':
				b = append(b, '\\', 'r')
			case '\t':
				b = append(b, '\\', 't')
			default:
				b = append(b, '\\', 'u', '0', '0', hexDigits[c>>4], hexDigits[c&0xf])
			}
			i++
			start = i
			continue
		}
		r, size := utf8.DecodeRuneInString(s[i:])
		if r == utf8.RuneError && size == 1 {
			b = append(b, s[start:i]...)
			b = append(b, `\ufffd`...)
			i += size
			start = i
			continue
		}
		// U+2028 and U+2029 are valid JSON but end lines in JavaScript.
		if r == '\u2028' || r == '\u2029' {
			b = append(b, s[start:i]...)
			b = append(b, '\\', 'u', '2', '0', '2', hexDigits[r&0xf])
			i += size
			start = i
			continue
		}
		i += size
	}
	b = append(b, s[start:]...)
	return append(b, '"')
}
