package workspace

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"slices"
	"strconv"
	"strings"

	"github.com/picosess/picosess/keying"
)

// MinPrefixHex is the shortest id prefix Lookup accepts: this many hex
// digits after "sk_v1_".
const MinPrefixHex = 8

// The ways a reference can name a session, in the order LookupRef tries
// them (Ref.By, AmbiguousError.By).
const (
	MatchID        = "id"         // sk_v1_ and 64 hex digits
	MatchSignature = "signature"  // v=1|agent=...: its id
	MatchMainKey   = "main key"   // agent:<a>:main: agent a's main session only
	MatchPrefix    = "id prefix"  // sk_v1_ and 8+ hex digits, or 8+ hex digits alone
	MatchName      = "name"       // a named session's name
	MatchKey       = "legacy key" // the raw key a migrated session's id was made of
	MatchAlias     = "alias"      // a legacy alias in a header
	MatchTitle     = "title"      // the whole title, case and spacing aside
	MatchTitlePart = "title part" // part of a title, case aside
)

// Ref is what a session reference names.
type Ref struct {
	Session *Session
	By      string // how: a Match... constant
	// Seq is the record a reference of the form <id>:<seq> (as search
	// prints hits) points at; 0 otherwise. LookupRef does not check that
	// the session has it.
	Seq int64
}

// Lookup finds the live session a reference names: LookupRef without the
// details.
func (w *Workspace) Lookup(ctx context.Context, ref string) (*Session, error) {
	r, err := w.LookupRef(ctx, ref)
	return r.Session, err
}

// LookupRef finds the live session a reference names. A reference is, in
// the order tried (the first kind that matches anything decides):
//
//  1. a full id (sk_v1_ and 64 hex digits);
//  2. a canonical signature (starts with "v="), hashed to its id;
//  3. "agent:<a>:main", which means agent a's main session and nothing else;
//  4. an id prefix, sk_v1_ and at least MinPrefixHex hex digits (a
//     reference starting with sk_v1_ is never anything else);
//  5. a session name, or the raw key of a migrated session (whose id is
//     keying.Opaque of it);
//  6. a legacy alias listed in a header, spelled exactly, else equal
//     without case;
//  7. an id prefix without sk_v1_: at least MinPrefixHex hex digits;
//  8. a title, whole (case and runs of spaces aside);
//  9. part of a title (case aside).
//
// Forms 1, 4 and 7 may end in :<seq>, as search prints its hits
// (sk_v1_67fe19a8ec8f:12); Ref.Seq is then that seq.
//
// The answer never depends on directory order: several matches of the
// deciding kind are an *AmbiguousError (wrapping ErrAmbiguous) naming every
// candidate, sorted, with its title and last activity; no match is an
// error wrapping ErrNotFound, which says where a session in the trash went.
func (w *Workspace) LookupRef(ctx context.Context, ref string) (Ref, error) {
	r, err := w.resolveRef(ctx, ref)
	var amb *AmbiguousError
	if errors.As(err, &amb) && amb.Matches == nil {
		w.describe(ctx, amb)
	}
	if errors.Is(err, ErrNotFound) {
		// A session moved to the trash (rm, cleanup) is not found, but the
		// error says where it went and how to bring it back.
		ref = strings.TrimSpace(ref)
		for _, id := range []string{ref, keying.NamedID(ref), keying.Opaque(ref)} {
			if t, ok := w.InTrash(ctx, id); ok {
				return Ref{}, fmt.Errorf("%w (%w: session %s was moved to the trash as %s; bring it back with: picosess rm --restore %s)",
					err, ErrTrashed, t.ID, t.Name, t.Name)
			}
		}
	}
	return r, err
}

// InTrash finds the latest trash entry of session id (rm, cleanup).
func (w *Workspace) InTrash(ctx context.Context, id string) (Trashed, bool) {
	if !keying.IsID(id) {
		return Trashed{}, false
	}
	list, err := w.Trash(ctx)
	if err != nil {
		return Trashed{}, false
	}
	var found Trashed
	for _, t := range list {
		if t.ID == id && (found.Name == "" || t.Deleted.After(found.Deleted)) {
			found = t
		}
	}
	return found, found.Name != ""
}

