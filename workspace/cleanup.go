package workspace

import (
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/picosess/picosess/workspace/config"
)

// Cleanup is retention in the shape of restic's ApplyPolicy: SelectCleanup
// decides, purely, from listing metadata, what goes and why;
// Workspace.Cleanup acts on the decisions (trash, then purge) and reports.

// Cleanup actions of a CleanupDecision.
const (
	CleanupTrash = "trash"
	CleanupKeep  = "keep"
)

// Reasons Workspace.Cleanup gives when it keeps a session SelectCleanup
// chose, having looked again under the session's lock.
const (
	CleanupWrittenMeanwhile = "written meanwhile"
	CleanupGoneMeanwhile    = "gone meanwhile"
	CleanupLocked           = "locked"
)

// CleanupOptions select what Cleanup does. The zero value does nothing:
// set OlderThan, PurgeAfter, or both.
type CleanupOptions struct {
	// OlderThan moves to the trash the sessions whose last message is older
	// than this; 0 moves none.
	OlderThan time.Duration
	// KeepCheckpoints keeps idle sessions that have a live checkpoint.
	KeepCheckpoints bool
	// Agent and Channel, when set, limit cleanup to the sessions of that
	// agent and channel; others are neither trashed nor reported.
	Agent, Channel string
	// PurgeAfter removes from the trash, for good, what was deleted longer
	// ago than this; 0 purges nothing.
	PurgeAfter time.Duration
	// DryRun reports what would be done and changes nothing.
	DryRun bool
	// Now is the time ages are measured from; zero means the workspace
	// clock (Options.Now).
	Now time.Time
}

// CleanupDecision says what cleanup does with one session, and why.
type CleanupDecision struct {
	ID      string    `json:"id"`
	Title   string    `json:"title"`
	Updated time.Time `json:"updated"` // time of the last message (Meta.Updated)
	Size    int64     `json:"size"`
	Action  string    `json:"action"` // CleanupTrash or CleanupKeep
	// Reason: "idle 45d > 30d", "active 2h ago", "has checkpoint",
	// "written meanwhile", ...
	Reason string `json:"reason"`
	// Trash is the session's file name in sessions/.trash/ once moved.
	Trash string `json:"trash,omitempty"`
}

// CleanupTotal counts the entries of one list of a CleanupReport.
type CleanupTotal struct {
	Count int   `json:"count"`
	Bytes int64 `json:"bytes"`
}

// CleanupReport is what Cleanup did, or in a dry run would do.
type CleanupReport struct {
	DryRun bool      `json:"dry_run"`
	Now    time.Time `json:"now"`
	// IdleBefore: sessions last written before this were candidates for
	// the trash (zero: OlderThan was 0).
	IdleBefore time.Time `json:"idle_before,omitzero"`
	// PurgeBefore: trash entries deleted before this were purged (zero:
	// PurgeAfter was 0).
	PurgeBefore time.Time `json:"purge_before,omitzero"`
	// Trashed are the sessions moved to the trash (dry run: to be moved).
	Trashed []CleanupDecision `json:"trashed"`
	// Kept are the other sessions in scope (Agent, Channel), with why.
	Kept []CleanupDecision `json:"kept"`
	// Purged are the trash entries removed for good (dry run: to be).
	Purged []Trashed `json:"purged"`

	TrashedTotal CleanupTotal `json:"trashed_total"`
	KeptTotal    CleanupTotal `json:"kept_total"`
	PurgedTotal  CleanupTotal `json:"purged_total"`
}

func (r *CleanupReport) add(d CleanupDecision) {
	if d.Action == CleanupTrash {
		r.Trashed = append(r.Trashed, d)
		r.TrashedTotal.Count++
		r.TrashedTotal.Bytes += d.Size
		return
	}
	r.Kept = append(r.Kept, d)
	r.KeptTotal.Count++
	r.KeptTotal.Bytes += d.Size
}

