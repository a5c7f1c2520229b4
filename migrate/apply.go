package migrate

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/picosess/picosess/workspace"
)

// ErrSourceChanged: a source file changed between plan and apply; plan again.
var ErrSourceChanged = errors.New("migrate: source changed since it was planned")

// errMoved: the session grew between our read and our locked append.
var errMoved = errors.New("migrate: session changed while importing")

// Progress is reported once per planned session as Apply goes.
type Progress struct {
	Index    int    `json:"index"` // 1-based
	Total    int    `json:"total"`
	ID       string `json:"id"`
	Key      string `json:"key"`
	Action   Action `json:"action"`
	Messages int    `json:"messages"`
	Appended int    `json:"appended"` // records written for this session
}

// ApplyOptions controls Apply. The zero value writes no report files.
type ApplyOptions struct {
	// ReportDir receives the set-aside bytes (set-aside/) and, through
	// Report.Write, report.json and report.txt.
	ReportDir string
	// Progress is called after each session.
	Progress func(Progress)
}

// SessionReport is what Apply did for one session.
type SessionReport struct {
	ID       string   `json:"id"`
	Key      string   `json:"key"`
	Era      string   `json:"era,omitempty"`
	Rule     Rule     `json:"rule"`
	Reason   string   `json:"reason,omitempty"` // why it stays under its old key, in words
	Action   Action   `json:"action"`
	Messages int      `json:"messages"`
	Appended int      `json:"appended"`
	Warnings []string `json:"warnings,omitempty"`
}

// SetAsideFile is set-aside evidence copied into the report directory.
type SetAsideFile struct {
	SetAside
	File string `json:"file,omitempty"` // path of the copy, "" without a report dir
}

// Report is the outcome of a migration.
type Report struct {
	From     string          `json:"from"`
	System   System          `json:"system"`
	Files    map[Class]int   `json:"files"`
	Actions  map[Action]int  `json:"actions"`
	Sessions []SessionReport `json:"sessions"`
	Messages int             `json:"messages"`
	Appended int             `json:"appended"`
	Warnings []string        `json:"warnings,omitempty"`
	SetAside []SetAsideFile  `json:"set_aside,omitempty"`
	Unknown  []FileReport    `json:"unknown_or_corrupt,omitempty"`
	Verify   *VerifyReport   `json:"verify,omitempty"`
	// Retired says what became of the earlier imports the plan superseded
	// (Plan.Retire): moved to the trash, or kept and why.
	Retired []Retirement `json:"retired,omitempty"`
	// Config is the target config the ids follow (Plan.Config).
	Config *TargetConfig `json:"config,omitempty"`
	// Partial is true when something could not be read or verified: exit 3.
	Partial bool `json:"partial"`
}

// Apply carries out a plan through the workspace API: each session is
// created with its header (scope, aliases, origin), and its records are
// appended in one locked write. It is idempotent (a session whose records
// are all there is skipped) and resumable (an interrupted session gets the
// records it lacks), and it verifies the result at the end.
func Apply(ctx context.Context, ws *workspace.Workspace, p *Plan, opts ApplyOptions) (*Report, error) {
	if err := checkUnchanged(p); err != nil {
		return nil, err
	}
	rep := &Report{From: p.From, System: p.System, Config: p.Config, Files: map[Class]int{}, Actions: map[Action]int{}, Warnings: append([]string(nil), p.Warnings...)}
	for _, f := range p.Files {
		rep.Files[f.Class]++
		if f.Class == ClassUnknown || f.Class == ClassCorrupt {
			rep.Unknown = append(rep.Unknown, f)
		}
	}
	sa, err := copySetAside(opts.ReportDir, p.SetAside)
	if err != nil {
		return nil, err
	}
	rep.SetAside = sa
	for i, ps := range p.Sessions {
		if err := ctx.Err(); err != nil {
			return rep, err
		}
		action, n, err := applySession(ctx, ws, ps)
		if err != nil {
			return rep, fmt.Errorf("migrate: apply %s (%s): %w", ps.ID, ps.Keys[0], err)
		}
		rep.Actions[action]++
		rep.Messages += ps.Messages
		rep.Appended += n
		rep.Sessions = append(rep.Sessions, SessionReport{ID: ps.ID, Key: ps.Keys[0], Era: ps.Era, Rule: ps.Rule, Reason: ps.Reason, Action: action, Messages: ps.Messages, Appended: n, Warnings: ps.Warnings})
		if opts.Progress != nil {
			opts.Progress(Progress{Index: i + 1, Total: len(p.Sessions), ID: ps.ID, Key: ps.Keys[0], Action: action, Messages: ps.Messages, Appended: n})
		}
	}
	if rep.Retired, err = retire(ctx, ws, p); err != nil {
		return rep, err
	}
	v, err := Verify(ctx, ws, p)
	if err != nil {
		return rep, err
	}
	rep.Verify = v
	rep.Partial = len(rep.SetAside) > 0 || !v.OK()
	for _, f := range p.Files {
		rep.Partial = rep.Partial || f.Class == ClassCorrupt
	}
	return rep, nil
}

