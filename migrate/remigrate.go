package migrate

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"sort"
	"strings"

	"github.com/picosess/picosess/keying"
	"github.com/picosess/picosess/workspace"
)

// Migrating again after an upgrade. An earlier picosess may have imported
// part of a conversation under another session than this version plans
// (an OpenClaw orphan kept as its own archived session, which this version
// links to its key; a chat whose id the target config now derives
// otherwise). Such an earlier import is found by the keys it answers to,
// and when every record it holds is in this plan it is *superseded*:
// Apply moves it to the trash once the sessions that now hold its records
// are written and hold them all. One written to since (an assistant
// appended to it) is left live, and the records it holds are not imported
// again: each message stays in exactly one live session.

// Retirement is an earlier import of the same install that this plan
// supersedes, or that it leaves live because it was written to since.
type Retirement struct {
	ID       string `json:"id"`
	Key      string `json:"key"` // the raw key it was imported under
	Messages int    `json:"messages"`
	// Into are the planned sessions that hold its records now.
	Into []string `json:"into"`
	// Retire is true when it goes to the trash; false when it stays live
	// (written to since), and the records it holds are not imported again.
	Retire bool   `json:"retire"`
	Reason string `json:"reason"`
	// Done says what Apply did: "trash" (moved there, the trash name in
	// Trash), "kept" (left live), or why not.
	Done  string `json:"done,omitempty"`
	Trash string `json:"trash,omitempty"`

	lastSeq int64
	fps     []string          // fingerprints of its messages
	into    []*PlannedSession // the planned sessions that hold them
}

// earlierImports finds the live sessions imported from the same install
// (same system and directory in their origin) under an id this plan does
// not use, whose records the plan holds (p.Retire). Candidates are the
// sessions the plan's keys and former keys name (Rule B ids), and those
// whose aliases hold one of them (an id derived under another config).
func (p *Plan) earlierImports(ctx context.Context, ws *workspace.Workspace) error {
	if ws == nil || len(p.Sessions) == 0 {
		return nil
	}
	planned := map[string]bool{}
	keys := map[string]bool{}
	for _, ps := range p.Sessions {
		planned[ps.ID] = true
		add := func(l []string) {
			for _, k := range l {
				if k = strings.ToLower(strings.TrimSpace(k)); k != "" {
					keys[k] = true
				}
			}
		}
		add(ps.Keys)
		add(ps.Aliases)
		for _, s := range ps.sources {
			add(s.RawKeys)
			add(s.FormerKeys)
		}
	}
	cand := map[string]bool{}
	for k := range keys {
		if id := keying.LegacyHash(k); !planned[id] {
			cand[id] = true
		}
	}
	live := map[string]bool{}
	byAlias := map[string][]string{} // a planned key -> live sessions listing it
	// every live session's header (not the listing, which keeps a cache:
	// a plan writes nothing); on a store, SessionFiles lists no file and
	// only the ids the plan's keys name are candidates
	files, err := ws.SessionFiles(ctx)
	if err != nil {
		return fmt.Errorf("migrate: list the workspace: %w", err)
	}
	for _, f := range files {
		live[f.ID] = true
		s, err := ws.OpenID(f.ID)
		if err != nil {
			continue
		}
		h, err := s.Header(ctx)
		if err != nil {
			continue // damaged: picosess check reports it
		}
		for _, a := range h.Aliases {
			if a = strings.ToLower(a); keys[a] {
				byAlias[a] = append(byAlias[a], f.ID)
				if !planned[f.ID] {
					cand[f.ID] = true
				}
			}
		}
	}
	for _, ps := range p.Sessions {
		if !live[ps.ID] {
			if err := ps.findContinuation(ctx, ws, byAlias); err != nil {
				return err
			}
		}
	}
	onStore := ws.Store() != nil
	for id := range cand {
		if live[id] {
			continue
		}
		// the sessions directory is the whole list on files; on a store
		// (Redis) only the ids the keys name are known: asked one by one
		if _, ok, err := ws.StatSession(id); !onStore || err != nil || !ok {
			delete(cand, id)
		}
	}
	if len(cand) == 0 {
		return nil
	}
	// where each planned record is: fingerprint -> planned sessions
	where := map[string][]*PlannedSession{}
	for _, ps := range p.Sessions {
		for i := range ps.records {
			k := recFP(&ps.records[i])
			if l := where[k]; len(l) == 0 || l[len(l)-1] != ps {
				where[k] = append(where[k], ps)
			}
		}
	}
	ids := sortedKeys(cand)
	for _, id := range ids {
		if err := ctx.Err(); err != nil {
			return err
		}
		r, err := p.earlierImport(ctx, ws, id, where, live)
		if err != nil {
			return err
		}
		if r != nil {
			p.Retire = append(p.Retire, *r)
		}
	}
	// where their records go, now that every session's target is known
	for i := range p.Retire {
		r := &p.Retire[i]
		r.Into = r.Into[:0]
		for _, ps := range r.into {
			if !containsString(r.Into, ps.target()) {
				r.Into = append(r.Into, ps.target())
			}
		}
		sort.Strings(r.Into)
		if r.Retire {
			r.Reason = fmt.Sprintf("an earlier import of %s (%s): its %d message(s) are now in %s; to the trash once they are written there", r.Key, r.ID, r.Messages, strings.Join(r.Into, ", "))
		}
	}
	return nil
}

