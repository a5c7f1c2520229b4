package migrate

import (
	"encoding/json"
	"fmt"
	"io"
	"path"
	"sort"
	"strings"
	"text/tabwriter"
	"unicode/utf8"

	"github.com/picosess/picosess/keying"
)

// Why a session stays under its old key, in words (docs/migration.md,
// "Terms" and §3). PlannedSession.Reason holds one of these.
const (
	KeptMain       = "the assistant's main session, which never takes a chat's history"
	KeptNoChat     = "a cron, sub-agent, hook or command-line session: no chat routes to it"
	KeptRebuilt    = "its key was made by the importer (no store entry or meta names it)"
	KeptChatType   = "the old key does not say whether the chat is a group or a direct chat"
	KeptDirect     = "a direct chat whose new id the old key lacks: its next message resumes it"
	KeptNoChannel  = "the old key names no channel"
	KeptToMain     = "the target config sends this chat to the main session"
	KeptCollision  = "another chat would get the same id (a thread and its parent, or case)"
	KeptUnreadable = "the old key could not be read"
	KeptShared     = "Clodds' one session for every direct chat"
	KeptMissing    = "the target config needs a value the old key does not hold"
)

// keptReason says why a source stays under its old key.
func keptReason(s *Source, lk keying.LegacyKey, why string) string {
	switch {
	case s.System == SystemClodds && s.Route == nil && !s.KeyInferred:
		return KeptShared
	case s.KeyInferred || strings.HasPrefix(s.Key, "openclaw:") || strings.HasPrefix(s.Key, "pocketpaw:"):
		return KeptRebuilt
	case s.Route != nil:
		if strings.Contains(why, "main session") {
			return KeptToMain
		}
		return KeptMissing
	case lk.Shape == "":
		return KeptUnreadable
	case lk.Shape == keying.ShapeMain:
		return KeptMain
	case lk.Shape == keying.ShapeCronRun, lk.Shape == keying.ShapeAgentKind, lk.Shape == keying.ShapeAgentOther,
		lk.Shape == keying.ShapeOther, lk.Shape == keying.ShapeSlash, lk.Shape == keying.ShapeOpaque:
		return KeptNoChat
	case lk.Shape == keying.ShapeChannelChat && lk.Channel == "cli":
		return KeptNoChat
	}
	for _, m := range lk.Missing {
		if m == "chat_type" {
			return KeptChatType
		}
	}
	switch {
	case strings.Contains(why, "chat id cannot be derived"):
		return KeptDirect
	case strings.Contains(why, "names no channel"):
		return KeptNoChannel
	case strings.Contains(why, "main session"):
		return KeptToMain
	}
	return KeptMissing
}

// eraOf names the legacy era a source was written in, in words.
func eraOf(s *Source) string {
	var files []string
	for _, f := range s.Files {
		files = append(files, f.Path)
	}
	switch s.System {
	case SystemPicoClaw:
		if keying.IsID(s.Key) {
			return "PicoClaw P5 opaque keys"
		}
		for _, f := range files {
			if strings.HasSuffix(f, ".jsonl") || strings.Contains(f, ".jsonl.") || strings.HasSuffix(f, ".meta.json") {
				return "PicoClaw P4-P5 JSONL files"
			}
		}
		return "PicoClaw P0-P3 JSON files"
	case SystemOpenClaw:
		for _, f := range files {
			if strings.Contains(f, "session-sqlite-import-archive/") {
				return "OpenClaw SQLite-era archive"
			}
		}
		for _, f := range files {
			if strings.Contains("/"+f, "/agents/") {
				return "OpenClaw per-agent stores"
			}
		}
		return "OpenClaw flat store"
	case SystemPocketPaw:
		for _, f := range files {
			if strings.HasPrefix(path.Base(f), "pocketpaw-session-") {
				return "PocketPaw dashboard exports"
			}
		}
		return "PocketPaw memory sessions"
	case SystemClodds:
		return "Clodds SQLite store"
	}
	return string(s.System)
}

