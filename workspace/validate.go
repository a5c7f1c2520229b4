package workspace

import (
	"context"
	"errors"
	"fmt"
	"io"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/picosess/picosess/keying"
)

// Records a caller appends are checked for meaning, not only shape
// (docs/format.md, "What an append accepts"): a record is written only if
// it means something in the session as it is under the lock. The static
// rules (validateAppend) need nothing but the record; the others
// (checkLocked) look at the locked file, and at the records before it in
// the same call, whose seqs are known once the lock is held.

// RecordError is a record the workspace refuses to append: it names the
// record's type, the field at fault and why. It matches ErrInvalidRecord
// or ErrTooLarge (Err). The append paths wrap it with the session and the
// record's position in the call ("record 2"); nothing of the call was
// written.
type RecordError struct {
	Type   string // the record's type
	Field  string // the field at fault ("seq", "through", "checkpoint"...); "" for the record as a whole
	Reason string
	Err    error // ErrInvalidRecord or ErrTooLarge
}

func (e *RecordError) Error() string {
	if e.Field == "" {
		return fmt.Sprintf("%s record: %s", e.Type, e.Reason)
	}
	return fmt.Sprintf("%s record: %s: %s", e.Type, e.Field, e.Reason)
}

// Unwrap makes errors.Is(err, ErrInvalidRecord) (or ErrTooLarge) true.
func (e *RecordError) Unwrap() error { return e.Err }

func invalid(typ, field, format string, args ...any) *RecordError {
	return &RecordError{Type: typ, Field: field, Reason: fmt.Sprintf(format, args...), Err: ErrInvalidRecord}
}

// resetReasons are the reasons a reset record may give.
var resetReasons = []string{ReasonManual, ReasonDaily, ReasonIdle, ReasonClear, ReasonImported}

// validateAppend rejects records a caller may not append, from the record
// alone: the type, the fields its type needs, and no seq (the workspace
// numbers records under the lock).
func validateAppend(r *Record) error {
	switch r.Type {
	case TypeMessage:
		switch r.Role {
		case RoleUser, RoleAssistant, RoleSystem, RoleTool, RoleDeveloper, RoleFunction:
		default:
			return invalid(r.Type, "role", "%q is not user, assistant, system, tool, developer or function", r.Role)
		}
	case TypeSummary:
		if r.Through < 0 {
			return invalid(r.Type, "through", "%d is not a seq", r.Through)
		}
	case TypeTitle:
	case TypeReset:
		if !slices.Contains(resetReasons, r.Reason) {
			return invalid(r.Type, "reason", "%q is not %s", r.Reason, strings.Join(resetReasons, ", "))
		}
	case TypeCheckpoint:
		name := strings.TrimSpace(r.Name)
		if name == "" {
			return invalid(r.Type, "name", "a checkpoint needs a name")
		}
		if _, err := strconv.ParseInt(name, 10, 64); err == nil {
			return invalid(r.Type, "name", "%q is a number; numbers name checkpoints by seq", name)
		}
		if r.Through < 0 {
			return invalid(r.Type, "through", "%d is not a seq", r.Through)
		}
	case TypeRestore, TypeCheckpointDelete:
		if r.Checkpoint <= 0 {
			return invalid(r.Type, "checkpoint", "missing: give the seq of the checkpoint record")
		}
	case TypeAliases:
		if len(r.Aliases) == 0 {
			return invalid(r.Type, "aliases", "an aliases record needs at least one alias")
		}
		for _, a := range r.Aliases {
			if strings.TrimSpace(a) == "" {
				return invalid(r.Type, "aliases", "an empty alias")
			}
		}
		if r.Continues != "" && !keying.IsID(r.Continues) {
			return invalid(r.Type, "continues", "%q is not a session id", r.Continues)
		}
		if r.Moved < 0 || r.Moved > 0 && r.Continues == "" {
			return invalid(r.Type, "moved", "moved needs continues and a count of records (got %d)", r.Moved)
		}
	case TypeUntrash:
	case TypeSession:
		return invalid(r.Type, "", "the session header is written by the workspace, not appended")
	default:
		return invalid(r.Type, "type", "unknown record type %q", r.Type)
	}
	if r.Seq != 0 {
		return invalid(r.Type, "seq", "%d given; the workspace numbers records under the lock (leave it 0)", r.Seq)
	}
	return nil
}

