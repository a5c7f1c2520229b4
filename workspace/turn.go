package workspace

import (
	"context"
	"errors"
	"fmt"
	"io"
	"time"

	"github.com/picosess/picosess/workspace/policy"
)

// ErrTimeOrder: a record is dated before the last record of its session.
var ErrTimeOrder = errors.New("workspace: record dated before the session's last record")

// ErrTrashed: the session was moved to the trash (by rm or cleanup); it is
// not recreated silently.
var ErrTrashed = errors.New("workspace: session is in the trash")

// Turn is what AppendTurn wrote.
type Turn struct {
	// Seqs are the seqs of the records given, in order. A message that was
	// only a reset trigger ("/new") became the reset record: its seq is the
	// reset's.
	Seqs []int64 `json:"seqs"`
	// Reset is set when the turn started a new conversation.
	Reset *TurnReset `json:"reset,omitempty"`
}

// TurnReset describes the reset a turn started with.
type TurnReset struct {
	Seq     int64  `json:"seq"`
	Reason  string `json:"reason"` // manual, daily or idle
	Rule    string `json:"rule"`   // the setting that fired, with where it came from
	Trigger string `json:"trigger,omitempty"`
	Why     string `json:"why"`
	// Carried is the seq of the summary record that carries the previous
	// conversation's latest summary into the new one (carry_summary), 0 if
	// none.
	Carried int64 `json:"carried,omitempty"`
}

// AppendTurn appends one turn as it arrives (the user's message, and
// whatever the assistant answered), applying the lifecycle policy of the
// workspace config (Options.Config; nil means only the default reset
// triggers /new and /reset): a user message that is a trigger becomes a
// reset record (the text after the trigger, if any, is the new
// conversation's first message), and a user message arriving in a stale
// conversation (reset.idle_minutes, reset.daily_at) gets a reset record
// just before it, in the same locked write, so that of several processes
// appending across a boundary exactly one writes the reset. A message may
// carry its own time (At, e.g. sent while offline); it must not be before
// the session's last record, and the policy is evaluated against it.
//
// Append, by contrast, writes records as given, with no policy: imports
// and tools use it.
func (s *Session) AppendTurn(ctx context.Context, recs ...Record) (Turn, error) {
	if len(recs) == 0 {
		return Turn{}, nil
	}
	eff := s.effective()
	// Triggers depend on the text only: they are handled before the lock,
	// where tokens are counted too.
	in := make([]turnRec, 0, len(recs)+1)
	var manual *policy.Decision
	firstUser := -1
	for i := range recs {
		r := recs[i]
		if err := validateAppend(&r); err != nil {
			return Turn{}, fmt.Errorf("workspace: append to %s: record %d: %w", s.id, i+1, err)
		}
		if r.Type == TypeMessage && r.Role == RoleUser && firstUser < 0 {
			firstUser = len(in)
			if trig, rest, ok := policy.Trigger(eff.Triggers.Value, r.Content); ok {
				d := policy.Evaluate(eff, policy.State{}, policy.Arrival{Role: r.Role, Text: r.Content, At: r.At})
				manual = &d
				reset := turnRec{Record{Type: TypeReset, Reason: ReasonManual, Rule: d.Rule, Trigger: trig, At: r.At}, i, turnReset}
				if rest == "" {
					in = append(in, reset) // the message is the reset
					continue
				}
				reset.from = -1
				in = append(in, reset)
				firstUser++
				r.Content = rest
			}
		}
		if (r.Type == TypeMessage || r.Type == TypeSummary) && r.Tokens == 0 {
			r.Tokens = s.w.opts.CountTokens(r)
		}
		in = append(in, turnRec{r, i, turnPlain})
	}
	if manual == nil && !eff.Automatic() {
		// No reset can start: the turn is its records as given. If none of
		// them looks at the file either, it is a plain append, which
		// durability batch may combine with other processes' (combine.go).
		recs := make([]Record, len(in))
		plain := true
		for i := range in {
			recs[i] = in[i].rec
			plain = plain && !needsFile(&recs[i])
		}
		if plain {
			seqs, err := s.appendReq(ctx, &appendReq{build: func(lockedView) ([]Record, error) { return recs, nil }, plain: true})
			if err != nil {
				return Turn{}, err
			}
			return Turn{Seqs: seqs}, nil
		}
	}
	var turn Turn
	var written []turnRec
	seqs, err := s.append(ctx, func(v lockedView) ([]Record, error) {
		turn = Turn{}
		out, err := s.decideTurn(ctx, v, eff, in, firstUser, manual, &turn)
		if err != nil {
			return nil, err
		}
		written = out
		recs := make([]Record, len(out))
		for i := range out {
			recs[i] = out[i].rec
		}
		// What the records refer to, against the file as it is now (the
		// times were checked above, with the policy).
		num := func(i int) int {
			if out[i].from >= 0 {
				return out[i].from + 1
			}
			return i + 1
		}
		if err := s.checkLocked(ctx, v, recs, nil, checkMode{strict: true}, num); err != nil {
			return nil, err
		}
		return recs, nil
	})
	if err != nil {
		return Turn{}, err
	}
	turn.Seqs = make([]int64, len(recs))
	for j, tr := range written {
		if tr.from >= 0 && turn.Seqs[tr.from] == 0 {
			turn.Seqs[tr.from] = seqs[j]
		}
		switch {
		case tr.kind == turnReset && turn.Reset != nil:
			turn.Reset.Seq = seqs[j]
		case tr.kind == turnCarried && turn.Reset != nil:
			turn.Reset.Carried = seqs[j]
		}
	}
	return turn, nil
}