// TargetConfig says which config the ids were derived under and what the
// source install's own config proposes (filled in by the caller that chose
// the policy: the CLI).
type TargetConfig struct {
	// Used names the config the ids follow, in words.
	Used string `json:"used"`
	// ProposedFrom is the source config file read, "" when the install
	// has none (its system's defaults are proposed).
	ProposedFrom string          `json:"proposed_from,omitempty"`
	Proposal     json.RawMessage `json:"proposal,omitempty"`
	Settings     []string        `json:"settings,omitempty"`
	// Write is what --write-config does (or did): written, merged,
	// unchanged; "" when not asked.
	Write string `json:"write,omitempty"`
	// Diff is the change --write-config makes to an existing config.json,
	// a unified diff (ConfigEdit.Diff).
	Diff string `json:"diff,omitempty"`
	// Problems are differences between the config used and the source's.
	Problems []string `json:"problems,omitempty"`
}

// Problems lists everything the plan has to report, one line each:
// warnings of the sessions and of the plan (not the explanations of ids,
// which the summary counts by reason), unknown and corrupt files, damaged
// bytes, and config differences.
func (p *Plan) Problems() []string {
	var out []string
	if p.Config != nil {
		out = append(out, p.Config.Problems...)
	}
	for _, w := range p.Warnings {
		out = append(out, w)
	}
	for _, s := range p.Sessions {
		for _, w := range s.Warnings {
			if !s.explain[w] {
				out = append(out, fmt.Sprintf("%s: %s", s.Keys[0], w))
			}
		}
	}
	for _, r := range p.Retire {
		if !r.Retire {
			out = append(out, r.Reason)
		}
	}
	for _, f := range p.Files {
		if f.Class == ClassUnknown || f.Class == ClassCorrupt {
			out = append(out, fmt.Sprintf("%s file %s: %s", f.Class, f.Path, f.Reason))
		}
	}
	for _, s := range p.SetAside {
		where := s.Path
		if s.Line > 0 {
			where += fmt.Sprintf(" line %d", s.Line)
		}
		out = append(out, fmt.Sprintf("damaged bytes in %s (offset %d, %d bytes): %s: set aside, not imported", where, s.Offset, s.Length, s.Reason))
	}
	return out
}

// eraRow is one line of the summary table.
type eraRow struct {
	era                                      string
	sessions, messages, derived, own, oldKey int
	first                                    int
}

