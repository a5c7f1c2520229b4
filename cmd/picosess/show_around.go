package main

import (
	"bytes"
	"context"
	"fmt"
	"strings"

	"github.com/picosess/picosess/workspace"
)

// DefaultAroundRecords is how many records show SESSION:SEQ prints on each
// side of SEQ when --limit is not given.
const DefaultAroundRecords = 5

// showAroundOutput is the --json shape of show SESSION:SEQ (docs/cli.md).
type showAroundOutput struct {
	showSession
	Seq     int64              `json:"seq"`
	Records []workspace.Record `json:"records"`
	// Before and After say whether the file has records beyond the ones
	// printed, on either side.
	Before bool `json:"before"`
	After  bool `json:"after"`
}

// showAround prints the records around seq, whatever their conversation
// (a search hit may be in an earlier one): n before, the record, n after,
// the record marked. Two page reads, by bisection: the file size does not
// matter.
func (a *app) showAround(ctx context.Context, s *workspace.Session, seq int64, n int) error {
	m, err := s.Meta(ctx)
	if err != nil {
		return err
	}
	back, err := s.RecordsPage(ctx, workspace.PageOptions{Before: seq + 1, Limit: n + 1})
	if err != nil {
		return err
	}
	if k := len(back.Records); k == 0 || back.Records[k-1].Seq != seq {
		return fmt.Errorf("%w: session %s has no record #%d (its last is #%d)", workspace.ErrNotFound, s.ID(), seq, back.LastSeq)
	}
	fwd := workspace.Page{More: back.LastSeq > seq}
	if n > 0 {
		if fwd, err = s.RecordsPage(ctx, workspace.PageOptions{After: seq, Forward: true, Limit: n}); err != nil {
			return err
		}
	}
	out := showAroundOutput{
		showSession: showSession{ID: m.ID, Title: m.Title, Name: m.Name, Scope: m.Scope, LastSeq: back.LastSeq},
		Seq:         seq, Records: append(back.Records, fwd.Records...), Before: back.More, After: fwd.More,
	}
	if a.jsonOut {
		return a.writeJSON(out)
	}
	bw := &errWriter{w: a.stdout}
	writeSessionHeading(bw, m)
	fmt.Fprintf(bw, "around #%d (%d record(s) each side; --limit N for more, show %s for the active history)\n",
		seq, n, shortID(m.ID))
	if out.Before {
		fmt.Fprintln(bw, "  ...")
	}
	for _, r := range out.Records {
		var b bytes.Buffer
		writeRecordText(&b, r)
		mark := "  "
		if r.Seq == seq {
			mark = "> "
		}
		text := strings.TrimSuffix(b.String(), "\n")
		fmt.Fprintf(bw, "%s%s\n", mark, strings.ReplaceAll(text, "\n", "\n  "))
	}
	if out.After {
		fmt.Fprintln(bw, "  ...")
	}
	return bw.err
}
