package workspace

import (
	"context"
	"errors"
	"fmt"
	"path/filepath"
	"strings"
	"time"
)

// DefaultPollInterval is how often Watch rescans even without file events:
// fsnotify events are hints (they can be dropped, coalesced, or missing on
// network filesystems), never the only trigger.
const DefaultPollInterval = time.Second

// WatchOptions configure Watch.
type WatchOptions struct {
	// Session limits the watch to one session id; "" watches them all.
	Session string
	// After delivers only records with a larger seq. Zero with FromStart
	// false starts at the current end of each file: only new records.
	After     int64
	FromStart bool
	// Poll is the rescan interval; zero means DefaultPollInterval.
	Poll time.Duration
}

// Watch calls fn for every record appended to the workspace's sessions
// (or to one session) by any process, in order per session, until ctx is
// done (it then returns nil) or fn returns an error. A session file that
// was replaced or shrank (repair, restore from trash) is read again from
// its start, delivering only seqs after the last one delivered. Sessions
// created after Watch began are followed from their first record.
func (w *Workspace) Watch(ctx context.Context, o WatchOptions, fn func(id string, e Entry) error) error {
	return w.WatchReady(ctx, o, nil, fn)
}

func ignoreDone(ctx context.Context, err error) error {
	if ctx.Err() != nil && errors.Is(err, ctx.Err()) {
		return nil
	}
	return err
}

type follower struct {
	w     *Workspace
	only  string
	files map[string]*followed
}

// followed is how far one session file has been delivered.
type followed struct {
	ident   Identity
	end     int64
	lastSeq int64
}

// scan reads whatever is new in every session file.
func (f *follower) scan(ctx context.Context, first bool, o WatchOptions, fn func(string, Entry) error) error {
	ids, err := f.ids()
	if err != nil {
		return err
	}
	for _, id := range ids {
		s := &Session{w: f.w, st: f.w.state(id), id: id}
		now, err := s.Identity()
		if errors.Is(err, ErrNotFound) {
			continue // deleted between listing and stat
		}
		if err != nil {
			return err
		}
		st, seen := f.files[id]
		switch {
		case !seen && first && !o.FromStart && o.After == 0:
			// Start at the end: only what is appended from now on.
			st = &followed{ident: now}
			st.end, st.lastSeq, err = s.tailPosition(now.Size)
			if err != nil {
				return err
			}
			f.files[id] = st
			continue
		case !seen:
			st = &followed{lastSeq: o.After}
			f.files[id] = st
		case st.ident.equal(now):
			continue
		case !st.ident.Continues(now):
			st.end = 0 // replaced or shrank: read again, skip what was delivered
		}
		for e, err := range s.Records(ctx, st.end) {
			if err != nil {
				return err
			}
			st.end = e.End
			if e.Seq <= st.lastSeq {
				continue
			}
			st.lastSeq = e.Seq
			if err := fn(id, e); err != nil {
				return err
			}
		}
		st.ident = now
	}
	return nil
}

// tailPosition returns the end of the complete lines and the last seq,
// reading backwards from the end of a file of the given size.
func (s *Session) tailPosition(size int64) (end, last int64, err error) {
	f, err := s.openRead()
	if err != nil {
		return 0, 0, err
	}
	defer f.Close()
	if end, err = completeEnd(f, size, s.Path()); err != nil {
		return 0, 0, err
	}
	last, err = lastSeq(f, end, s.Path(), s.w.readLimit())
	return end, last, err
}

func (f *follower) ids() ([]string, error) {
	if f.only != "" {
		return []string{f.only}, nil
	}
	entries, err := f.w.fs.ReadDir(f.w.sessionsDir())
	if err != nil {
		return nil, fmt.Errorf("workspace: watch: %w", err)
	}
	var ids []string
	for _, e := range entries {
		name := e.Name()
		if !e.Type().IsRegular() || filepath.Ext(name) != ".jsonl" {
			continue // symbolic links are not followed (check reports them)
		}
		if id := strings.TrimSuffix(name, ".jsonl"); checkID(id) == nil {
			ids = append(ids, id)
		}
	}
	return ids, nil
}