// needsFile reports whether checkLocked has anything to check in r: a
// time given by the caller, or a reference to other records.
func needsFile(r *Record) bool {
	switch r.Type {
	case TypeSummary, TypeCheckpoint, TypeRestore, TypeCheckpointDelete:
		return true
	}
	return !r.At.IsZero()
}

// checkMode says how much checkLocked checks.
type checkMode struct {
	// times: a record's time must not be before the session's last record
	// nor before the record before it in the call (ErrTimeOrder).
	times bool
	// strict: references must mean something in the active history (the
	// rules of Append, AppendTurn and Update). Without it, only that they
	// name a record of the right type in the file or earlier in the call
	// (AppendIf, the importer's path: a legacy summary may cover messages
	// that were never kept).
	strict bool
}

// activeState is the active history as checkLocked follows it through
// the records of a call: the seqs of its messages (those the summary does
// not cover) and the summary's through.
type activeState struct {
	msgs       []int64
	hasSummary bool
	through    int64
}

func stateOf(h History) activeState {
	st := activeState{}
	for _, m := range h.Messages {
		st.msgs = append(st.msgs, m.Seq)
	}
	if h.Summary != nil {
		st.hasSummary, st.through = true, h.Summary.Through
	}
	return st
}

// describe says what the active history holds, for an error.
func (st activeState) describe() string {
	var b strings.Builder
	switch n := len(st.msgs); {
	case n == 0:
		b.WriteString("it holds no message")
	case n == 1:
		fmt.Fprintf(&b, "its message is seq %d", st.msgs[0])
	default:
		fmt.Fprintf(&b, "its messages are seqs %d..%d", st.msgs[0], st.msgs[n-1])
	}
	if st.hasSummary {
		fmt.Fprintf(&b, ", after a summary through %d", st.through)
	}
	return b.String()
}

// refError says what a reference names instead of what it must; other
// errors of the lookups are I/O errors.
type refError string

func (e refError) Error() string { return string(e) }

func refErrorf(format string, args ...any) error { return refError(fmt.Sprintf(format, args...)) }

// callCheckpoint is a checkpoint written earlier in the same call.
type callCheckpoint struct {
	name  string
	state activeState // the active history it names (strict mode)
	gone  bool        // deleted or superseded later in the call
}

