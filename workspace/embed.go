package workspace

import (
	"context"
	"encoding/json"
	"fmt"
	"slices"
	"time"

	"github.com/picosess/picosess/keying"
)

// What an assistant embedding the workspace calls: route an inbound
// message to its session, build records without filling the Record union
// by hand, and read-modify-write a session under its lock.

// UserMessage is a message from the user; sender is the raw sender id ("" if
// none).
func UserMessage(sender, content string) Record {
	return Record{Type: TypeMessage, Role: RoleUser, Sender: sender, Content: content}
}

// AssistantMessage is the assistant's reply; model names the model that
// wrote it ("" if unknown).
func AssistantMessage(model, content string) Record {
	return Record{Type: TypeMessage, Role: RoleAssistant, ModelName: model, Content: content}
}

// SystemMessage is an instruction to the model.
func SystemMessage(content string) Record {
	return Record{Type: TypeMessage, Role: RoleSystem, Content: content}
}

// ToolCall is one call an assistant message asks for, as the OpenAI
// chat API spells it.
type ToolCall struct {
	ID        string // the id its result answers (tool_call_id)
	Name      string // the function
	Arguments string // its arguments, JSON text
}

// ToolCallMessage is an assistant message that calls tools (content may be
// ""); each call's result is a ToolResult with its ID.
func ToolCallMessage(model, content string, calls ...ToolCall) Record {
	type fn struct {
		Name      string `json:"name"`
		Arguments string `json:"arguments"`
	}
	type call struct {
		ID       string `json:"id"`
		Type     string `json:"type"`
		Function fn     `json:"function"`
	}
	out := make([]call, len(calls))
	for i, c := range calls {
		args := c.Arguments
		if args == "" {
			args = "{}"
		}
		out[i] = call{ID: c.ID, Type: "function", Function: fn{Name: c.Name, Arguments: args}}
	}
	raw, _ := json.Marshal(out) // strings only: cannot fail
	r := AssistantMessage(model, content)
	r.ToolCalls = raw
	return r
}

// ToolResult is the result of the tool call callID.
func ToolResult(callID, content string) Record {
	return Record{Type: TypeMessage, Role: RoleTool, ToolCallID: callID, Content: content}
}

// SentAt returns r dated t (when it was actually sent, for a message queued
// offline or backfilled); AppendTurn evaluates the lifecycle policy at that
// time and refuses a time before the session's last record.
func (r Record) SentAt(t time.Time) Record {
	r.At = t.UTC()
	return r
}

// resolver is the keying resolver of the workspace config, built once.
func (w *Workspace) resolver() (*keying.Resolver, error) {
	w.resolveOnce.Do(func() {
		w.resolve, w.resolveErr = keying.NewResolver(w.opts.Config.Policy())
	})
	return w.resolve, w.resolveErr
}

// Route says which session an inbound message of agent belongs to under the
// workspace config (dimensions, dm_scope, identity links, dispatch rules),
// exactly as picosess key does; agent "" is the default agent (or the one a
// dispatch rule picks). It reads nothing.
func (w *Workspace) Route(agent string, in keying.Inbound) (keying.Route, error) {
	r, err := w.resolver()
	if err != nil {
		return keying.Route{}, fmt.Errorf("workspace: route: %w", err)
	}
	return r.Resolve(agent, in)
}

// SessionFor routes an inbound message (Route) and returns its session,
// created with its scope and aliases if new (SessionForRoute).
//
//	s, err := w.SessionFor(ctx, "", keying.Inbound{Channel: "telegram", ChatID: "123", SenderID: "123"})
//	turn, err := s.AppendTurn(ctx, workspace.UserMessage("123", "hi"))
func (w *Workspace) SessionFor(ctx context.Context, agent string, in keying.Inbound) (*Session, error) {
	r, err := w.Route(agent, in)
	if err != nil {
		return nil, err
	}
	return w.SessionForRoute(ctx, r)
}

// AddAliases records legacy keys the session answers to beyond the ones it
// has (header and earlier aliases records), with one aliases record; keys
// it has already are skipped, and nothing is written when none is new.
// Lookup then finds the session by them.
func (s *Session) AddAliases(ctx context.Context, aliases ...string) error {
	missing := s.missingAliases(ctx, aliases)
	if len(missing) == 0 {
		return nil
	}
	_, err := s.Append(ctx, Record{Type: TypeAliases, Aliases: missing})
	return err
}

// missingAliases are the aliases the session does not answer to yet. The
// header is read first (one small read: the usual case, a route whose
// aliases were written when the session was made); only when it lacks one
// are the aliases records consulted, through the session's metadata.
func (s *Session) missingAliases(ctx context.Context, aliases []string) []string {
	var missing []string
	h, err := s.Header(ctx)
	for _, a := range aliases {
		if a != "" && (err != nil || !slices.Contains(h.Aliases, a)) && !slices.Contains(missing, a) {
			missing = append(missing, a)
		}
	}
	if len(missing) == 0 {
		return nil
	}
	m, err := s.Meta(ctx)
	if err != nil {
		return missing
	}
	return slices.DeleteFunc(missing, func(a string) bool { return slices.Contains(m.Aliases, a) })
}

