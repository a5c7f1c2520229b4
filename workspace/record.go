package workspace

import (
	"encoding/json"
	"time"

	"github.com/picosess/picosess/keying"
)

// FormatVersion is the "v" of session headers written by this package.
const FormatVersion = 1

// Record types. Every line of a session file is one record.
const (
	TypeSession    = "session"
	TypeMessage    = "message"
	TypeSummary    = "summary"
	TypeTitle      = "title"
	TypeReset      = "reset"
	TypeCheckpoint = "checkpoint"
	TypeRestore    = "restore"
	// TypeCheckpointDelete withdraws the checkpoint whose seq is in
	// Checkpoint (the file is append-only); docs/format.md explains it.
	TypeCheckpointDelete = "checkpoint_delete"
	// TypeAliases adds legacy keys the session answers to, beyond those of
	// its header (a routing change, a shared session reached from a new
	// channel), without a new file.
	TypeAliases = "aliases"
	// TypeUntrash says the session came back from the trash (rm --restore,
	// RestoreFromTrash) at its time: cleanup counts a session's idle time
	// from it when it is later than the last message, so that a session
	// brought back is not moved again by the next cleanup.
	TypeUntrash = "untrash"
)

// Message roles.
const (
	RoleUser      = "user"
	RoleAssistant = "assistant"
	RoleSystem    = "system"
	RoleTool      = "tool"
	// RoleDeveloper and RoleFunction are the OpenAI-compatible APIs' names
	// for instructions (a system message of newer models) and for a
	// function result (the older form of a tool result); stored as given.
	RoleDeveloper = "developer"
	RoleFunction  = "function"
)

// Reset reasons.
const (
	ReasonManual   = "manual"
	ReasonDaily    = "daily"
	ReasonIdle     = "idle"
	ReasonClear    = "clear"
	ReasonImported = "imported"
)

// Record is one line of a session file. Which fields are meaningful depends
// on Type (see docs/format.md); the JSON form always starts with type, seq
// and at, in that order, and carries only the fields of its type.
type Record struct {
	Type string    `json:"type"`
	Seq  int64     `json:"seq"`
	At   time.Time `json:"at"`

	// session (header)
	V       int             `json:"v,omitempty"`
	ID      string          `json:"id,omitempty"`
	Scope   *keying.Scope   `json:"scope,omitempty"`
	Aliases []string        `json:"aliases,omitempty"`
	Name    string          `json:"name,omitempty"`   // named sessions only
	Origin  json.RawMessage `json:"origin,omitempty"` // migrated sessions only
	// KeyID names the master key of an encrypted session (its
	// fingerprint, never the key; docs/encryption.md).
	KeyID string `json:"key_id,omitempty"`

	// message; PicoClaw's optional message fields are carried unchanged.
	Role             string          `json:"role,omitempty"`
	Content          string          `json:"content,omitempty"`
	Sender           string          `json:"sender,omitempty"`
	ModelName        string          `json:"model_name,omitempty"`
	Media            []string        `json:"media,omitempty"`
	Attachments      json.RawMessage `json:"attachments,omitempty"`
	ReasoningContent string          `json:"reasoning_content,omitempty"`
	SystemParts      json.RawMessage `json:"system_parts,omitempty"`
	ToolCalls        json.RawMessage `json:"tool_calls,omitempty"`
	ToolCallID       string          `json:"tool_call_id,omitempty"`

	// summary
	Through int64  `json:"through,omitempty"`
	Text    string `json:"text,omitempty"` // summary and title text
	By      string `json:"by,omitempty"`

	// message and summary
	Tokens int `json:"tokens,omitempty"`

	// message: the token usage the model reported for this reply
	// (assistant messages only; see Usage)
	Usage *Usage `json:"usage,omitempty"`

	// message (tool result): the name of the tool that produced it and
	// whether the tool reported a failure, as the caller or the legacy
	// source stated them (a failure stored as a success stays one)
	ToolName string `json:"tool_name,omitempty"`
	IsError  bool   `json:"is_error,omitempty"`

	// reset: why, and for automatic and trigger resets the rule that fired
	// and the trigger word
	Reason  string `json:"reason,omitempty"`
	Rule    string `json:"rule,omitempty"`
	Trigger string `json:"trigger,omitempty"`

	// checkpoint (Name above is reused for the checkpoint's name)
	Description string `json:"description,omitempty"`

	// restore and checkpoint_delete: seq of the checkpoint record
	Checkpoint int64 `json:"checkpoint,omitempty"`

	// aliases: the id of the session this one continues (Continue); the
	// aliases are that session's keys, answered here from now on.
	Continues string `json:"continues,omitempty"`
	// Moved (aliases with Continues): the records after this one, up to
	// Moved of them, were moved here from the continued session, which
	// went to the trash (an imported conversation adopted by the route the
	// assistant uses now; SessionForRoute).
	Moved int64 `json:"moved,omitempty"`

	// Sealed is the box of a record of an encrypted session (nonce,
	// AES-256-GCM ciphertext of the whole record, tag) as read from the
	// file. The read API opens it before returning the record, so callers
	// see it only on records they decoded themselves.
	Sealed []byte `json:"enc,omitempty"`
}

// Usage is the token usage a model reported for the reply an assistant
// message holds, as its API reported it: the provider's counts, which
// picosess keeps but never computes (Tokens is picosess's own count of the
// stored text). Whether InputTokens includes the cached tokens depends on
// the provider (OpenAI's prompt_tokens does, Anthropic's input_tokens does
// not); the counts are stored as given.
type Usage struct {
	InputTokens  int `json:"input_tokens"`
	OutputTokens int `json:"output_tokens"`
	// CacheReadTokens and CacheWriteTokens are the prompt-cache counts of
	// providers that report them (0: not reported).
	CacheReadTokens  int `json:"cache_read_tokens,omitempty"`
	CacheWriteTokens int `json:"cache_write_tokens,omitempty"`
}

// WithUsage returns r carrying the token usage the model reported for it:
// in input (prompt) tokens, out output (completion) tokens.
//
//	s.Append(ctx, workspace.AssistantMessage("gpt-5.4", reply).WithUsage(1200, 85))
//
// Prompt-cache counts go in the fields of Usage: r.Usage = &workspace.Usage{...}.
// Append refuses usage on a record that is not an assistant message, and
// negative counts.
func (r Record) WithUsage(in, out int) Record {
	r.Usage = &Usage{InputTokens: in, OutputTokens: out}
	return r
}

// usageError says why r may not be written with its usage (a
// *RecordError, ErrInvalidRecord): only an assistant message carries one
// (the model's reply is what it was reported for), and no count is
// negative. Readers take usage wherever a file has it; only writers are
// held to this.
func (r *Record) usageError() error {
	u := r.Usage
	switch {
	case u == nil:
		return nil
	case r.Type != TypeMessage || r.Role != RoleAssistant:
		return invalid(r.Type, "usage", "only an assistant message carries the usage a model reported, not a %s", r.describe())
	}
	for _, f := range []struct {
		name string
		n    int
	}{{"input_tokens", u.InputTokens}, {"output_tokens", u.OutputTokens},
		{"cache_read_tokens", u.CacheReadTokens}, {"cache_write_tokens", u.CacheWriteTokens}} {
		if f.n < 0 {
			return invalid(r.Type, "usage", "%s %d: token counts cannot be negative", f.name, f.n)
		}
	}
	return nil
}

// describe names the kind of record r is, for errors: "user message",
// "summary record".
func (r *Record) describe() string {
	if r.Type == TypeMessage {
		return r.Role + " message"
	}
	return r.Type + " record"
}