// checkUnchanged re-checks each source file's size and mtime.
func checkUnchanged(p *Plan) error {
	if p.Read == nil {
		return nil
	}
	if p.Read.redisURL != "" {
		return redisChatUnchanged(p.Read) // redischat.go
	}
	for _, s := range p.Read.Sources {
		for _, f := range s.Files {
			st, err := os.Stat(filepath.Join(p.From, filepath.FromSlash(f.Path)))
			if err != nil {
				return fmt.Errorf("migrate: %s: %w: %w", f.Path, ErrSourceChanged, err)
			}
			if st.Size() != f.Size || !st.ModTime().UTC().Equal(f.ModTime) {
				return fmt.Errorf("migrate: %s (size %d -> %d): %w", f.Path, f.Size, st.Size(), ErrSourceChanged)
			}
		}
	}
	return nil
}

// applySession brings one session to its planned state and returns what it
// did and how many records it wrote.
func applySession(ctx context.Context, ws *workspace.Workspace, ps *PlannedSession) (Action, int, error) {
	var first Action
	var created *workspace.Session
	for attempt := 0; attempt < 8; attempt++ {
		var st sessionState
		var s *workspace.Session
		if created != nil {
			// just created: the header alone, unless another process got
			// there first, which the locked check below catches
			st, s, created = sessionState{action: ActionAppend, lastSeq: 1}, created, nil
		} else {
			var err error
			if st, err = inspect(ctx, ws, ps); err != nil {
				return "", 0, err
			}
		}
		if first == "" {
			first = st.action
		}
		switch st.action {
		case ActionSkip:
			return first, 0, nil
		case ActionRebuild:
			// the file holds an earlier import and nothing else: to the
			// trash, unless an assistant wrote to it since the look above
			// (then look again: the records then arrive late, a merge)
			s, err := ws.OpenID(ps.ID)
			if err != nil {
				return "", 0, err
			}
			_, err = s.DeleteIf(ctx, func(m workspace.Meta) error {
				if m.LastSeq != st.lastSeq {
					return errMoved
				}
				return nil
			})
			if err != nil && !errors.Is(err, errMoved) && !errors.Is(err, workspace.ErrChanged) && !errors.Is(err, workspace.ErrNotFound) {
				return "", 0, fmt.Errorf("retire the earlier import of %s: %w", ps.ID, err)
			}
			continue
		case ActionCreate:
			c, err := ws.Session(ctx, workspace.Target{ID: ps.ID, Scope: ps.Scope, Aliases: ps.Aliases, Origin: ps.Origin, Created: ps.created(), Name: ps.Name})
			if err != nil {
				return "", 0, err
			}
			created = c
			continue // now it exists with our header: append everything
		}
		if s == nil {
			var err error
			if s, err = ws.OpenID(ps.target()); err != nil {
				return "", 0, err
			}
		}
		recs := recordsToAppend(ps, st)
		expect := st.lastSeq
		_, err := s.AppendIf(ctx, func(h workspace.History) error {
			if h.LastSeq != expect {
				return errMoved
			}
			return nil
		}, recs...)
		if errors.Is(err, errMoved) {
			continue // an assistant wrote meanwhile: look again
		}
		if err != nil {
			return "", 0, err
		}
		return first, len(recs), nil
	}
	return "", 0, fmt.Errorf("%w: gave up after 8 attempts", errMoved)
}