// turnRec is a record of a turn: which of the caller's records it stands
// for (-1: none) and whether it is the reset or a carried summary.
type turnRec struct {
	rec  Record
	from int
	kind int
}

const (
	turnPlain = iota
	turnReset
	turnCarried
)

// decideTurn runs under the session's lock: it checks the records' times
// against the last record and evaluates the automatic resets against the
// current conversation as it is on disk now.
func (s *Session) decideTurn(ctx context.Context, v lockedView, eff policy.Effective, in []turnRec, firstUser int, manual *policy.Decision, turn *Turn) ([]turnRec, error) {
	now := s.w.opts.Now().UTC()
	// What this process's last AppendTurn left, if the file is still as it
	// was then (no relearning: known; no other write since: the seq).
	c := s.st.turn
	fresh := c.ok && v.s.st.known && c.seq == v.lastSeq
	s.st.turn.ok = false // until this write succeeds and says otherwise
	explicit := false
	for _, r := range in {
		explicit = explicit || !r.rec.At.IsZero()
	}
	if explicit && v.end > 0 {
		prev := c.lastRecord
		if !fresh {
			var err error
			if prev, err = lastRecordAt(v); err != nil {
				return nil, err
			}
		}
		for i, r := range in {
			at := r.rec.At
			if at.IsZero() {
				at = now
			}
			if at.Before(prev) {
				return nil, fmt.Errorf("%w: record %d is dated %s, before %s (the session's last record); nothing was written",
					ErrTimeOrder, i+1, at.UTC().Format(time.RFC3339Nano), prev.UTC().Format(time.RFC3339Nano))
			}
			prev = at
		}
	}
	out, base, baseKnown, err := s.decideReset(ctx, v, eff, in, firstUser, manual, turn, now, c, fresh)
	if err != nil {
		return nil, err
	}
	// Date every record now (flushLocked would stamp the same clock), so
	// that the state after the write is known exactly.
	next := turnCache{seq: v.lastSeq + int64(len(out)), ok: baseKnown, state: base}
	for i := range out {
		r := &out[i].rec
		if r.At.IsZero() {
			r.At = now
		}
		switch {
		case r.Type == TypeMessage:
			next.state.LastMessage, next.ok = r.At, true
		case r.Type == TypeReset:
			next.state, next.ok = policy.State{}, true
		case r.Type == TypeRestore || r.Type == TypeSummary && r.Through > 0:
			next.ok = false // the fold changes: read it next time
		}
		next.lastRecord = r.At
	}
	if len(out) > 0 {
		s.st.turn = next
	}
	return out, nil
}

