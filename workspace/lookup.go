package workspace

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"slices"
	"strings"

	"github.com/picosess/picosess/keying"
)

// MinPrefixHex is the shortest id prefix Lookup accepts: this many hex
// digits after "sk_v1_".
const MinPrefixHex = 8

// Lookup finds the live session a reference names. A reference is, in
// the order tried:
//
//   - a full id (sk_v1_ and 64 hex digits);
//   - a canonical signature (starts with "v="), hashed to its id;
//   - a unique id prefix, at least MinPrefixHex hex digits after sk_v1_;
//   - "agent:<a>:main", which means agent a's main session and nothing else;
//   - a legacy alias listed in a header (spelled exactly, else equal
//     without case), or the raw key of a migrated session (whose id is
//     keying.Opaque of it), or a session name.
//
// The answer never depends on directory order: several matches are an
// error wrapping ErrAmbiguous that names every candidate, sorted; no match
// is an error wrapping ErrNotFound.
func (w *Workspace) Lookup(ctx context.Context, ref string) (*Session, error) {
	s, err := w.lookup(ctx, ref)
	if errors.Is(err, ErrNotFound) {
		// A session moved to the trash (rm, cleanup) is not found, but the
		// error says where it went and how to bring it back.
		ref = strings.TrimSpace(ref)
		for _, id := range []string{ref, keying.NamedID(ref), keying.Opaque(ref)} {
			if t, ok := w.InTrash(ctx, id); ok {
				return nil, fmt.Errorf("%w (%w: session %s was moved to the trash as %s; bring it back with: picosess rm --restore %s)",
					err, ErrTrashed, t.ID, t.Name, t.Name)
			}
		}
	}
	return s, err
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

func (w *Workspace) lookup(ctx context.Context, ref string) (*Session, error) {
	ref = strings.TrimSpace(ref)
	if ref == "" {
		return nil, fmt.Errorf("%w: empty session reference", ErrNotFound)
	}
	switch {
	case keying.IsID(ref):
		return w.OpenID(ref)
	case strings.HasPrefix(ref, "v="):
		return w.openIDAs(keying.Opaque(ref), "signature "+ref)
	case strings.HasPrefix(ref, keying.IDPrefix):
		return w.lookupPrefix(ctx, ref)
	}
	if agent, ok := mainKeyAgent(ref); ok {
		return w.openIDAs(keying.MainID(agent), "main session "+ref)
	}
	entries, err := w.meta.refresh(ctx)
	if err != nil {
		return nil, err
	}
	lref := strings.ToLower(ref)
	opaque := keying.Opaque(ref)
	named := keying.NamedID(ref)
	// An alias spelled exactly as given wins over one equal only without
	// case (some legacy systems kept case, so two sessions may have
	// aliases that differ only in it).
	var exact, folded []string
	for _, e := range entries {
		match := e.ID == opaque || e.ID == named || e.Name != "" && e.Name == keying.NormalizeName(ref)
		if match {
			exact = append(exact, e.ID)
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
	if len(exact) > 0 {
		return w.pick(ref, exact)
	}
	return w.pick(ref, folded)
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
	return w.pick(ref, ids)
}

// pick returns the one session of ids, or says why it cannot.
func (w *Workspace) pick(ref string, ids []string) (*Session, error) {
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
	return nil, &AmbiguousError{Ref: ref, Candidates: ids}
}

// mainKeyAgent recognises agent:<a>:main.
func mainKeyAgent(ref string) (string, bool) {
	parts := strings.Split(strings.ToLower(ref), ":")
	if len(parts) == 3 && parts[0] == "agent" && parts[2] == "main" && parts[1] != "" {
		return parts[1], true
	}
	return "", false
}