// WriteSummary writes the plan as a person reads it: per era, how many
// sessions and messages, how many go to derived scopes, keep their own id
// or stay under their old key, why they stay (in words), the target
// config, the actions, and every problem. width and height are the
// terminal's (0: not a terminal): lines are cut to the width, and the
// problems are wrapped when the whole still fits the height, else cut to
// one line each.
func (p *Plan) WriteSummary(w io.Writer, width, height int) error {
	var buf strings.Builder
	bw := &errW{w: &buf}
	msgs := 0
	for _, s := range p.Sessions {
		msgs += s.Messages
	}
	fmt.Fprintln(bw, clipLine(fmt.Sprintf("%s: %d session(s), %d message(s) from %s", systemName(p.System), len(p.Sessions), msgs, p.From), width))
	rows := map[string]*eraRow{}
	var order []*eraRow
	kept := map[string]int{}
	for i, s := range p.Sessions {
		r := rows[s.Era]
		if r == nil {
			r = &eraRow{era: s.Era, first: i}
			rows[s.Era] = r
			order = append(order, r)
		}
		r.sessions++
		r.messages += s.Messages
		switch s.Rule {
		case RuleA:
			r.derived++
		case RuleK:
			r.own++
		default:
			r.oldKey++
			kept[s.Reason]++
		}
	}
	sort.SliceStable(order, func(i, j int) bool { return order[i].era < order[j].era })
	if len(order) > 0 {
		tw := tabwriter.NewWriter(bw, 0, 4, 2, ' ', tabwriter.AlignRight)
		fmt.Fprintln(tw, "era\tsessions\tmessages\tderived\town id\told key\t")
		for _, r := range order {
			fmt.Fprintf(tw, "%s\t%d\t%d\t%d\t%d\t%d\t\n", r.era, r.sessions, r.messages, r.derived, r.own, r.oldKey)
		}
		tw.Flush()
	}
	if len(kept) > 0 {
		n := 0
		for _, c := range kept {
			n += c
		}
		fmt.Fprintf(bw, "under their old key (%d), because:\n", n)
		reasons := make([]string, 0, len(kept))
		for r := range kept {
			reasons = append(reasons, r)
		}
		sort.Slice(reasons, func(i, j int) bool {
			if kept[reasons[i]] != kept[reasons[j]] {
				return kept[reasons[i]] > kept[reasons[j]]
			}
			return reasons[i] < reasons[j]
		})
		for _, r := range reasons {
			fmt.Fprintln(bw, clipLine(fmt.Sprintf("  %3d  %s", kept[r], r), width))
		}
	}
	if c := p.Config; c != nil {
		fmt.Fprintln(bw, clipLine("target config: "+c.Used, width))
		if len(c.Settings) > 0 {
			from := "proposed from " + c.ProposedFrom
			if c.ProposedFrom == "" {
				from = "proposed: " + systemName(p.System) + "'s defaults"
			}
			fmt.Fprintln(bw, clipLine("  "+from+": "+strings.Join(c.Settings, "; "), width))
		}
		if c.Write != "" {
			fmt.Fprintln(bw, clipLine("  --write-config: "+c.Write, width))
		}
		for _, l := range diffLines(c.Diff) {
			fmt.Fprintln(bw, clipLine("    "+l, width))
		}
	}
	act := map[Action]int{}
	for _, s := range p.Sessions {
		act[s.Action]++
	}
	files := map[Class]int{}
	for _, f := range p.Files {
		files[f.Class]++
	}
	rebuild := ""
	if n := act[ActionRebuild]; n > 0 {
		rebuild = fmt.Sprintf(", %d rebuild", n)
	}
	fmt.Fprintln(bw, clipLine(fmt.Sprintf("actions: %d create, %d append, %d merge%s, %d skip; files: %s",
		act[ActionCreate], act[ActionAppend], act[ActionMerge], rebuild, act[ActionSkip], ClassCounts(files)), width))
	if len(p.Retire) > 0 {
		retire, kept := 0, 0
		for _, r := range p.Retire {
			if r.Retire {
				retire++
			} else {
				kept++
			}
		}
		fmt.Fprintln(bw, clipLine(fmt.Sprintf("earlier imports: %d superseded (to the trash once applied), %d written to since (kept)", retire, kept), width))
	}
	probs := p.Problems()
	if len(probs) == 0 {
		fmt.Fprintln(bw, "problems: none")
	} else {
		fmt.Fprintf(bw, "problems (%d):\n", len(probs))
		used := strings.Count(buf.String(), "\n")
		for _, l := range problemLines(probs, width, height-used-2) { // the prompt and the last line stay visible
			fmt.Fprintln(bw, l)
		}
	}
	if bw.err != nil {
		return bw.err
	}
	_, err := io.WriteString(w, buf.String())
	return err
}