// turnCache is the state of the current conversation after an
// AppendTurn of this process: valid while the file's last seq is seq.
type turnCache struct {
	ok         bool
	seq        int64
	state      policy.State // the current conversation's last message
	lastRecord time.Time    // time of the last record written
}

// decideReset evaluates the automatic and trigger resets and returns the
// records to write, with the conversation state they start from (when
// known).
func (s *Session) decideReset(ctx context.Context, v lockedView, eff policy.Effective, in []turnRec, firstUser int, manual *policy.Decision,
	turn *Turn, now time.Time, c turnCache, fresh bool) (out []turnRec, base policy.State, baseKnown bool, err error) {
	out = in
	var d policy.Decision
	switch {
	case manual != nil:
		d = *manual
	case firstUser >= 0 && v.end > 0:
		st := c.state
		if !fresh {
			h, err := v.history(ctx, 1)
			if err != nil {
				return nil, policy.State{}, false, err
			}
			st = policyState(h)
		}
		base, baseKnown = st, true
		u := in[firstUser].rec
		at := u.At
		if at.IsZero() {
			at = now
		}
		d = policy.Evaluate(eff, st, policy.Arrival{Role: u.Role, Text: u.Content, At: at})
		if !d.Reset {
			return in, base, baseKnown, nil
		}
		out = make([]turnRec, 0, len(in)+2)
		out = append(out, in[:firstUser]...)
		out = append(out, turnRec{Record{Type: TypeReset, Reason: d.Reason, Rule: d.Rule, At: u.At}, -1, turnReset})
		out = append(out, in[firstUser:]...)
	default:
		if fresh {
			base, baseKnown = c.state, true
		}
		return in, base, baseKnown, nil
	}
	turn.Reset = &TurnReset{Reason: d.Reason, Rule: d.Rule, Trigger: d.Trigger, Why: d.Why}
	if eff.CarrySummary.Value && v.end > 0 {
		h, err := v.history(ctx, 0)
		if err != nil {
			return nil, policy.State{}, false, err
		}
		if h.Summary != nil {
			for i, r := range out {
				if r.kind != turnReset {
					continue
				}
				carried := turnRec{Record{Type: TypeSummary, Text: h.Summary.Text, Tokens: h.Summary.Tokens,
					By: fmt.Sprintf("carried from #%d", h.Summary.Seq), At: r.rec.At}, -1, turnCarried}
				out = append(out[:i+1:i+1], append([]turnRec{carried}, out[i+1:]...)...)
				break
			}
		}
	}
	return out, base, baseKnown, nil
}

// lastRecordAt is the time of the last complete record of the locked
// file, the header excepted (zero then).
func lastRecordAt(v lockedView) (time.Time, error) {
	br := newBackReader(v.f, v.s.Path(), v.end, v.s.w.readLimit())
	for {
		line, _, err := br.prev()
		if err == io.EOF {
			return time.Time{}, nil
		}
		if err != nil {
			return time.Time{}, err
		}
		if br.big != nil {
			// Over the read limit: its first bytes say its time.
			if r, ok := br.big.record(); ok && r.Type != TypeSession {
				return r.At, nil
			}
			continue
		}
		if r, hint := decodeRecord(line); hint == "" {
			if r.Type == TypeSession {
				// The header is dated when the session was made, which may
				// be after the messages being backfilled into it.
				return time.Time{}, nil
			}
			return r.At, nil
		}
	}
}

// mayCreate is asked when the session file does not exist at append
// time. A handle made to create the session (Workspace.Session with a
// target) creates it. A handle on an existing session (OpenID, Lookup)
// whose file has gone does not recreate it as a new, empty session: if
// the session is in the trash (rm, cleanup) the error says so and how to
// bring it back; otherwise it is ErrNotFound.
func (s *Session) mayCreate() error {
	if s.header.Type != "" {
		return nil
	}
	if t, ok := s.w.InTrash(context.Background(), s.id); ok {
		return fmt.Errorf("%w: session %s was moved to the trash as %s; nothing was written (bring it back with: picosess rm --restore %s)",
			ErrTrashed, s.id, t.Name, t.Name)
	}
	return fmt.Errorf("%w: session %s no longer exists; nothing was written", ErrNotFound, s.id)
}