// checkLocked checks recs, about to be written to the locked file v, in
// order, as if each record before them were written: the time order, and
// what summaries, checkpoints, restores and checkpoint deletes refer to.
// h, when not nil, is the active history of v (else it is folded when
// first needed). index gives the caller's number of recs[i] for the error
// (nil: i+1). A refused record gives a *RecordError (ErrInvalidRecord) or
// an ErrTimeOrder, wrapped with the session and that number.
func (s *Session) checkLocked(ctx context.Context, v lockedView, recs []Record, h *History, mode checkMode, index func(int) int) error {
	if index == nil {
		index = func(i int) int { return i + 1 }
	}
	fail := func(i int, field string, err error) error {
		var re refError
		if !errors.As(err, &re) {
			return err // reading the file failed
		}
		return fmt.Errorf("workspace: append to %s: record %d: %w; nothing was written", s.id, index(i), invalid(recs[i].Type, field, "%s", re))
	}
	var (
		st      activeState
		known   bool    // st is the active history before the current record
		pending []int64 // messages of the call while !known
		// Made when first needed: a call of messages only (the common
		// case, under the lock) allocates nothing here.
		callCps map[int64]*callCheckpoint
		callMsg map[int64]bool  // messages of the call (for !mode.strict)
		deleted map[int64]bool  // file checkpoints deleted earlier in the call
		named   map[string]bool // names given to a checkpoint earlier in the call
	)
	foldAt := v.end // where the history to fold ends: the file's end, or a restored checkpoint's line
	ensure := func() error {
		if known {
			return nil
		}
		if h == nil || foldAt != v.end {
			got, err := foldTail(ctx, v.f, v.s.Path(), foldAt, 0, s.w.log, s.w.readLimit())
			if err != nil {
				return err
			}
			if foldAt == v.end {
				h = &got
			}
			st = stateOf(got)
		} else {
			st = stateOf(*h)
		}
		known = true
		st.msgs = append(st.msgs, pending...)
		return nil
	}
	var prevAt time.Time
	checkTimes := false
	if mode.times {
		for i := range recs {
			checkTimes = checkTimes || !recs[i].At.IsZero()
		}
	}
	var now time.Time
	if checkTimes {
		// Only then: a clock read is not free (and tests count them).
		now = s.w.opts.Now().UTC()
		if v.end > 0 {
			prev, err := lastRecordAt(v)
			if err != nil {
				return err
			}
			prevAt = prev
		}
	}
	seq := v.lastSeq
	for i := range recs {
		r := &recs[i]
		seq++
		if checkTimes {
			at := r.At
			if at.IsZero() {
				at = now
			}
			if at.Before(prevAt) {
				return fmt.Errorf("%w: record %d (%s) is dated %s, before %s (the record before it); nothing was written",
					ErrTimeOrder, index(i), r.Type, at.UTC().Format(time.RFC3339Nano), prevAt.UTC().Format(time.RFC3339Nano))
			}
			prevAt = at
		}
		switch r.Type {
		case TypeMessage:
			if !mode.strict {
				if callMsg == nil {
					callMsg = map[int64]bool{}
				}
				callMsg[seq] = true
			}
			if known {
				st.msgs = append(st.msgs, seq)
			} else {
				pending = append(pending, seq)
			}
		case TypeReset:
			st, known, pending = activeState{}, true, nil
		case TypeSummary:
			if !mode.strict {
				if err := s.namesA(ctx, v, r.Through, TypeMessage, callMsg, seq); err != nil {
					return fail(i, "through", err)
				}
				break
			}
			if err := ensure(); err != nil {
				return err
			}
			ok := slices.Contains(st.msgs, r.Through) ||
				st.hasSummary && r.Through == st.through ||
				r.Through == 0 && len(st.msgs) == 0
			if !ok {
				return fail(i, "through", refErrorf("%d is not a message of the active history (%s; 0 only when it holds none)", r.Through, st.describe()))
			}
			st.msgs = slices.DeleteFunc(st.msgs, func(m int64) bool { return m <= r.Through })
			st.hasSummary, st.through = true, r.Through
		case TypeCheckpoint:
			cp := &callCheckpoint{name: strings.TrimSpace(r.Name)}
			if !mode.strict {
				if err := s.namesA(ctx, v, r.Through, TypeMessage, callMsg, seq); err != nil {
					return fail(i, "through", err)
				}
			} else {
				if err := ensure(); err != nil {
					return err
				}
				want := int64(0)
				if n := len(st.msgs); n > 0 {
					want = st.msgs[n-1]
				}
				if r.Through != want {
					return fail(i, "through", refErrorf("%d is not the last message of the active history (%d; 0 when it holds none)", r.Through, want))
				}
				cp.state = activeState{msgs: slices.Clone(st.msgs), hasSummary: st.hasSummary, through: st.through}
			}
			for _, c := range callCps {
				if c.name == cp.name {
					c.gone = true
				}
			}
			if named == nil {
				named, callCps = map[string]bool{}, map[int64]*callCheckpoint{}
			}
			named[cp.name] = true
			callCps[seq] = cp
		case TypeRestore, TypeCheckpointDelete:
			if c, ok := callCps[r.Checkpoint]; ok {
				if c.gone && mode.strict {
					return fail(i, "checkpoint", refErrorf("seq %d is a checkpoint deleted or superseded earlier in this call", r.Checkpoint))
				}
				if r.Type == TypeCheckpointDelete {
					c.gone = true
				} else if mode.strict {
					st, known, pending = activeState{msgs: slices.Clone(c.state.msgs), hasSummary: c.state.hasSummary, through: c.state.through}, true, nil
				}
				break
			}
			if !mode.strict {
				if err := s.namesA(ctx, v, r.Checkpoint, TypeCheckpoint, nil, seq); err != nil {
					return fail(i, "checkpoint", err)
				}
				break
			}
			cp, err := s.liveCheckpoint(ctx, v, r.Checkpoint)
			if err != nil {
				return fail(i, "checkpoint", err)
			}
			if deleted[r.Checkpoint] || named[cp.name] {
				return fail(i, "checkpoint", refErrorf("seq %d (%q) was deleted or superseded earlier in this call", r.Checkpoint, cp.name))
			}
			if r.Type == TypeCheckpointDelete {
				if deleted == nil {
					deleted = map[int64]bool{}
				}
				deleted[r.Checkpoint] = true
				break
			}
			// The restored history is the one before the checkpoint record,
			// folded only if a record after this one needs it.
			foldAt, known, pending = cp.off, false, nil
		}
	}
	return nil
}