// recordsToAppend builds the records for one locked append: the planned
// records not already in the file, with through values mapped onto the
// file as it is (records found keep their seq, new ones follow
// st.lastSeq). A merge into another conversation keeps that one active:
// it is checkpointed, the history follows a reset, and a restore of the
// checkpoint ends the append.
func recordsToAppend(ps *PlannedSession, st sessionState) []workspace.Record {
	next := st.lastSeq + 1
	var out []workspace.Record
	var ckptSeq int64
	if st.action == ActionMerge {
		if st.lastMsg > 0 {
			ckptSeq = next
			out = append(out, workspace.Record{Type: workspace.TypeCheckpoint, At: lastAt(ps), Name: "before-import", Description: "active history before the legacy import", Through: st.lastMsg})
			next++
		}
		out = append(out, workspace.Record{Type: workspace.TypeReset, At: firstAt(ps), Reason: workspace.ReasonImported})
		next++
	}
	seqOf := make([]int64, len(ps.records))
	used := map[string]int{}
	var add []int
	for i := range ps.records {
		k := recFP(&ps.records[i])
		if have := st.existing[k]; used[k] < len(have) {
			seqOf[i] = have[used[k]]
			used[k]++
			continue
		}
		seqOf[i] = next + int64(len(add))
		add = append(add, i)
	}
	for _, i := range add {
		r := ps.records[i]
		if r.Through != 0 {
			if j := int(r.Through - 2); j >= 0 && j < len(seqOf) {
				r.Through = seqOf[j]
			}
		}
		r.Seq = 0
		out = append(out, r)
	}
	if st.action == ActionMerge && len(out) > 0 && out[len(out)-1].Type == workspace.TypeReset && len(add) > 0 {
		// the boundary between the late records and those the file holds
		// already: the restore below ends them
		out = out[:len(out)-1]
	}
	if ckptSeq > 0 {
		out = append(out, workspace.Record{Type: workspace.TypeRestore, At: lastAt(ps), Checkpoint: ckptSeq})
	}
	return out
}

// created is the time an imported session begins: its earliest record
// (a message, or the legacy session start a leading summary carries), so
// that no record precedes the header; zero (now) when it has none.
func (ps *PlannedSession) created() time.Time {
	var t time.Time
	for i := range ps.records {
		if at := ps.records[i].At; !at.IsZero() && (t.IsZero() || at.Before(t)) {
			t = at
		}
	}
	return t
}

func firstAt(ps *PlannedSession) (t time.Time) {
	if len(ps.records) > 0 {
		return ps.records[0].At
	}
	return t
}

func lastAt(ps *PlannedSession) (t time.Time) {
	if len(ps.records) > 0 {
		return ps.records[len(ps.records)-1].At
	}
	return t
}

// copySetAside writes each run of damaged bytes to dir/set-aside/.
func copySetAside(dir string, in []SetAside) ([]SetAsideFile, error) {
	var out []SetAsideFile
	for _, s := range in {
		f := SetAsideFile{SetAside: s}
		if dir != "" {
			name := fmt.Sprintf("%s@%d.bin", strings.NewReplacer("/", "__", "\\", "__").Replace(s.Path), s.Offset)
			p := filepath.Join(dir, "set-aside", name)
			if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
				return nil, fmt.Errorf("migrate: report dir: %w", err)
			}
			if err := os.WriteFile(p, s.Data, 0o644); err != nil {
				return nil, fmt.Errorf("migrate: set aside %s: %w", s.Path, err)
			}
			f.File = p
		}
		out = append(out, f)
	}
	return out, nil
}

// MissingMessage is a planned message Verify did not find.
type MissingMessage struct {
	ID      string `json:"id"`
	Path    string `json:"path,omitempty"`
	Line    int    `json:"line,omitempty"`
	EntryID string `json:"entry_id,omitempty"`
	Role    string `json:"role"`
	Content string `json:"content"` // first 80 characters
}

// VerifyReport says whether every source message is in the workspace.
type VerifyReport struct {
	Sessions int              `json:"sessions"`
	Messages int              `json:"messages"`
	Missing  []MissingMessage `json:"missing,omitempty"`
	// Files proves it per source file: each message read from the file
	// (including those that other copies also hold) and how many of them
	// are not in the target.
	Files []VerifiedFile `json:"files,omitempty"`
}

