package workspace

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/fsnotify/fsnotify"
)

// WatchReady is Watch that calls ready (when not nil) once its first scan
// is done: from then on, every record appended to any session is
// delivered. A server that starts at the end of every file (serve's live
// feed) waits for it before it says it is listening, so that nothing
// appended after that is missed.
func (w *Workspace) WatchReady(ctx context.Context, o WatchOptions, ready func(), fn func(id string, e Entry) error) error {
	poll := o.Poll
	if poll <= 0 {
		poll = DefaultPollInterval
	}
	watcher, err := fsnotify.NewWatcher()
	if err != nil {
		return fmt.Errorf("workspace: watch: %w", err)
	}
	defer watcher.Close()
	if err := watcher.Add(w.sessionsDir()); err != nil {
		return fmt.Errorf("workspace: watch %s: %w", w.sessionsDir(), err)
	}
	// On a store, its changes stream wakes the scans (store_follow.go);
	// its cursor is taken before the first scan, so nothing appended
	// after that scan goes unnoticed.
	wake, err := w.storeWakeups(ctx, o.Session, poll)
	if err != nil {
		return err
	}
	f := &follower{w: w, only: o.Session, files: map[string]*followed{}}
	if err := f.scan(ctx, true, o, fn); err != nil {
		return ignoreDone(ctx, err)
	}
	if ready != nil {
		ready()
	}
	tick := time.NewTicker(poll)
	defer tick.Stop()
	for {
		select {
		case <-ctx.Done():
			return nil
		case ev, ok := <-watcher.Events:
			if !ok {
				return nil
			}
			if !strings.HasSuffix(ev.Name, ".jsonl") {
				continue
			}
		case err, ok := <-watcher.Errors:
			if !ok {
				return nil
			}
			w.log.Warn("watch: fsnotify error; polling continues", "err", err)
		case <-wake:
		case <-tick.C:
		}
		if err := f.scan(ctx, false, o, fn); err != nil {
			if errors.Is(err, ErrStoreUnavailable) && ctx.Err() == nil {
				// The store is away: the next tick reads on from where
				// each session stopped (store_follow.go).
				w.log.Warn("watch: store unavailable; retrying", "err", err)
				continue
			}
			return ignoreDone(ctx, err)
		}
	}
}