// namesA checks that seq (0 allowed) is a record of type typ: one written
// earlier in the call (in call) or one of the locked file. self is the seq
// the referring record gets. A wrong reference is a refError.
func (s *Session) namesA(ctx context.Context, v lockedView, seq int64, typ string, call map[int64]bool, self int64) error {
	if seq == 0 || call[seq] {
		return nil
	}
	if seq >= self {
		return refErrorf("%d is not before the record itself (seq %d)", seq, self)
	}
	r, _, err := s.recordAt(ctx, v, seq)
	if err != nil {
		return err
	}
	if r.Type != typ {
		return refErrorf("seq %d is a %s record, not a %s", seq, r.Type, typ)
	}
	return nil
}

// recordAt reads the record of seq from the locked file (found by
// bisecting on seqs), and the offset of its line. No such record is a
// refError.
func (s *Session) recordAt(ctx context.Context, v lockedView, seq int64) (Record, int64, error) {
	off, err := findSeq(ctx, v.f, v.s.Path(), v.end, seq, s.w.readLimit())
	if errors.Is(err, errSeqNotFound) {
		return Record{}, 0, refErrorf("the session has no record with seq %d", seq)
	}
	if err != nil {
		return Record{}, 0, err
	}
	var rec Record
	var hint string
	_, err = scanLines(io.NewSectionReader(v.f, off, v.end-off), off, s.w.readLimit(), func(line []byte, _ int64) error {
		rec, hint = decodeRecord(line)
		return io.EOF
	})
	if err != nil && err != io.EOF {
		return Record{}, 0, fmt.Errorf("workspace: read %s: %w", v.s.Path(), err)
	}
	if hint != "" {
		return Record{}, 0, refErrorf("seq %d is a corrupt line (%s)", seq, hint)
	}
	if err := s.open(&rec); err != nil {
		return Record{}, 0, err
	}
	return rec, off, nil
}

// fileCheckpoint is a live checkpoint of the locked file.
type fileCheckpoint struct {
	name string
	off  int64 // offset of its line
}