// Update appends what f computes from the session's active history, both
// under the session's lock: no other process appends between the read and
// the write, so f may decide from the current state (the last message,
// the summary, what a tool already answered). f returning no records
// writes nothing; an error from f is returned and nothing is written.
// The records are checked as Append checks them, against the history f
// was given and the records before them; seq and time are assigned as
// Append does.
func (s *Session) Update(ctx context.Context, f func(History) ([]Record, error)) ([]int64, error) {
	return s.append(ctx, func(v lockedView) ([]Record, error) {
		h, err := v.history(ctx, 0)
		if err != nil {
			return nil, err
		}
		recs, err := f(h)
		if err != nil {
			return nil, err
		}
		recs = slices.Clone(recs)
		for i := range recs {
			if err := validateAppend(&recs[i]); err != nil {
				return nil, fmt.Errorf("workspace: update %s: record %d: %w; nothing was written", s.id, i+1, err)
			}
		}
		if err := s.checkLocked(ctx, v, recs, &h, checkMode{times: true, strict: true}, nil); err != nil {
			return nil, err
		}
		return recs, nil
	})
}

// Summary returns the latest summary of the active history (the record
// standing in for the messages it covers), and false when there is none.
func (s *Session) Summary(ctx context.Context) (Record, bool, error) {
	h, err := s.History(ctx, 1)
	if err != nil || h.Summary == nil {
		return Record{}, false, err
	}
	return *h.Summary, true, nil
}

// SetSummary records text as the summary of the active history up to its
// last message (by names who wrote it: a model, "assistant"...). The
// messages stay in the file; the active history now starts after them.
// It is what an assistant with its own summarizer calls.
func (s *Session) SetSummary(ctx context.Context, text, by string) (Record, error) {
	var rec Record
	seqs, err := s.Update(ctx, func(h History) ([]Record, error) {
		through := int64(0)
		if n := len(h.Messages); n > 0 {
			through = h.Messages[n-1].Seq
		} else if h.Summary != nil {
			through = h.Summary.Through
		}
		rec = Record{Type: TypeSummary, Through: through, Text: text, By: by}
		return []Record{rec}, nil
	})
	if err != nil {
		return Record{}, err
	}
	rec.Seq = seqs[0]
	return rec, nil
}

// KeepLast leaves only the newest n messages in the active history (as an
// assistant's "truncate history" does), never splitting a tool call from
// its results, by recording a summary that stands in for the older ones
// and carries the current summary's text (empty if none). Nothing is
// deleted: the older messages stay in the file, in search and in exports.
// It writes nothing when n or fewer messages are active.
func (s *Session) KeepLast(ctx context.Context, n int) (int64, error) {
	if n < 0 {
		return 0, fmt.Errorf("workspace: keep last %d: want 0 or more", n)
	}
	seqs, err := s.Update(ctx, func(h History) ([]Record, error) {
		cut := h.Within(max(n, 1), 0)
		if n == 0 {
			cut.Trimmed, cut.Messages = len(h.Messages), nil
		}
		if cut.Trimmed == 0 {
			return nil, nil
		}
		through := h.Messages[cut.Trimmed-1].Seq
		text, by := "", fmt.Sprintf("keep-last %d", n)
		if h.Summary != nil {
			text = h.Summary.Text
		}
		return []Record{{Type: TypeSummary, Through: through, Text: text, By: by}}, nil
	})
	if err != nil || len(seqs) == 0 {
		return 0, err
	}
	return seqs[0], nil
}

// Continue makes the session a route names the continuation of from (a
// session kept under a legacy key: an imported DM whose new id could not
// be computed offline, a session of an old routing): from's legacy keys
// are answered by the route's session from now on, with one aliases
// record naming from (continues), and, when the route's session has no
// message yet, from's latest summary is carried into it (a summary record
// through 0), so that the model keeps the context without a message being
// copied: from's history stays where it is, searched and exported once.
// A lookup by a key both sessions answer to resolves to the continuation
// (Lookup). Calling it again changes nothing.
func (w *Workspace) Continue(ctx context.Context, from *Session, r keying.Route) (*Session, error) {
	if from.ID() == r.ID {
		return nil, fmt.Errorf("workspace: continue %s: it is the route's own session", from.ID())
	}
	h, err := from.Header(ctx)
	if err != nil {
		return nil, fmt.Errorf("workspace: continue %s: %w", from.ID(), err)
	}
	keys := slices.Clone(h.Aliases)
	if m, err := from.Meta(ctx); err == nil {
		for _, a := range m.Aliases {
			if !slices.Contains(keys, a) {
				keys = append(keys, a)
			}
		}
	}
	carry, hasSummary, err := from.Summary(ctx)
	if err != nil {
		return nil, fmt.Errorf("workspace: continue %s: %w", from.ID(), err)
	}
	to, err := w.SessionForRoute(ctx, r)
	if err != nil {
		return nil, err
	}
	_, err = to.Update(ctx, func(cur History) ([]Record, error) {
		done, err := to.continues(ctx, from.ID())
		if err != nil || done {
			return nil, err
		}
		var out []Record
		if len(keys) > 0 {
			out = append(out, Record{Type: TypeAliases, Aliases: keys, Continues: from.ID()})
		} else {
			out = append(out, Record{Type: TypeAliases, Aliases: []string{from.ID()}, Continues: from.ID()})
		}
		if hasSummary && len(cur.Messages) == 0 && cur.Summary == nil {
			out = append(out, Record{Type: TypeSummary, Text: carry.Text, Tokens: carry.Tokens,
				By: fmt.Sprintf("carried from %s#%d", from.ID(), carry.Seq)})
		}
		return out, nil
	})
	if err != nil {
		return nil, fmt.Errorf("workspace: continue %s in %s: %w", from.ID(), to.ID(), err)
	}
	return to, nil
}

// continues reports whether the session has an aliases record naming id
// as the session it continues.
func (s *Session) continues(ctx context.Context, id string) (bool, error) {
	for e, err := range s.Records(ctx, 0) {
		if err != nil {
			return false, err
		}
		if e.Type == TypeAliases && e.Continues == id {
			return true, nil
		}
	}
	return false, nil
}
