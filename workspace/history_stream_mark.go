package workspace

import (
	"context"
	"slices"
)

// HistoryStreamMark is HistoryStream, also returning where the read ended
// (as HistoryMark does): what a caller that computes records from the
// streamed history (a summary) gives AppendAfter. The fold and the mark
// come from one open of the file; Each reads the messages later, from the
// offsets the fold found, all before the mark.
func (s *Session) HistoryStreamMark(ctx context.Context) (*HistoryStream, Mark, error) {
	f, err := s.openRead()
	if err != nil {
		return nil, Mark{}, err
	}
	defer f.Close()
	m, err := s.markOf(f)
	if err != nil {
		return nil, Mark{}, err
	}
	h := &HistoryStream{s: s}
	sumAt, err := h.fold(ctx, f, m.End)
	if err != nil {
		return nil, Mark{}, err
	}
	slices.Reverse(h.offsets)
	if err := h.openSummary(ctx, sumAt); err != nil {
		return nil, Mark{}, err
	}
	return h, m, nil
}