// SelectCleanup decides, for each session of metas that matches o.Agent
// and o.Channel, whether cleanup moves it to the trash: only sessions idle
// (now minus the last message time) longer than o.OlderThan are candidates,
// and with o.KeepCheckpoints a candidate with a checkpoint stays.
// hasCheckpoint is asked about candidates only, so that it may be costly
// (reading the session); it may be nil when o.KeepCheckpoints is false.
// Decisions come in the order of metas; o.OlderThan <= 0 selects nothing
// and returns nil. It reads no file and does nothing.
//
// A candidate brought back from the trash (an untrash record after its
// last message) within o.OlderThan stays: untrashed, when not nil, says
// when that was (zero: never), and is asked about candidates only.
func SelectCleanup(metas []Meta, hasCheckpoint func(id string) bool, o CleanupOptions, now time.Time) []CleanupDecision {
	return selectCleanup(metas, hasCheckpoint, nil, o, now)
}

func selectCleanup(metas []Meta, hasCheckpoint func(id string) bool, untrashed func(id string) time.Time, o CleanupOptions, now time.Time) []CleanupDecision {
	if o.OlderThan <= 0 {
		return nil
	}
	agent, channel := strings.ToLower(o.Agent), strings.ToLower(o.Channel)
	var out []CleanupDecision
	for _, m := range metas {
		if agent != "" && m.Agent != agent || channel != "" && m.Channel != channel {
			continue
		}
		d := CleanupDecision{ID: m.ID, Title: m.Title, Updated: m.Updated, Size: m.Size, Action: CleanupKeep}
		idle := now.Sub(m.Updated)
		switch {
		case m.Updated.IsZero():
			// No readable record: a damaged file is for check and
			// repair to look at, not for cleanup to hide.
			d.Reason = "no record time (see picosess check)"
		case idle <= o.OlderThan:
			d.Reason = "active " + FormatAge(idle) + " ago"
		case untrashed != nil && restoredWithin(untrashed(m.ID), now, o.OlderThan):
			d.Reason = "brought back from the trash " + FormatAge(now.Sub(untrashed(m.ID))) + " ago"
		case o.KeepCheckpoints && hasCheckpoint != nil && hasCheckpoint(m.ID):
			d.Reason = "has checkpoint"
		default:
			d.Action = CleanupTrash
			d.Reason = fmt.Sprintf("idle %s > %s", FormatAge(idle), FormatAge(o.OlderThan))
		}
		out = append(out, d)
	}
	return out
}

// Cleanup moves the sessions SelectCleanup chooses to the trash, then
// purges the trash entries deleted more than o.PurgeAfter ago, and reports
// both; o.DryRun only reports. Each move takes the session's lock and
// checks again, under it, that the session is as idle as when listed: one
// written since is kept with CleanupWrittenMeanwhile. A session whose lock
// stays taken is kept with CleanupLocked, the others are still processed,
// and the error returned at the end wraps ErrLocked. Any other error stops
// cleanup; the report then holds what was done until then.
func (w *Workspace) Cleanup(ctx context.Context, o CleanupOptions) (CleanupReport, error) {
	return w.cleanup(ctx, o, nil)
}

// cleanup is Cleanup with a hook called before each move (tests use it to
// write into a session between the listing and the move).
func (w *Workspace) cleanup(ctx context.Context, o CleanupOptions, beforeMove func(CleanupDecision)) (CleanupReport, error) {
	if o.OlderThan < 0 || o.PurgeAfter < 0 {
		return CleanupReport{}, fmt.Errorf("workspace: cleanup: negative duration (older than %s, purge after %s)", o.OlderThan, o.PurgeAfter)
	}
	now := o.Now
	if now.IsZero() {
		now = w.opts.Now()
	}
	rep := CleanupReport{DryRun: o.DryRun, Now: now.UTC(), Trashed: []CleanupDecision{}, Kept: []CleanupDecision{}, Purged: []Trashed{}}
	var lockErr error
	if o.OlderThan > 0 {
		rep.IdleBefore = rep.Now.Add(-o.OlderThan)
		var err error
		if lockErr, err = w.cleanupSessions(ctx, o, now, &rep, beforeMove); err != nil {
			return rep, err
		}
	}
	if o.PurgeAfter > 0 {
		rep.PurgeBefore = rep.Now.Add(-o.PurgeAfter)
		if err := w.cleanupTrash(ctx, o.DryRun, rep.PurgeBefore, &rep); err != nil {
			return rep, err
		}
	}
	return rep, lockErr
}