func (w *Workspace) resolveRef(ctx context.Context, ref string) (Ref, error) {
	ref = strings.TrimSpace(ref)
	if ref == "" {
		return Ref{}, fmt.Errorf("%w: empty session reference", ErrNotFound)
	}
	id, seq, hasSeq := splitSeq(ref)
	switch {
	case keying.IsID(id):
		s, err := w.OpenID(id)
		return Ref{Session: s, By: MatchID, Seq: seq}, err
	case strings.HasPrefix(ref, "v="):
		s, err := w.openIDAs(keying.Opaque(ref), "signature "+ref)
		return Ref{Session: s, By: MatchSignature}, err
	case strings.HasPrefix(ref, keying.IDPrefix):
		s, err := w.lookupPrefix(ctx, id)
		return Ref{Session: s, By: MatchPrefix, Seq: seq}, err
	}
	if agent, ok := mainKeyAgent(ref); ok {
		s, err := w.openIDAs(keying.MainID(agent), "main session "+ref)
		return Ref{Session: s, By: MatchMainKey}, err
	}
	entries, err := w.meta.refreshEntries(ctx)
	if err != nil {
		return Ref{}, err
	}
	lref := strings.ToLower(ref)
	opaque, named, name := keying.Opaque(ref), keying.NamedID(ref), keying.NormalizeName(ref)
	// An alias spelled exactly as given wins over one equal only without
	// case (some legacy systems kept case, so two sessions may have
	// aliases that differ only in it).
	var byName, byKey, exact, folded []string
	for _, e := range entries {
		switch {
		case e.ID == named || e.Name != "" && e.Name == name:
			byName = append(byName, e.ID)
			continue
		case e.ID == opaque:
			byKey = append(byKey, e.ID)
			continue
		}
		for _, a := range e.Aliases {
			if a == ref {
				exact = append(exact, e.ID)
				break
			}
			if strings.ToLower(a) == lref {
				folded = append(folded, e.ID)
				break
			}
		}
	}
	if len(byName) == 0 && len(byKey) > 0 && len(exact) > 0 {
		// A legacy key that is an old session's own and an alias of the
		// session that continues it (Continue) means the continuation.
		if c := w.continuation(append(slices.Clone(byKey), exact...)); c != "" && !slices.Contains(byKey, c) {
			s, err := w.OpenID(c)
			return Ref{Session: s, By: MatchAlias}, err
		}
	}
	for _, tier := range []struct {
		by  string
		ids []string
	}{{MatchName, byName}, {MatchKey, byKey}, {MatchAlias, exact}, {MatchAlias, folded}} {
		if len(tier.ids) > 0 {
			s, err := w.pick(ref, tier.by, tier.ids)
			return Ref{Session: s, By: tier.by}, err
		}
	}
	if hex := strings.ToLower(id); isHex(hex) && len(hex) >= MinPrefixHex && (hasSeq || isHex(lref)) {
		ids := prefixIDs(entries, keying.IDPrefix+hex)
		if len(ids) > 0 || hasSeq {
			s, err := w.pick(ref, MatchPrefix, ids)
			return Ref{Session: s, By: MatchPrefix, Seq: seq}, err
		}
	}
	title := foldTitle(ref)
	var whole, part []string
	for _, e := range entries {
		t := foldTitle(e.Title)
		switch {
		case t == "":
		case t == title:
			whole = append(whole, e.ID)
		case strings.Contains(t, title):
			part = append(part, e.ID)
		}
	}
	if len(whole) > 0 {
		s, err := w.pick(ref, MatchTitle, whole)
		return Ref{Session: s, By: MatchTitle}, err
	}
	s, err := w.pick(ref, MatchTitlePart, part)
	return Ref{Session: s, By: MatchTitlePart}, err
}

// splitSeq splits "<id or prefix>:<seq>" (a search hit); ok is false, and
// ref comes back whole, when ref does not end in : and digits.
func splitSeq(ref string) (id string, seq int64, ok bool) {
	i := strings.LastIndexByte(ref, ':')
	if i <= 0 || i == len(ref)-1 {
		return ref, 0, false
	}
	n, err := strconv.ParseInt(ref[i+1:], 10, 64)
	if err != nil || n < 1 || strings.HasPrefix(ref[i+1:], "+") {
		return ref, 0, false
	}
	head := ref[:i]
	if !strings.HasPrefix(head, keying.IDPrefix) && !isHex(strings.ToLower(head)) {
		return ref, 0, false
	}
	return head, n, true
}

func isHex(s string) bool {
	for i := 0; i < len(s); i++ {
		if c := s[i]; !('0' <= c && c <= '9' || 'a' <= c && c <= 'f') {
			return false
		}
	}
	return s != ""
}

