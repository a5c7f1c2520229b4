package workspace

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"

	"github.com/picosess/picosess/keying"
)

// An imported conversation whose new id cannot be computed offline (a
// Discord, Slack, Feishu, Matrix or DingTalk DM: the DM's chat id is not in
// the legacy key) is kept by the migrator under its legacy key, as the
// session keying.LegacyHash(key) names. The assistant's route for the
// same person lists that key among its aliases but has another id. When
// the route's first message arrives, SessionForRoute moves the imported
// conversation into the route's session ("adoption"): the new file is
// written in one locked append (header, an aliases record naming the
// imported session and how many records follow, then every record of the
// imported session, seqs renumbered and references kept pointing at the
// same records), and the imported file goes to the trash. Each message is
// then in exactly one live session, so search and export find it once,
// and `show --all` of the new session shows where it came from.

// errAdoptRace: the route's session was created by someone else between
// the look and the locked write.
var errAdoptRace = errors.New("workspace: the session exists already")

// adoptImported returns the route's session, which does not exist yet,
// with the imported conversation moved into it, or nil when there is
// nothing to adopt: none of the route's aliases names an imported session kept under its
// legacy key, two do (ambiguous: both are left alone and the log says so),
// or the move could not be made (logged; the caller then creates the
// session as usual, and the imported one stays where it is, whole).
func (w *Workspace) adoptImported(ctx context.Context, t Target) (*Session, error) {
	if len(t.Aliases) == 0 {
		return nil, nil
	}
	from, err := w.importedFor(ctx, t)
	if err != nil || from == nil {
		if err != nil {
			w.log.Warn("imported conversation not continued", "session", t.ID, "err", err)
		}
		return nil, ctx.Err()
	}
	s, err := w.adopt(ctx, t, from)
	if err != nil {
		if ctx.Err() != nil {
			return nil, ctx.Err()
		}
		if !errors.Is(err, errAdoptRace) {
			w.log.Warn("imported conversation not continued", "session", t.ID, "imported", from.ID(), "err", err)
		}
		return nil, nil
	}
	return s, nil
}

// importedFor finds the imported session that one of t's aliases names:
// a session with an origin (written by the migrator) whose id is the
// legacy hash of the alias (either dm/direct spelling). More than one is
// an error naming them. Only when no alias names one, the pre-routing key
// of t's chat is tried (an install upgraded from v0.1.x to v0.2.x can hold
// both a DM's routing-era key and its older <channel>:<chat> key; the
// newer one is continued, and the older stays under its key).
func (w *Workspace) importedFor(ctx context.Context, t Target) (*Session, error) {
	s, err := w.importedByKeys(ctx, t, t.Aliases)
	if s != nil || err != nil {
		return s, err
	}
	if k := preRoutingKey(t.Scope); k != "" {
		return w.importedByKeys(ctx, t, []string{k})
	}
	return nil, nil
}

func (w *Workspace) importedByKeys(ctx context.Context, t Target, keys []string) (*Session, error) {
	var ids []string
	for _, a := range keys {
		if _, ok := mainKeyAgent(a); ok {
			continue // agent:<a>:main is every DM's alias under dm_scope main, never one person's
		}
		for _, k := range []string{a, keying.AlternateSpelling(a)} {
			if k == "" {
				continue
			}
			if id := keying.LegacyHash(k); id != t.ID && !slices.Contains(ids, id) {
				ids = append(ids, id)
			}
		}
	}
	var found []*Session
	for _, id := range ids {
		s, err := w.OpenID(id)
		if err != nil {
			continue
		}
		h, err := s.Header(ctx)
		if err != nil || len(h.Origin) == 0 {
			continue
		}
		found = append(found, s)
	}
	switch len(found) {
	case 0:
		return nil, nil
	case 1:
		return found[0], nil
	}
	names := make([]string, len(found))
	for i, s := range found {
		names[i] = s.ID()
	}
	return nil, fmt.Errorf("%d imported sessions answer to the route's keys (%v): none is continued", len(found), names)
}

// preRoutingKey is the key PicoClaw v0.0.1-v0.1.2 gave the scope's chat,
// <channel>:<chat id>, as its adapters built it for DMs and groups alike.
// The migrator keeps such a key when the chat's type cannot be told from
// it (every channel but Telegram), and PicoClaw lists no such alias, so
// the route's chat stands for it. "" when the scope has no chat.
func preRoutingKey(sc *keying.Scope) string {
	if sc == nil || sc.Channel == "" {
		return ""
	}
	chat := sc.Values[keying.DimChat]
	_, id, ok := strings.Cut(chat, ":")
	if !ok || id == "" {
		return ""
	}
	return sc.Channel + ":" + id
}

