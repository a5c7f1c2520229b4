package workspace

import (
	"context"
	"time"
)

// storeWakeups returns a channel that receives when a session of the
// store changes (only: that session); nil (never ready) for a file
// workspace, whose watch hears fsnotify. It subscribes before the
// follower's first scan, so nothing appended after that scan goes
// unnoticed. Wake-ups are hints: the follower reads every session from
// where it stopped, so a wake-up lost while the store was away (then the
// poll finds the records) misses no record and repeats none.
func (w *Workspace) storeWakeups(ctx context.Context, only string, poll time.Duration) (<-chan struct{}, error) {
	if w.store == nil {
		return nil, nil
	}
	ids, err := w.store.Follow(ctx)
	if err != nil {
		w.log.Warn("watch: store changes unavailable; polling", "store", w.store.Addr(), "err", err)
		return nil, nil
	}
	wake := make(chan struct{}, 1)
	go func() {
		for id := range ids {
			if only != "" && id != only {
				continue
			}
			select {
			case wake <- struct{}{}:
			default:
			}
		}
	}()
	return wake, nil
}