// VerifiedFile is the verify result of one source file.
type VerifiedFile struct {
	Path     string `json:"path"`
	Messages int    `json:"messages"`
	Missing  int    `json:"missing"`
}

// OK is true when nothing is missing.
func (v *VerifyReport) OK() bool { return len(v.Missing) == 0 }

// Verify proves that every message of the plan is in its session.
func Verify(ctx context.Context, ws *workspace.Workspace, p *Plan) (*VerifyReport, error) {
	v := &VerifyReport{}
	files := map[string]*VerifiedFile{}
	var last *VerifiedFile // most messages in a row come from one file
	one := func(path string, missing bool) {
		f := last
		if f == nil || f.Path != path {
			if f = files[path]; f == nil {
				f = &VerifiedFile{Path: path}
				files[path] = f
			}
			last = f
		}
		f.Messages++
		if missing {
			f.Missing++
		}
	}
	count := func(pv Provenance, missing bool) {
		if pv.Path != "" {
			one(pv.Path, missing)
		}
		for k, q := range pv.Also {
			dup := q.Path == "" || q.Path == pv.Path
			for _, r := range pv.Also[:k] {
				dup = dup || r.Path == q.Path
			}
			if !dup {
				one(q.Path, missing)
			}
		}
	}
	held := map[string]map[string]int{}
	for _, ps := range p.Sessions {
		if err := ctx.Err(); err != nil {
			return nil, err
		}
		v.Sessions++
		have := map[string]int{}
		s, err := ws.OpenID(ps.target())
		switch {
		case errors.Is(err, workspace.ErrNotFound):
		case err != nil:
			return nil, fmt.Errorf("migrate: verify %s: %w", ps.ID, err)
		default:
			recs, err := s.ReadAll(ctx)
			if err != nil {
				return nil, fmt.Errorf("migrate: verify %s: %w", ps.ID, err)
			}
			for i := range recs {
				if recs[i].Type == workspace.TypeMessage {
					have[recFP(&recs[i])]++
				}
			}
		}
		for i := range ps.records {
			r := &ps.records[i]
			if r.Type != workspace.TypeMessage {
				continue
			}
			v.Messages++
			k := recFP(r)
			if have[k] > 0 {
				have[k]--
				count(ps.prov[i], false)
				continue
			}
			count(ps.prov[i], true)
			c := []rune(r.Content)
			if len(c) > 80 {
				c = c[:80]
			}
			pv := ps.prov[i]
			v.Missing = append(v.Missing, MissingMessage{ID: ps.ID, Path: pv.Path, Line: pv.Line, EntryID: pv.EntryID, Role: r.Role, Content: string(c)})
		}
		// messages an earlier import, written to since, holds
		for _, h := range ps.elsewhere {
			if held[h.id] == nil {
				m := map[string]int{}
				if s, err := ws.OpenID(h.id); err == nil {
					recs, err := s.ReadAll(ctx)
					if err != nil {
						return nil, fmt.Errorf("migrate: verify %s: %w", h.id, err)
					}
					for i := range recs {
						if recs[i].Type == workspace.TypeMessage {
							m[recFP(&recs[i])]++
						}
					}
				}
				held[h.id] = m
			}
			v.Messages++
			k := recFP(&h.rec)
			if held[h.id][k] > 0 {
				held[h.id][k]--
				count(h.prov, false)
				continue
			}
			count(h.prov, true)
			c := []rune(h.rec.Content)
			if len(c) > 80 {
				c = c[:80]
			}
			v.Missing = append(v.Missing, MissingMessage{ID: h.id, Path: h.prov.Path, Line: h.prov.Line, EntryID: h.prov.EntryID, Role: h.rec.Role, Content: string(c)})
		}
	}
	for _, path := range sortedKeys(files) {
		v.Files = append(v.Files, *files[path])
	}
	return v, nil
}

// VerifyDir re-reads the source directory and verifies it against ws.
func VerifyDir(ctx context.Context, from string, ws *workspace.Workspace, opts PlanOptions) (*VerifyReport, error) {
	p, err := NewPlan(ctx, from, ws, opts)
	if err != nil {
		return nil, err
	}
	return Verify(ctx, ws, p)
}