// problemLines lays out the problems in at most room lines (room <= 0 or
// width 0: no limit): wrapped, and problems of one shape counted on one
// line; if that is too long, one cut line each; then one line per subject
// (the damaged bytes, the unknown files, each session); and if still too
// long, the first ones and how many more --verbose lists.
func problemLines(probs []string, width, room int) []string {
	groupText := func(g []string) string {
		if len(g) > 1 {
			return fmt.Sprintf("%d like this one (--verbose lists each): %s", len(g), g[0])
		}
		return g[0]
	}
	var wrapped, clipped []string
	for _, g := range groupProblems(probs) {
		wrapped = append(wrapped, wrapLine(groupText(g), width, "  ", "    ")...)
		clipped = append(clipped, clipLine("  "+groupText(g), width))
	}
	if width <= 0 || room <= 0 || len(wrapped) <= room {
		return wrapped
	}
	if len(clipped) <= room {
		return clipped
	}
	// one line per subject
	type subj struct {
		name  string
		items []string
	}
	var subs []*subj
	by := map[string]*subj{}
	for _, p := range probs {
		name := problemSubject(p)
		sb := by[name]
		if sb == nil {
			sb = &subj{name: name}
			by[name] = sb
			subs = append(subs, sb)
		}
		sb.items = append(sb.items, p)
	}
	var out []string
	for _, sb := range subs {
		if len(sb.items) == 1 {
			out = append(out, clipLine("  "+sb.items[0], width))
			continue
		}
		out = append(out, clipLine(fmt.Sprintf("  %s: %d problems (--verbose lists each), first: %s", sb.name, len(sb.items), sb.items[0]), width))
	}
	if len(out) <= room {
		return out
	}
	keep := room - 1
	if keep < 0 {
		keep = 0
	}
	more := 0
	for _, sb := range subs[keep:] {
		more += len(sb.items)
	}
	return append(out[:keep], fmt.Sprintf("  … and %d more: --verbose lists every problem", more))
}

// problemSubject is what a problem is about: damaged bytes, unknown or
// corrupt files, else the session or file named before its first ": ".
func problemSubject(p string) string {
	switch {
	case strings.HasPrefix(p, "damaged bytes in "):
		return "damaged bytes set aside"
	case strings.HasPrefix(p, "unknown file "), strings.HasPrefix(p, "corrupt file "):
		return "unknown or corrupt files"
	}
	if i := strings.Index(p, ": "); i > 0 {
		return p[:i]
	}
	return p
}

// groupProblems puts together, in first-seen order, problems that differ
// only in quoted names and in words holding digits (one per store entry,
// transcript, file...), when there are at least three of a kind.
func groupProblems(probs []string) [][]string {
	shape := func(s string) string {
		var b strings.Builder
		in := false
		for _, r := range s {
			switch {
			case r == '"':
				in = !in
				if in {
					b.WriteString(`"…"`)
				}
			case !in:
				b.WriteRune(r)
			}
		}
		f := strings.Fields(b.String())
		for i, w := range f {
			if strings.ContainsAny(w, "0123456789") {
				f[i] = "#"
			}
		}
		return strings.Join(f, " ")
	}
	idx := map[string]int{}
	var groups [][]string
	for _, p := range probs {
		k := shape(p)
		if i, ok := idx[k]; ok {
			groups[i] = append(groups[i], p)
			continue
		}
		idx[k] = len(groups)
		groups = append(groups, []string{p})
	}
	var out [][]string
	for _, g := range groups {
		if len(g) < 3 {
			for _, p := range g {
				out = append(out, []string{p})
			}
			continue
		}
		out = append(out, g)
	}
	return out
}

// wrapLine cuts s into lines of at most width runes at spaces, the first
// prefixed with first, the others with rest (width 0: one line).
func wrapLine(s string, width int, first, rest string) []string {
	if width <= 0 {
		return []string{first + s}
	}
	var out []string
	line := first
	empty := true
	for _, word := range strings.Fields(s) {
		for {
			room := width - utf8.RuneCountInString(line)
			need := utf8.RuneCountInString(word)
			if !empty {
				need++
			}
			if need <= room {
				if !empty {
					line += " "
				}
				line += word
				empty = false
				break
			}
			if !empty {
				out = append(out, line)
				line, empty = rest, true
				continue
			}
			// a word longer than a whole line: cut it
			r := []rune(word)
			cut := room
			if cut < 1 {
				cut = 1
			}
			out = append(out, line+string(r[:cut]))
			line, word = rest, string(r[cut:])
			if word == "" {
				break
			}
		}
	}
	if !empty {
		out = append(out, line)
	}
	return out
}