// adopt moves from's records into t's session (which must not exist yet)
// and from to the trash, holding from's lock throughout so that nothing
// appended to it meanwhile is left behind.
func (w *Workspace) adopt(ctx context.Context, t Target, from *Session) (*Session, error) {
	lk, err := w.lock(ctx, from.st)
	if err != nil {
		return nil, err
	}
	defer lk.unlock()
	h, err := from.Header(ctx)
	if err != nil {
		return nil, err
	}
	var recs []Record
	var skipped int
	var end int64
	for e, err := range from.records(ctx, 0, func(Skipped) { skipped++ }) {
		if err != nil {
			return nil, err
		}
		end = e.End
		if e.Type != TypeSession {
			recs = append(recs, e.Record)
		}
	}
	// Every record must have been read: a corrupt line or one over the
	// read limit would be left behind in the trash.
	if n := len(recs) + 1; skipped > 0 || len(recs) > 0 && recs[len(recs)-1].Seq != int64(n) {
		return nil, fmt.Errorf("%s has records that cannot be read (run picosess check): not moved", from.ID())
	}
	to, err := w.handle(t)
	if err != nil {
		return nil, err
	}
	to.header.At = h.At // the conversation began when the imported one did
	out, err := movedRecords(from.ID(), h, recs)
	if err != nil {
		return nil, err
	}
	if _, err := to.AppendIf(ctx, func(cur History) error {
		// The header is written before this runs (by us, or by another
		// process that created the session without adopting): anything
		// after it means the session has begun without the import.
		if cur.LastSeq > 1 {
			return errAdoptRace
		}
		return nil
	}, out...); err != nil {
		return nil, err
	}
	// From here the conversation is in both files until the move below; a
	// crash in between leaves the imported file live, which check reports
	// and repair moves to the trash. The lock keeps this process's and this
	// machine's writers out; on a shared store (Options.Store) a writer on
	// another machine could still have appended meanwhile: then the file
	// stays live, with its records after the move, for check to report.
	if fi, err := w.fs.Stat(from.Path()); err != nil || fi.Size() != end {
		w.log.Warn("imported session written to during its move: left live", "session", from.ID(), "into", to.ID())
		return to, nil
	}
	if _, err := from.moveToTrashIf(end); err != nil {
		w.log.Error("imported session moved but not put in the trash", "session", from.ID(), "into", to.ID(), "err", err)
		return to, nil
	}
	w.syncDir(w.sessionsDir())
	w.syncDir(w.trashDir())
	return to, nil
}

// movedRecords is what the adopting session's first append holds after
// its header: the aliases record, then recs (the imported session's
// records after its header, seqs 2, 3, ...) with their seqs renumbered
// one up and every reference (through, checkpoint) following them.
func movedRecords(fromID string, h Record, recs []Record) ([]Record, error) {
	keys := slices.Clone(h.Aliases)
	if len(keys) == 0 {
		keys = []string{fromID}
	}
	out := make([]Record, 0, len(recs)+1)
	out = append(out, Record{Type: TypeAliases, At: h.At, Aliases: keys, Continues: fromID, Moved: int64(len(recs))})
	const shift = 1 // the aliases record takes seq 2
	seen := make(map[int64]bool, len(recs))
	for _, r := range recs {
		seen[r.Seq] = true
	}
	move := func(ref int64) (int64, error) {
		if ref == 0 {
			return 0, nil
		}
		if !seen[ref] {
			return 0, fmt.Errorf("%s: a reference to seq %d, which is not in the file", fromID, ref)
		}
		return ref + shift, nil
	}
	for _, r := range recs {
		var err error
		if r.Through, err = move(r.Through); err != nil {
			return nil, err
		}
		if r.Checkpoint, err = move(r.Checkpoint); err != nil {
			return nil, err
		}
		r.Seq, r.Sealed = 0, nil
		out = append(out, r)
	}
	return out, nil
}

// finishMove puts in the trash a session whose records were all moved into
// another (m) but which a crash left live. One that got records after the
// move is left alone (its Check problem remains): they are in no other
// file.
func (w *Workspace) finishMove(ctx context.Context, m move, dryRun bool, rep *RepairReport) error {
	from, err := w.OpenID(m.from)
	if err != nil {
		return nil // in the trash already, as it should be
	}
	lk, err := w.lock(ctx, from.st)
	if err != nil {
		return err
	}
	defer lk.unlock()
	f, end, err := from.openEnd()
	if err != nil {
		return nil
	}
	last, err := lastSeq(f, end, from.Path(), w.readLimit())
	f.Close()
	if err != nil || last != m.count+1 {
		return nil
	}
	if dryRun {
		rep.Trashed = append(rep.Trashed, m.from)
		return nil
	}
	if _, err := from.moveToTrashLocked(); err != nil {
		return err
	}
	w.syncDir(w.sessionsDir())
	w.syncDir(w.trashDir())
	rep.Trashed = append(rep.Trashed, m.from)
	return nil
}
