package workspace

import (
	"context"
	"fmt"
)

// AppendIf appends recs like Append, but only if check, run under the
// session's lock with the active history as it is at that moment, returns
// nil; otherwise nothing is written and check's error is returned. A
// caller that computed records from an earlier unlocked read (a summary,
// say) uses it to make sure nothing it relied on changed meanwhile.
func (s *Session) AppendIf(ctx context.Context, check func(History) error, recs ...Record) ([]int64, error) {
	for i := range recs {
		if err := validateAppend(&recs[i]); err != nil {
			return nil, fmt.Errorf("workspace: append to %s: record %d: %w", s.id, i+1, err)
		}
	}
	return s.append(ctx, func(v lockedView) ([]Record, error) {
		h, err := v.history(ctx, 0)
		if err != nil {
			return nil, err
		}
		if err := check(h); err != nil {
			return nil, err
		}
		// The importer's path: times are the caller's, and references need
		// only name a record of the right type (a legacy summary may cover
		// messages that were never kept).
		if err := s.checkLocked(ctx, v, recs, &h, checkMode{}, nil); err != nil {
			return nil, err
		}
		return recs, nil
	})
}