// earlierImport looks at one candidate: nil when it is not an import of
// this install or holds records the plan does not.
func (p *Plan) earlierImport(ctx context.Context, ws *workspace.Workspace, id string, where map[string][]*PlannedSession, live map[string]bool) (*Retirement, error) {
	s, err := ws.OpenID(id)
	if errors.Is(err, workspace.ErrNotFound) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("migrate: open %s: %w", id, err)
	}
	recs, err := s.ReadAll(ctx)
	if err != nil {
		return nil, fmt.Errorf("migrate: read %s: %w", id, err)
	}
	if len(recs) < 2 || recs[0].Type != workspace.TypeSession {
		return nil, nil
	}
	var o origin
	if json.Unmarshal(recs[0].Origin, &o) != nil || o.System != p.System || o.From != p.From {
		return nil, nil
	}
	r := &Retirement{ID: id, Key: o.RawKey, lastSeq: recs[len(recs)-1].Seq}
	into := map[*PlannedSession]bool{}
	// the records the import wrote lead the file; an assistant's appends
	// follow them: the first record the plan lacks ends the import
	imported := len(recs)
	for i := 1; i < len(recs); i++ {
		k := recFP(&recs[i])
		l := where[k]
		if len(l) == 0 {
			imported = i
			break
		}
		for _, ps := range l {
			into[ps] = true
		}
		if recs[i].Type == workspace.TypeMessage {
			r.Messages++
			r.fps = append(r.fps, k)
		}
	}
	if r.Messages == 0 {
		return nil, nil
	}
	for ps := range into {
		r.into = append(r.into, ps)
	}
	if imported == len(recs) {
		r.Retire = true // its reason is written once every target is known
		return r, nil
	}
	// written to since: it stays. When it is this very conversation
	// under the id an older version gave it, the conversation goes on
	// there: the plan is applied to it (what it lacks arrives late, as
	// an earlier conversation). Otherwise what it holds is not imported
	// again.
	if len(into) == 1 {
		for ps := range into {
			if containsString(ps.Keys, o.RawKey) && ps.ContinuedIn == "" && !live[ps.ID] {
				ps.ContinuedIn = id
				ps.Warnings = append(ps.Warnings, fmt.Sprintf("%s is where an earlier import put this conversation, and it was written to since: the plan is applied there, not to %s", id, ps.ID))
				r.Reason = fmt.Sprintf("an earlier import of %s (%s), written to since (%d record(s) after the import): the conversation goes on there; what this version adds goes into it", o.RawKey, id, len(recs)-imported)
				return r, nil
			}
		}
	}
	r.Reason = fmt.Sprintf("an earlier import of %s (%s), written to since (%d record(s) after the import): left live; its %d imported message(s) are not imported again", o.RawKey, id, len(recs)-imported, r.Messages)
	for ps := range into {
		ps.withoutHeld(recs[1:imported], id)
	}
	return r, nil
}

// withoutHeld takes out of the plan the messages another live session
// holds (an earlier import written to since), so that each is in one live
// session; verify finds them there. A summary or checkpoint through a
// message taken out goes with it; another reference to one falls back to
// the message before it (0 when none); resets that then bound nothing
// (first, last, or two in a row) are left out.
func (ps *PlannedSession) withoutHeld(held []workspace.Record, id string) {
	have := map[string]int{}
	for i := range held {
		if held[i].Type == workspace.TypeMessage {
			have[recFP(&held[i])]++
		}
	}
	type kept struct {
		r    workspace.Record
		prov Provenance
	}
	var out []kept
	msgSeq := map[int64]int64{} // old seq of a message -> the message standing for it
	var lastMsg int64
	taken := 0
	gone := map[int64]bool{}
	for i, r := range ps.records {
		if r.Type == workspace.TypeMessage {
			if k := recFP(&r); have[k] > 0 {
				have[k]--
				msgSeq[r.Seq] = lastMsg
				gone[r.Seq] = true
				taken++
				ps.Messages--
				ps.elsewhere = append(ps.elsewhere, heldRecord{id: id, rec: r, prov: ps.prov[i]})
				continue
			}
		}
		if r.Through != 0 && gone[r.Through] || r.Checkpoint != 0 && gone[r.Checkpoint] {
			// a summary or checkpoint of messages that stay in the
			// other session (it stands for them there, not here), and
			// what refers to such a checkpoint
			gone[r.Seq] = true
			continue
		}
		if r.Type == workspace.TypeReset && (len(out) == 0 || out[len(out)-1].r.Type == workspace.TypeReset) {
			continue
		}
		out = append(out, kept{r, ps.prov[i]})
		if r.Type == workspace.TypeMessage {
			lastMsg = r.Seq
			msgSeq[r.Seq] = r.Seq
		}
	}
	if taken == 0 {
		return
	}
	for len(out) > 0 && out[len(out)-1].r.Type == workspace.TypeReset {
		out = out[:len(out)-1]
	}
	renum := map[int64]int64{}
	for i := range out {
		renum[out[i].r.Seq] = int64(i) + 2
	}
	ps.records, ps.prov = ps.records[:0:0], ps.prov[:0:0]
	for i, k := range out {
		r := k.r
		r.Seq = int64(i) + 2
		if r.Through != 0 {
			r.Through = renum[msgSeq[r.Through]]
		}
		if r.Checkpoint != 0 {
			r.Checkpoint = renum[r.Checkpoint]
		}
		ps.records = append(ps.records, r)
		ps.prov = append(ps.prov, k.prov)
	}
	ps.Records = len(ps.records)
	ps.Warnings = append(ps.Warnings, fmt.Sprintf("%d message(s) stay in %s, an earlier import of this conversation that was written to since: not imported again", taken, id))
}