// WriteTable writes one line per planned session: its old key, era, id,
// how the id was chosen, messages, action, and why it stays under its old
// key.
func (p *Plan) WriteTable(w io.Writer) error {
	bw := &errW{w: w}
	tw := tabwriter.NewWriter(bw, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "OLD KEY\tERA\tSESSION\tID\tMSGS\tACTION\tWHY UNDER ITS OLD KEY")
	for _, s := range p.Sessions {
		key := s.Keys[0]
		if len(s.Keys) > 1 {
			key += fmt.Sprintf(" (+%d)", len(s.Keys)-1)
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%d\t%s\t%s\n", key, s.Era, s.ID, idWords(s.Rule), s.Messages, s.Action, s.Reason)
	}
	for _, r := range p.Retire {
		act := "retire"
		if !r.Retire {
			act = "keep"
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%d\t%s\t%s\n", r.Key, "earlier import", r.ID, "-", r.Messages, act, r.Reason)
	}
	tw.Flush()
	if probs := p.Problems(); len(probs) > 0 {
		fmt.Fprintf(bw, "\nevery problem (%d):\n", len(probs))
		for _, pr := range probs {
			fmt.Fprintf(bw, "  %s\n", pr)
		}
	}
	return bw.err
}

// idWords names a rule in words.
func idWords(r Rule) string {
	switch r {
	case RuleA:
		return "derived"
	case RuleK:
		return "own id"
	}
	return "old key"
}

func systemName(s System) string {
	switch s {
	case SystemPicoClaw:
		return "PicoClaw"
	case SystemOpenClaw:
		return "OpenClaw"
	case SystemPocketPaw:
		return "PocketPaw"
	case SystemClodds:
		return "Clodds"
	}
	return string(s)
}

// ClassCounts writes file counts per class: "30 imported, 2 ignored".
func ClassCounts(n map[Class]int) string {
	var parts []string
	for _, c := range []Class{ClassImported, ClassDuplicate, ClassGeneration, ClassIgnored, ClassCorrupt, ClassUnknown} {
		if n[c] > 0 {
			parts = append(parts, fmt.Sprintf("%d %s", n[c], c))
		}
	}
	if len(parts) == 0 {
		return "none"
	}
	return strings.Join(parts, ", ")
}

func clipLine(s string, width int) string {
	if width <= 0 {
		return s
	}
	r := []rune(s)
	if len(r) <= width {
		return s
	}
	return string(r[:width-1]) + "…"
}

type errW struct {
	w   io.Writer
	err error
}

func (e *errW) Write(b []byte) (int, error) {
	if e.err != nil {
		return 0, e.err
	}
	n, err := e.w.Write(b)
	e.err = err
	return n, err
}

// diffLines are the lines of a config diff the summary shows: the changed
// ones and the line each change follows, without the file names.
func diffLines(d string) []string {
	var out []string
	lines := strings.Split(strings.TrimRight(d, "\n"), "\n")
	for i, l := range lines {
		switch {
		case l == "", strings.HasPrefix(l, "---"), strings.HasPrefix(l, "+++"), strings.HasPrefix(l, "@@"), strings.HasPrefix(l, `\`):
		case l[0] == '+' || l[0] == '-':
			out = append(out, l)
		case i+1 < len(lines) && len(lines[i+1]) > 0 && (lines[i+1][0] == '+' || lines[i+1][0] == '-') && !strings.HasPrefix(lines[i+1], "+++") && !strings.HasPrefix(lines[i+1], "---"):
			out = append(out, l) // the line before a change, for its place
		}
	}
	return out
}