// Write saves the report as report.json and report.txt in dir.
func (r *Report) Write(dir string) error {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return fmt.Errorf("migrate: report dir: %w", err)
	}
	b, err := json.MarshalIndent(r, "", "  ")
	if err != nil {
		return fmt.Errorf("migrate: report: %w", err)
	}
	if err := os.WriteFile(filepath.Join(dir, "report.json"), append(b, '\n'), 0o644); err != nil {
		return fmt.Errorf("migrate: report: %w", err)
	}
	var sb strings.Builder
	r.Summary(&sb)
	sb.WriteString("\n")
	r.Table(&sb)
	if err := os.WriteFile(filepath.Join(dir, "report.txt"), []byte(sb.String()), 0o644); err != nil {
		return fmt.Errorf("migrate: report: %w", err)
	}
	return nil
}

// Summary writes a readable summary of the report.
func (r *Report) Summary(w interface{ Write([]byte) (int, error) }) {
	fmt.Fprintf(w, "migrated %s (%s)\n", r.From, r.System)
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	var classes []string
	for c := range r.Files {
		classes = append(classes, string(c))
	}
	sort.Strings(classes)
	for _, c := range classes {
		fmt.Fprintf(tw, "files %s\t%d\n", c, r.Files[Class(c)])
	}
	for _, a := range []Action{ActionCreate, ActionAppend, ActionMerge, ActionRebuild, ActionSkip} {
		if a == ActionRebuild && r.Actions[a] == 0 {
			continue // only after an upgrade
		}
		fmt.Fprintf(tw, "sessions %s\t%d\n", a, r.Actions[a])
	}
	fmt.Fprintf(tw, "messages\t%d\n", r.Messages)
	if r.Config != nil {
		fmt.Fprintf(tw, "target config\t%s\n", r.Config.Used)
	}
	fmt.Fprintf(tw, "records written\t%d\n", r.Appended)
	tw.Flush()
	for _, f := range r.Unknown {
		fmt.Fprintf(w, "%s: %s: %s\n", f.Class, f.Path, f.Reason)
	}
	for _, s := range r.SetAside {
		fmt.Fprintf(w, "set aside: %s line %d offset %d (%d bytes): %s", s.Path, s.Line, s.Offset, s.Length, s.Reason)
		if s.File != "" {
			fmt.Fprintf(w, " -> %s", s.File)
		}
		fmt.Fprintln(w)
	}
	for _, x := range r.Retired {
		if x.Done == "trash" {
			fmt.Fprintf(w, "retired: %s (%s, %d messages, now in %s) -> trash as %s\n", x.ID, x.Key, x.Messages, strings.Join(x.Into, ", "), x.Trash)
		} else {
			fmt.Fprintf(w, "earlier import %s (%s): %s\n", x.ID, x.Key, x.Done)
		}
	}
	for _, x := range r.Warnings {
		fmt.Fprintf(w, "warning: %s\n", x)
	}
	for _, s := range r.Sessions {
		for _, x := range s.Warnings {
			fmt.Fprintf(w, "warning: %s: %s\n", s.ID, x)
		}
	}
	if r.Verify != nil {
		if r.Verify.OK() {
			fmt.Fprintf(w, "verify: all %d messages present in %d sessions\n", r.Verify.Messages, r.Verify.Sessions)
		} else {
			fmt.Fprintf(w, "verify: %d of %d messages MISSING\n", len(r.Verify.Missing), r.Verify.Messages)
			for _, f := range r.Verify.Files {
				if f.Missing > 0 {
					fmt.Fprintf(w, "verify: %s: %d of its %d messages MISSING\n", f.Path, f.Missing, f.Messages)
				}
			}
		}
	}
}

// Table writes one line per session: old key, era, id, how the id was
// chosen, messages, action, records written, and why it stays under its
// old key.
func (r *Report) Table(w interface{ Write([]byte) (int, error) }) {
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "OLD KEY\tERA\tSESSION\tID\tMSGS\tACTION\tWRITTEN\tWHY UNDER ITS OLD KEY")
	for _, s := range r.Sessions {
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%d\t%s\t%d\t%s\n", s.Key, s.Era, s.ID, idWords(s.Rule), s.Messages, s.Action, s.Appended, s.Reason)
	}
	tw.Flush()
}