// cleanupSessions selects and moves sessions. lockErr reports the sessions
// left in place because their lock stayed taken; err stops cleanup.
func (w *Workspace) cleanupSessions(ctx context.Context, o CleanupOptions, now time.Time, rep *CleanupReport, beforeMove func(CleanupDecision)) (lockErr error, err error) {
	metas, err := w.List(ctx, ListOptions{Agent: o.Agent, Channel: o.Channel})
	if err != nil {
		return nil, err
	}
	var cpErr error
	hasCheckpoint := func(id string) bool {
		if cpErr != nil {
			return true
		}
		cps, err := w.checkpointsOf(ctx, id)
		switch {
		case err == nil:
			return len(cps) > 0
		case errors.Is(err, ErrNotFound):
			return false // gone: the move finds out and says so
		}
		cpErr = fmt.Errorf("workspace: cleanup: checkpoints of %s: %w", id, err)
		return true
	}
	var utErr error
	untrashed := func(id string) time.Time {
		if utErr != nil {
			return time.Time{}
		}
		s, err := w.OpenID(id)
		if err == nil {
			var at time.Time
			if at, err = s.untrashedAt(ctx); err == nil {
				return at
			}
		}
		if !errors.Is(err, ErrNotFound) {
			utErr = fmt.Errorf("workspace: cleanup: %s: %w", id, err)
		}
		return time.Time{}
	}
	decisions := selectCleanup(metas, hasCheckpoint, untrashed, o, now)
	if utErr != nil {
		return nil, utErr
	}
	if cpErr != nil {
		return nil, cpErr
	}
	idleBefore := now.Add(-o.OlderThan)
	locked, moved := 0, 0
	defer func() {
		if moved > 0 {
			w.syncDir(w.sessionsDir())
			w.syncDir(w.trashDir())
		}
	}()
	for _, d := range decisions {
		if d.Action != CleanupTrash || o.DryRun {
			rep.add(d)
			continue
		}
		if err := ctx.Err(); err != nil {
			return nil, err
		}
		if beforeMove != nil {
			beforeMove(d)
		}
		name, err := w.trashIfIdle(ctx, d, idleBefore)
		switch {
		case err == nil:
			d.Trash = name
			moved++
		case errors.Is(err, errWrittenMeanwhile):
			d.Action, d.Reason = CleanupKeep, CleanupWrittenMeanwhile
		case errors.Is(err, ErrNotFound):
			d.Action, d.Reason = CleanupKeep, CleanupGoneMeanwhile
		case errors.Is(err, ErrLocked) && ctx.Err() == nil:
			d.Action, d.Reason = CleanupKeep, CleanupLocked
			if locked++; lockErr == nil {
				lockErr = err
			}
		default:
			return nil, err
		}
		rep.add(d)
	}
	if locked > 0 {
		lockErr = fmt.Errorf("workspace: cleanup left %d locked session(s) in place; run it again later: %w", locked, lockErr)
	}
	return lockErr, nil
}

// checkpointsOf lists the live checkpoints of session id.
func (w *Workspace) checkpointsOf(ctx context.Context, id string) ([]Checkpoint, error) {
	s, err := w.OpenID(id)
	if err != nil {
		return nil, err
	}
	cps, err := s.Checkpoints(ctx)
	if errors.Is(err, ErrKeyRequired) || errors.Is(err, ErrWrongKey) {
		return s.checkpointsClear(ctx) // encrypted, no key: encrypt_meta.go
	}
	return cps, err
}