// prefixIDs are the ids of entries that start with prefix.
func prefixIDs(entries []*metaEntry, prefix string) []string {
	var ids []string
	for _, e := range entries {
		if strings.HasPrefix(e.ID, prefix) {
			ids = append(ids, e.ID)
		}
	}
	return ids
}

// foldTitle is a title as LookupRef compares it: lowercase, runs of spaces
// as one.
func foldTitle(s string) string { return strings.ToLower(strings.Join(strings.Fields(s), " ")) }

// describe fills in the title and last activity of each candidate.
func (w *Workspace) describe(ctx context.Context, amb *AmbiguousError) {
	entries, err := w.meta.refreshEntries(ctx)
	if err != nil {
		return
	}
	byID := make(map[string]*metaEntry, len(entries))
	for _, e := range entries {
		byID[e.ID] = e
	}
	amb.Matches = make([]Candidate, len(amb.Candidates))
	for i, id := range amb.Candidates {
		amb.Matches[i].ID = id
		if e := byID[id]; e != nil {
			amb.Matches[i].Title, amb.Matches[i].Updated = e.Title, e.Updated
		}
	}
}

// openIDAs opens id, saying what reference it came from when it is absent.
func (w *Workspace) openIDAs(id, what string) (*Session, error) {
	s, err := w.OpenID(id)
	if errors.Is(err, ErrNotFound) {
		return nil, fmt.Errorf("%w: no session for %s (id %s)", ErrNotFound, what, id)
	}
	return s, err
}

func (w *Workspace) lookupPrefix(ctx context.Context, ref string) (*Session, error) {
	hex := ref[len(keying.IDPrefix):]
	if len(hex) < MinPrefixHex {
		return nil, fmt.Errorf("%w: id prefix %q is too short (at least %d hex digits after %s)", ErrNotFound, ref, MinPrefixHex, keying.IDPrefix)
	}
	for _, c := range hex {
		if !('0' <= c && c <= '9' || 'a' <= c && c <= 'f') {
			return nil, fmt.Errorf("%w: %q is not an id prefix (lowercase hex digits after %s)", ErrNotFound, ref, keying.IDPrefix)
		}
	}
	des, err := w.fs.ReadDir(w.sessionsDir())
	if err != nil {
		return nil, fmt.Errorf("workspace: list %s: %w", w.sessionsDir(), err)
	}
	var ids []string
	for _, de := range des {
		if id := idFromFileName(de.Name()); id != "" && strings.HasPrefix(id, ref) {
			ids = append(ids, id)
		}
	}
	return w.pick(ref, MatchPrefix, ids)
}

// pick returns the one session of ids, or says why it cannot.
func (w *Workspace) pick(ref, by string, ids []string) (*Session, error) {
	slices.Sort(ids)
	ids = slices.Compact(ids)
	switch len(ids) {
	case 0:
		return nil, fmt.Errorf("%w: no session matches %q", ErrNotFound, ref)
	case 1:
		s, err := w.OpenID(ids[0])
		if errors.Is(err, fs.ErrNotExist) {
			return nil, fmt.Errorf("%w: no session matches %q", ErrNotFound, ref)
		}
		return s, err
	}
	if c := w.continuation(ids); c != "" {
		return w.OpenID(c)
	}
	return nil, &AmbiguousError{Ref: ref, Candidates: ids, By: by}
}

// continuation resolves an ambiguity that Continue made on purpose: when
// every candidate but one is continued by another candidate (its aliases
// records name it), that one is the answer. Read only on this rare path.
func (w *Workspace) continuation(ids []string) string {
	continued := map[string]bool{}
	for _, id := range ids {
		s, err := w.OpenID(id)
		if err != nil {
			return ""
		}
		for e, err := range s.Records(context.Background(), 0) {
			if err != nil {
				return ""
			}
			if e.Type == TypeAliases && e.Continues != "" {
				continued[e.Continues] = true
			}
		}
	}
	left := ""
	for _, id := range ids {
		if continued[id] {
			continue
		}
		if left != "" {
			return ""
		}
		left = id
	}
	return left
}

// mainKeyAgent recognises agent:<a>:main.
func mainKeyAgent(ref string) (string, bool) {
	parts := strings.Split(strings.ToLower(ref), ":")
	if len(parts) == 3 && parts[0] == "agent" && parts[2] == "main" && parts[1] != "" {
		return parts[1], true
	}
	return "", false
}