// liveCheckpoint checks that seq is a live checkpoint of the locked file
// (a checkpoint record, not deleted, not superseded by a later one of the
// same name: one that Checkpoints lists) and returns it. The records after
// it are read to know. A wrong reference is a refError.
func (s *Session) liveCheckpoint(ctx context.Context, v lockedView, seq int64) (fileCheckpoint, error) {
	r, off, err := s.recordAt(ctx, v, seq)
	if err != nil {
		return fileCheckpoint{}, err
	}
	if r.Type != TypeCheckpoint {
		return fileCheckpoint{}, refErrorf("seq %d is a %s record, not a checkpoint", seq, r.Type)
	}
	why := ""
	stop := errors.New("stop")
	_, err = scanLines(io.NewSectionReader(v.f, off, v.end-off), off, s.w.readLimit(), func(line []byte, at int64) error {
		if at == off {
			return nil
		}
		typ, _, ok := headOf(line)
		if !ok || typ != TypeCheckpoint && typ != TypeCheckpointDelete {
			return nil
		}
		o, hint := decodeRecord(line)
		switch {
		case hint != "":
		case o.Type == TypeCheckpointDelete && o.Checkpoint == seq:
			why = fmt.Sprintf("deleted by seq %d", o.Seq)
			return stop
		case o.Type == TypeCheckpoint && o.Name == r.Name:
			why = fmt.Sprintf("superseded by seq %d, a later checkpoint of the same name", o.Seq)
			return stop
		}
		return nil
	})
	if err != nil && err != stop {
		return fileCheckpoint{}, fmt.Errorf("workspace: read %s: %w", v.s.Path(), err)
	}
	if why != "" {
		return fileCheckpoint{}, refErrorf("seq %d (%q) is not a live checkpoint: %s", seq, r.Name, why)
	}
	return fileCheckpoint{name: r.Name, off: off}, nil
}

// seqSet is a set of seqs: a bitmap for the dense seqs files have, a map
// for the rest (a hand-edited seq of 10^15 costs one entry, not a bitmap
// that long).
type seqSet struct {
	bits []uint64
	far  map[int64]bool
}

const seqSetDense = 1 << 26 // 8 MiB of bitmap at most

func (s *seqSet) add(seq int64) {
	if seq < 0 {
		return
	}
	if seq < seqSetDense {
		i := int(seq / 64)
		for len(s.bits) <= i {
			s.bits = append(s.bits, 0)
		}
		s.bits[i] |= 1 << (seq % 64)
		return
	}
	if s.far == nil {
		s.far = map[int64]bool{}
	}
	s.far[seq] = true
}

func (s *seqSet) has(seq int64) bool {
	if seq < 0 {
		return false
	}
	if seq < seqSetDense {
		i := int(seq / 64)
		return i < len(s.bits) && s.bits[i]&(1<<(seq%64)) != 0
	}
	return s.far[seq]
}

// refState follows a file forward for Check: which seqs are messages and
// checkpoints, so that a record whose reference names nothing of its kind
// before it is reported (ProblemInvalidRecord). These are the rules a
// file can be held to after the fact; Append's are stricter (they need
// the active history at the time of the write).
type refState struct {
	msgs seqSet
	cps  seqSet
}

// check returns what is wrong with rec (field, why, and whether repair may
// set it aside), or field "" when nothing is; then it adds rec.
func (st *refState) check(rec *Record) (field, why string, removable bool) {
	switch rec.Type {
	case TypeSummary:
		if rec.Through != 0 && (rec.Through >= rec.Seq || !st.msgs.has(rec.Through)) {
			field, why, removable = "through", fmt.Sprintf("a summary through %d, which is not a message before it: it would hide the history before it from the fold", rec.Through), true
		}
	case TypeCheckpoint:
		if rec.Through != 0 && (rec.Through >= rec.Seq || !st.msgs.has(rec.Through)) {
			field, why = "through", fmt.Sprintf("a checkpoint through %d, which is not a message before it (a restore still works: it goes by the checkpoint's place in the file)", rec.Through)
		}
	case TypeRestore, TypeCheckpointDelete:
		if rec.Checkpoint <= 0 || rec.Checkpoint >= rec.Seq || !st.cps.has(rec.Checkpoint) {
			field, why, removable = "checkpoint", fmt.Sprintf("a %s of %d, which is not a checkpoint before it", rec.Type, rec.Checkpoint), true
		}
	case TypeAliases:
		empty := len(rec.Aliases) == 0
		for _, a := range rec.Aliases {
			empty = empty || strings.TrimSpace(a) == ""
		}
		if empty {
			field, why, removable = "aliases", "an aliases record with no alias (or an empty one)", true
		}
	}
	switch rec.Type {
	case TypeMessage:
		st.msgs.add(rec.Seq)
	case TypeCheckpoint:
		st.cps.add(rec.Seq)
	}
	return field, why, removable
}