// cleanupTrash purges (dry run: lists) the trash entries deleted before
// before.
func (w *Workspace) cleanupTrash(ctx context.Context, dryRun bool, before time.Time, rep *CleanupReport) error {
	var list []Trashed
	var err error
	if dryRun {
		var all []Trashed
		if all, err = w.Trash(ctx); err != nil {
			return err
		}
		for _, t := range all {
			if t.Deleted.Before(before) {
				list = append(list, t)
			}
		}
	} else {
		list, err = w.Purge(ctx, PurgeOptions{Before: before})
	}
	for _, t := range list {
		rep.Purged = append(rep.Purged, t)
		rep.PurgedTotal.Count++
		rep.PurgedTotal.Bytes += t.Size
	}
	return err
}

// errWrittenMeanwhile: a session chosen for the trash was written after
// the listing that chose it.
var errWrittenMeanwhile = errors.New("workspace: session written meanwhile")

// trashIfIdle is Delete for cleanup: under the session's lock it looks at
// the session again and moves it only if it is still the file the listing
// saw (same size, last message before idleBefore). The listing was taken
// without the lock, so an append may have landed since; once the lock is
// held none can land before the rename. It returns the trash name, or an
// error wrapping errWrittenMeanwhile, ErrNotFound or ErrLocked.
func (w *Workspace) trashIfIdle(ctx context.Context, listed CleanupDecision, idleBefore time.Time) (string, error) {
	s, err := w.OpenID(listed.ID)
	if err != nil {
		return "", err
	}
	name, err := s.trashIf(ctx, func(m Meta) error {
		if m.Size != listed.Size || !m.Updated.Equal(listed.Updated) || !m.Updated.Before(idleBefore) {
			return fmt.Errorf("%w: %s (last message %s, listed %s)", errWrittenMeanwhile, s.id, m.Updated.Format(time.RFC3339), listed.Updated.Format(time.RFC3339))
		}
		return nil
	})
	if errors.Is(err, ErrChanged) {
		// On a store: another machine appended after the look above.
		return "", fmt.Errorf("%w: %w", errWrittenMeanwhile, err)
	}
	return name, err
}

// moveToTrashLocked moves the session file into sessions/.trash/, as
// Delete does; the caller holds the session's lock and syncs the two
// directories afterwards.
func (s *Session) moveToTrashLocked() (string, error) { return s.moveToTrashIf(-1) }

// moveToTrashIf is moveToTrashLocked that, on a store, moves the session
// only if it still holds ifSize bytes (>= 0), in the store's atomic step:
// there the session lock does not keep other machines' appends out.
func (s *Session) moveToTrashIf(ifSize int64) (string, error) {
	if _, err := s.w.lstatRegular(s.Path()); err != nil {
		if errors.Is(err, fs.ErrNotExist) {
			return "", fmt.Errorf("%w: session %s", ErrNotFound, s.id)
		}
		if errors.Is(err, ErrNotRegular) {
			return "", err
		}
		return "", fmt.Errorf("workspace: %w", err)
	}
	if err := s.w.trashReady(); err != nil {
		return "", err
	}
	name := s.id + SessionExt
	stamp := s.w.opts.Now().UTC().Format("20060102T150405.000000000Z")
	for i := 0; ; i++ {
		if _, err := s.w.lstat(filepath.Join(s.w.trashDir(), name)); errors.Is(err, fs.ErrNotExist) {
			break
		}
		// An earlier deletion of the same id is in the trash already.
		name = fmt.Sprintf("%s.%s%s", s.id, stamp, SessionExt)
		if i > 0 {
			name = fmt.Sprintf("%s.%s-%d%s", s.id, stamp, i, SessionExt)
		}
	}
	if err := s.w.renameToTrash(s.Path(), filepath.Join(s.w.trashDir(), name), ifSize); err != nil {
		return "", fmt.Errorf("workspace: move %s to trash: %w", s.Path(), err)
	}
	// The directories are synced once at the end of cleanup, not per move:
	// a move that a power loss undoes leaves the session where it was,
	// whole, which the next cleanup moves again.
	s.st.known = false
	return name, nil
}

