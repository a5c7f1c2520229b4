package workspace

import (
	"context"
	"time"
)

// storeWakeups returns a channel that receives when a session of the
// store changes (only: that session), from now on; nil (never ready) for
// a file workspace, whose watch hears fsnotify. Wake-ups are hints: the
// follower reads every session from where it stopped, so a wake-up lost
// while the store was away (then the poll) misses no record and repeats
// none.
func (w *Workspace) storeWakeups(ctx context.Context, only string, poll time.Duration) (<-chan struct{}, error) {
	if w.store == nil {
		return nil, nil
	}
	_, cursor, err := w.store.Changes(ctx, "", 0)
	if err != nil {
		w.log.Warn("watch: store changes unavailable; polling", "store", w.store.Addr(), "err", err)
	}
	wake := make(chan struct{}, 1)
	go func() {
		for ctx.Err() == nil {
			if cursor == "" {
				if _, cursor, err = w.store.Changes(ctx, "", 0); err != nil {
					sleepCtx(ctx, poll)
					continue
				}
			}
			ids, next, err := w.store.Changes(ctx, cursor, 5*time.Second)
			if err != nil {
				if ctx.Err() == nil {
					w.log.Warn("watch: store changes unavailable; polling", "store", w.store.Addr(), "err", err)
				}
				sleepCtx(ctx, poll)
				continue
			}
			cursor = next
			hit := only == "" && len(ids) > 0
			for _, id := range ids {
				hit = hit || id == only
			}
			if hit {
				select {
				case wake <- struct{}{}:
				default:
				}
			}
		}
	}()
	return wake, nil
}

func sleepCtx(ctx context.Context, d time.Duration) {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
	case <-ctx.Done():
	}
}
