package workspace

import (
	"context"
	"errors"
	"fmt"
	"io"
)

// Problems of encrypted sessions (Check; docs/encryption.md). None is
// repairable: a record that does not authenticate is evidence, and repair
// never drops it.
const (
	// ProblemTampered: a sealed record does not open under the session's
	// key: changed, cut short, or moved from another session or seq.
	ProblemTampered = "tampered"
	// ProblemPlaintextRecord: a record in clear in an encrypted session,
	// or a sealed one in a plaintext session (written by hand, or glued).
	ProblemPlaintextRecord = "mixed_record"
	// ProblemUnverified (warning): the session is encrypted with a key
	// other than the one given, so its records were not verified.
	ProblemUnverified = "unverified"
)

// checkSealed adds what check finds in an encrypted session file to fr,
// and keeps repair from rewriting what it cannot rewrite without breaking
// the seals (renumbering seqs, rebuilding a header): those problems stay
// reported but are not repairable. Without the key only the structure is
// checked (the clear fields).
func (w *Workspace) checkSealed(ctx context.Context, r io.ReaderAt, size int64, fr *FileReport) error {
	// Plaintext files (the header says so) are not read twice.
	if h, err := readHeader(io.NewSectionReader(r, 0, size), fr.Path); err != nil || h.KeyID == "" {
		return nil
	}
	s := &Session{w: w, st: w.state(fr.ID), id: fr.ID}
	keyID := ""
	sealed := false
	line := 0
	_, err := scanLines(io.NewSectionReader(r, 0, size), 0, w.readLimit(), func(b []byte, off int64) error {
		line++
		if line%4096 == 0 {
			if err := ctx.Err(); err != nil {
				return err
			}
		}
		rec, hint := decodeRecord(b)
		if hint != "" {
			return nil
		}
		if rec.Type == TypeSession && line == 1 {
			keyID = rec.KeyID
		}
		if rec.Sealed != nil {
			sealed = true
		}
		if (rec.Sealed != nil) != (keyID != "") {
			fr.Problems = append(fr.Problems, Problem{Kind: ProblemPlaintextRecord, Severity: SeverityError, Line: line, Offset: off, Seq: rec.Seq,
				Hint: mixedHint(rec.Sealed != nil)})
			return nil
		}
		if rec.Sealed == nil || w.opts.Key == nil || keyID != w.KeyID() {
			return nil
		}
		if err := s.open(&rec); err != nil {
			var se *SealError
			hint := err.Error()
			if errors.As(err, &se) {
				hint = "the record does not authenticate under the session's key: changed, cut short, or moved from another session or seq"
				if se.Hint != "" {
					hint += " (" + se.Hint + ")"
				}
			}
			fr.Problems = append(fr.Problems, Problem{Kind: ProblemTampered, Severity: SeverityError, Line: line, Offset: off, Seq: rec.Seq,
				Length: int64(len(b)) + 1, Hint: hint + "; repair keeps it"})
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("workspace: check %s: %w", fr.Path, err)
	}
	if keyID != "" && w.opts.Key != nil && keyID != w.KeyID() {
		fr.Problems = append(fr.Problems, Problem{Kind: ProblemUnverified, Severity: SeverityWarning, Line: 1, Seq: 1,
			Hint: fmt.Sprintf("encrypted with key %s, not the key given (%s): its records were not verified", keyID, w.KeyID())})
	}
	if !sealed {
		return nil
	}
	for i := range fr.Problems {
		p := &fr.Problems[i]
		if p.Repairable && (p.Kind == ProblemSeqDuplicate || p.Kind == ProblemSeqOrder || p.Kind == ProblemBadHeader) {
			p.Repairable = false
			p.Hint += " (not repairable here: the session is encrypted, and its records are sealed to their seqs and header)"
		}
	}
	fr.rebuildHeader = false
	return nil
}

func mixedHint(sealed bool) string {
	if sealed {
		return "a sealed record in a plaintext session (written by hand, or glued from another file)" // reached only for a file that starts encrypted
	}
	return "a record in clear in an encrypted session (written by hand, or glued from another file): nothing picosess writes"
}