// CleanupOptionsFromConfig maps the config's cleanup block to options:
// older_than (or ttl), purge_after, keep_checkpoints.
func CleanupOptionsFromConfig(c config.Cleanup) CleanupOptions {
	return CleanupOptions{OlderThan: c.Expiry(), PurgeAfter: time.Duration(c.PurgeAfter), KeepCheckpoints: c.KeepCheckpoints}
}

// CleanupFromConfig runs Cleanup as the config's cleanup block says. A
// block that sets neither an expiry nor purge_after does nothing and
// returns an empty report.
func (w *Workspace) CleanupFromConfig(ctx context.Context, c config.Cleanup, dryRun bool) (CleanupReport, error) {
	o := CleanupOptionsFromConfig(c)
	o.DryRun = dryRun
	return w.Cleanup(ctx, o)
}

// FormatAge writes a duration in at most two units, the larger first:
// 45d, 30d5h, 2h15m, 90s is 1m30s. Negative durations count as 0s.
func FormatAge(d time.Duration) string {
	if d < time.Second {
		return "0s"
	}
	units := []struct {
		suffix string
		unit   time.Duration
	}{{"d", 24 * time.Hour}, {"h", time.Hour}, {"m", time.Minute}, {"s", time.Second}}
	for i, u := range units {
		if d < u.unit {
			continue
		}
		s := fmt.Sprintf("%d%s", d/u.unit, u.suffix)
		if i+1 < len(units) {
			if n := (d % u.unit) / units[i+1].unit; n > 0 {
				s += fmt.Sprintf("%d%s", n, units[i+1].suffix)
			}
		}
		return s
	}
	return "0s"
}

// CleanupEvery applies the config's cleanup block (Workspace.Config) now
// and then every cleanup.interval (default config.DefaultCleanupInterval)
// until ctx ends, handing each run's report and error to report (which
// may be nil). It returns at once when the block asks for nothing. serve
// and watch run it; an embedder that runs a long-lived process may too.
func (w *Workspace) CleanupEvery(ctx context.Context, report func(CleanupReport, error)) {
	c := w.opts.Config.Cleanup
	if !c.Active() {
		return
	}
	every := time.Duration(c.Interval)
	if every <= 0 {
		every = config.DefaultCleanupInterval
	}
	t := time.NewTicker(every)
	defer t.Stop()
	for {
		rep, err := w.CleanupFromConfig(ctx, c, false)
		if ctx.Err() != nil {
			return
		}
		if report != nil {
			report(rep, err)
		}
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}

// restoredWithin reports whether at (an untrash record's time; zero:
// none) is at most d before now.
func restoredWithin(at, now time.Time, d time.Duration) bool {
	return !at.IsZero() && now.Sub(at) <= d
}

// untrashedAt returns the time of the last untrash record after the
// session's last message (zero when there is none): reading back from the
// end of the file to the last message, which is most often a line or two.
func (s *Session) untrashedAt(ctx context.Context) (time.Time, error) {
	f, err := s.w.fs.OpenFile(s.Path(), os.O_RDONLY, 0)
	if err != nil {
		if errors.Is(err, fs.ErrNotExist) {
			return time.Time{}, fmt.Errorf("%w: session %s", ErrNotFound, s.id)
		}
		return time.Time{}, fmt.Errorf("workspace: %w", err)
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil {
		return time.Time{}, fmt.Errorf("workspace: %w", err)
	}
	end, err := completeEnd(f, fi.Size(), s.Path())
	if err != nil {
		return time.Time{}, err
	}
	br := newBackReader(f, s.Path(), end, s.w.readLimit())
	for {
		if err := ctx.Err(); err != nil {
			return time.Time{}, err
		}
		line, _, err := br.prev()
		if err == io.EOF {
			return time.Time{}, nil
		}
		if err != nil {
			return time.Time{}, err
		}
		switch typ, _, _ := headOf(line); typ {
		case TypeMessage, TypeSession:
			return time.Time{}, nil
		case TypeUntrash:
			if r, hint := decodeRecord(line); hint == "" {
				return r.At, nil
			}
		}
	}
}