// heldRecord is a planned message that stays in another live session.
type heldRecord struct {
	id   string
	rec  workspace.Record
	prov Provenance
}

// retire moves the superseded earlier imports to the trash once every
// message each holds is in the sessions that hold it now, and only if
// nothing was appended to it since the plan looked.
func retire(ctx context.Context, ws *workspace.Workspace, p *Plan) ([]Retirement, error) {
	var out []Retirement
	for _, r := range p.Retire {
		if err := ctx.Err(); err != nil {
			return out, err
		}
		if !r.Retire {
			r.Done = "kept"
			out = append(out, r)
			continue
		}
		have := map[string]int{}
		for _, id := range r.Into {
			s, err := ws.OpenID(id)
			if err != nil {
				return out, fmt.Errorf("migrate: retire %s: %w", r.ID, err)
			}
			recs, err := s.ReadAll(ctx)
			if err != nil {
				return out, fmt.Errorf("migrate: retire %s: %w", r.ID, err)
			}
			for i := range recs {
				if recs[i].Type == workspace.TypeMessage {
					have[recFP(&recs[i])]++
				}
			}
		}
		missing := 0
		for _, k := range r.fps {
			if have[k] == 0 {
				missing++
				continue
			}
			have[k]--
		}
		if missing > 0 {
			r.Done = fmt.Sprintf("kept: %d of its messages are not in %s", missing, strings.Join(r.Into, ", "))
			out = append(out, r)
			continue
		}
		s, err := ws.OpenID(r.ID)
		if errors.Is(err, workspace.ErrNotFound) {
			r.Done = "gone already"
			out = append(out, r)
			continue
		}
		if err != nil {
			return out, fmt.Errorf("migrate: retire %s: %w", r.ID, err)
		}
		name, err := s.DeleteIf(ctx, func(m workspace.Meta) error {
			if m.LastSeq != r.lastSeq {
				return fmt.Errorf("%w: %s was written to since the plan (last seq %d, was %d)", errMoved, r.ID, m.LastSeq, r.lastSeq)
			}
			return nil
		})
		switch {
		case errors.Is(err, errMoved), errors.Is(err, workspace.ErrChanged):
			r.Done = "kept: written to since the plan; plan again"
		case err != nil:
			return out, fmt.Errorf("migrate: retire %s: %w", r.ID, err)
		default:
			r.Done, r.Trash = "trash", name
		}
		out = append(out, r)
	}
	return out, nil
}

// findContinuation sets ps.ContinuedIn when ps's session is gone because
// the assistant's route adopted it: a live session that answers to ps's
// key and records (an aliases record) that it continues ps's id.
func (ps *PlannedSession) findContinuation(ctx context.Context, ws *workspace.Workspace, byAlias map[string][]string) error {
	if len(ps.Keys) == 0 {
		return nil
	}
	for _, id := range byAlias[strings.ToLower(ps.Keys[0])] {
		if id == ps.ID {
			continue
		}
		s, err := ws.OpenID(id)
		if err != nil {
			continue
		}
		for e, err := range s.Records(ctx, 0) {
			if err != nil {
				return fmt.Errorf("migrate: read %s: %w", id, err)
			}
			if e.Type == workspace.TypeAliases && e.Continues == ps.ID {
				ps.ContinuedIn = id
				ps.Warnings = append(ps.Warnings, fmt.Sprintf("%s was continued in %s (the assistant's route took the imported conversation over): the plan is applied there", ps.ID, id))
				return nil
			}
		}
	}
	return nil
}

// target is the session the plan writes: its own, or the one it was
// continued in.
func (ps *PlannedSession) target() string {
	if ps.ContinuedIn != "" {
		return ps.ContinuedIn
	}
	return ps.ID
}
