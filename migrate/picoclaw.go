package migrate

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"path"
	"regexp"
	"sort"
	"strings"
	"time"

	"github.com/tidwall/gjson"

	"github.com/picosess/picosess/keying"
	"github.com/picosess/picosess/workspace"
)

// picoMsg is PicoClaw's message object, every era.
type picoMsg struct {
	Role             string          `json:"role"`
	Content          *string         `json:"content"`
	ModelName        string          `json:"model_name"`
	CreatedAt        string          `json:"created_at"`
	Media            []string        `json:"media"`
	Attachments      json.RawMessage `json:"attachments"`
	ReasoningContent string          `json:"reasoning_content"`
	SystemParts      json.RawMessage `json:"system_parts"`
	ToolCalls        json.RawMessage `json:"tool_calls"`
	ToolCallID       string          `json:"tool_call_id"`
}

type picoMeta struct {
	Key       string        `json:"key"`
	Summary   string        `json:"summary"`
	Skip      int           `json:"skip"`
	Count     int           `json:"count"`
	CreatedAt string        `json:"created_at"`
	UpdatedAt string        `json:"updated_at"`
	Scope     *keying.Scope `json:"scope"`
	Aliases   []string      `json:"aliases"`
}

// picoCopy is one JSON-era file (.json, .json.migrated, session-*.tmp).
type picoCopy struct {
	file     FileInfo
	key      string
	items    []*item
	summary  string
	created  time.Time
	updated  time.Time // the file's "updated": when its session last changed
	inferred bool
	warnings []string
	bad      []SetAside
}

// picoLog is one JSONL history with its meta.
type picoLog struct {
	stem     string
	files    []FileInfo
	key      string
	inferred bool
	meta     *picoMeta
	metaPath string
	items    []*item // every line, skipped ones included
	skipTo   *item   // last message among the skipped lines
	lineNos  []int   // numbers of the non-empty raw lines, for skip
	created  time.Time
	warnings []string
	bad      []SetAside
}

// picoGroup is everything read under one raw key.
type picoGroup struct {
	key    string
	copies []*picoCopy
	logs   []*picoLog
	paths  []string // files that fed it
	src    *Source
	items  []*item
	start  time.Time
	merged bool // folded into a promoted P5 session
}

var (
	tmpJSONL   = regexp.MustCompile(`\.tmp-\d+-\d+$`)
	keyFieldRe = regexp.MustCompile(`"key"\s*:\s*"((?:[^"\\]|\\.)*)"`)
)

func readPicoClaw(ctx context.Context, res *Result, dirs []sessionDir) error {
	reports := fileReports{}
	groups := map[string]*picoGroup{}
	group := func(k string) *picoGroup {
		g := groups[k]
		if g == nil {
			g = &picoGroup{key: k}
			groups[k] = g
		}
		return g
	}
	for _, d := range dirs {
		files, err := listFiles(ctx, res.Root, d)
		if err != nil {
			return err
		}
		// stems of this directory: .jsonl and its meta belong together
		logs := map[string]*picoLog{}
		logOf := func(stem string) *picoLog {
			l := logs[stem]
			if l == nil {
				l = &picoLog{stem: stem}
				logs[stem] = l
			}
			return l
		}
		for _, rel := range files {
			if err := ctx.Err(); err != nil {
				return err
			}
			name := path.Base(rel)
			dirRel := path.Dir(rel)
			switch {
			case strings.HasSuffix(name, ".meta.json") || strings.HasSuffix(name, ".meta.json.migrated"):
				stem := strings.TrimSuffix(strings.TrimSuffix(name, ".migrated"), ".meta.json")
				if err := readPicoMeta(res, reports, logOf(path.Join(dirRel, stem)), rel); err != nil {
					return err
				}
			case strings.HasSuffix(name, ".jsonl"):
				l := logOf(path.Join(dirRel, strings.TrimSuffix(name, ".jsonl")))
				if err := readPicoJSONL(res, reports, l, rel); err != nil {
					return err
				}
			case strings.HasSuffix(name, ".json.migrated") || name == ".json" || (strings.HasSuffix(name, ".json") && !strings.HasPrefix(name, ".")):
				// ".json" is the session of the empty key: v0.0.1 stored
				// every channel message there (emptyKey)
				c, err := readPicoCopy(res, reports, rel)
				if err != nil {
					return err
				}
				if c != nil {
					g := group(c.key)
					g.copies = append(g.copies, c)
					g.paths = append(g.paths, rel)
				}
			case strings.HasPrefix(name, "session-") && strings.HasSuffix(name, ".tmp"):
				c, err := readPicoCopy(res, reports, rel)
				if err != nil {
					return err
				}
				if c != nil {
					g := group(c.key)
					g.copies = append(g.copies, c)
					g.paths = append(g.paths, rel)
				}
			case tmpJSONL.MatchString(name):
				base := tmpJSONL.ReplaceAllString(name, "")
				if strings.HasSuffix(base, ".jsonl") {
					// an interrupted rewrite of a history: read it as another
					// copy of that history, deduplicated below
					l := logOf(path.Join(dirRel, strings.TrimSuffix(base, ".jsonl")) + "#tmp")
					if err := readPicoJSONL(res, reports, l, rel); err != nil {
						return err
					}
					l.stem = path.Join(dirRel, strings.TrimSuffix(base, ".jsonl"))
				} else {
					reports.set(rel, ClassIgnored, "", "temp file of an interrupted meta or index write; the file it would replace is read instead", 0)
				}
			case strings.HasPrefix(name, "seahorse.db"):
				reports.set(rel, ClassIgnored, "", "seahorse SQLite cache, derived from the JSONL histories", 0)
			default:
				reports.set(rel, ClassUnknown, "", "not a PicoClaw session file name", 0)
			}
		}
		// attach each log to its key; a temp rewrite joins its stem's log
		stems := make([]string, 0, len(logs))
		for s := range logs {
			stems = append(stems, s)
		}
		sort.Strings(stems)
		for _, s := range stems {
			l := logs[s]
			if strings.HasSuffix(s, "#tmp") {
				if main := logs[l.stem]; main != nil && main.meta != nil {
					l.meta, l.metaPath = main.meta, main.metaPath
				}
			}
			resolvePicoLogKey(l)
			g := group(l.key)
			g.logs = append(g.logs, l)
			for _, f := range l.files {
				g.paths = append(g.paths, f.Path)
			}
			if l.metaPath != "" {
				g.paths = append(g.paths, l.metaPath)
			}
		}
	}

	keys := make([]string, 0, len(groups))
	for k := range groups {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		buildPicoGroup(groups[k])
	}
	mergePromoted(res, groups, keys, reports)
	for _, k := range keys {
		g := groups[k]
		if g.src == nil {
			continue
		}
		res.Sources = append(res.Sources, g.src)
	}
	reports.into(res)
	return nil
}

func resolvePicoLogKey(l *picoLog) {
	if l.meta != nil && l.meta.Key != "" {
		l.key = l.meta.Key
		return
	}
	why := fmt.Sprintf("%s.jsonl has no readable .meta.json", l.stem)
	if l.meta != nil {
		why = fmt.Sprintf("%s has an empty key", l.metaPath)
	}
	l.key, l.inferred, l.warnings = keyFromName(path.Base(l.stem), why, l.warnings)
}

// keyFromName reads a raw key back from a file stem (stemKey): the key when
// the name allows one reading, else the stem itself, marked inferred, with
// the candidates in the warning.
func keyFromName(stem, why string, warnings []string) (key string, inferred bool, _ []string) {
	if k, cands := stemKey(stem); k != "" {
		if k != stem {
			warnings = append(warnings, fmt.Sprintf("%s: raw key %s read from the file name, the only reading it allows", why, k))
		}
		return k, false, warnings
	} else if len(cands) > 0 {
		return stem, true, append(warnings, fmt.Sprintf("%s: the file name reads as several keys (%s): kept under the name itself", why, strings.Join(cands, ", ")))
	}
	return stem, true, append(warnings, fmt.Sprintf("%s: the file name reads as no legacy key: kept under the name itself", why))
}

func readPicoMeta(res *Result, reports fileReports, l *picoLog, rel string) error {
	data, fi, err := readSource(res.Root, rel)
	if err != nil {
		return err
	}
	var m picoMeta
	if err := json.Unmarshal(data, &m); err != nil {
		reports.set(rel, ClassCorrupt, "", "unparsable meta: "+err.Error(), 0)
		res.SetAside = append(res.SetAside, SetAside{Path: rel, Length: int64(len(data)), Reason: "unparsable .meta.json: " + err.Error(), Data: data})
		return nil
	}
	migrated := strings.HasSuffix(rel, ".migrated")
	if l.meta != nil {
		// .meta.json beats .meta.json.migrated
		if migrated {
			reports.set(rel, ClassDuplicate, m.Key, "older meta, superseded by the .meta.json beside it", 0)
			return nil
		}
		reports.set(l.metaPath, ClassDuplicate, l.meta.Key, "older meta, superseded by the .meta.json beside it", 0)
	}
	l.meta, l.metaPath = &m, rel
	l.files = append(l.files, fi)
	reason := "session meta"
	if migrated {
		reason = "meta renamed .meta.json.migrated by a 2026-03-10 build (history emptied; .json.migrated holds it)"
		l.warnings = append(l.warnings, fmt.Sprintf("%s: meta renamed by an unreleased 2026-03-10 build; the history is read from the .json.migrated copy", rel))
	}
	reports.set(rel, ClassImported, m.Key, reason, 0)
	return nil
}

func readPicoJSONL(res *Result, reports fileReports, l *picoLog, rel string) error {
	data, fi, err := readSource(res.Root, rel)
	if err != nil {
		return err
	}
	l.files = append(l.files, fi)
	objs, bad := readJSONL(rel, data, `{"role":"`)
	l.bad = append(l.bad, bad...)
	lines := 0
	for _, o := range objs {
		it, err := picoItem(o.data, rel, o.no)
		if err != nil {
			l.bad = append(l.bad, SetAside{Path: rel, Line: o.no, Offset: o.off, Length: int64(len(o.data)), Reason: err.Error(), Data: append([]byte(nil), o.data...)})
			continue
		}
		l.items = append(l.items, it)
		lines++
	}
	// remember non-empty raw line numbers for skip: corrupt lines count
	l.lineNos = append(l.lineNos, nonEmptyLines(data)...)
	reports.set(rel, ClassImported, "", "", lines)
	return nil
}

func nonEmptyLines(data []byte) []int {
	var out []int
	for _, ln := range splitLines(data) {
		if !isBlank(ln.data) {
			out = append(out, ln.no)
		}
	}
	return out
}

func readPicoCopy(res *Result, reports fileReports, rel string) (*picoCopy, error) {
	data, fi, err := readSource(res.Root, rel)
	if err != nil {
		return nil, err
	}
	c := &picoCopy{file: fi}
	var whole struct {
		Key      string            `json:"key"`
		Messages []json.RawMessage `json:"messages"`
		Summary  string            `json:"summary"`
		Created  string            `json:"created"`
		Updated  string            `json:"updated"`
	}
	var elems []json.RawMessage
	if err := json.Unmarshal(data, &whole); err == nil {
		c.key, c.summary, elems = whole.Key, whole.Summary, whole.Messages
		c.created, _ = parsePicoTime(whole.Created)
		c.updated, _ = parsePicoTime(whole.Updated)
	} else {
		// a plain WriteFile cut short (P0/P1): keep the complete elements
		c.key = gjson.GetBytes(data, "key").String()
		if c.key == "" {
			if m := keyFieldRe.FindSubmatch(data); m != nil {
				_ = json.Unmarshal(append(append([]byte{'"'}, m[1]...), '"'), &c.key)
			}
		}
		mi := bytes.Index(data, []byte(`"messages"`))
		end := 0
		if mi >= 0 {
			if j := bytes.IndexByte(data[mi:], '['); j >= 0 {
				elems, end, _ = salvageArray(data, mi+j)
			}
		}
		if c.key == "" && len(elems) == 0 {
			reports.set(rel, ClassCorrupt, "", "unparsable JSON session: "+err.Error(), 0)
			res.SetAside = append(res.SetAside, SetAside{Path: rel, Length: int64(len(data)), Reason: "unparsable JSON session: " + err.Error(), Data: data})
			return nil, nil
		}
		if end < len(data) {
			c.bad = append(c.bad, SetAside{Path: rel, Offset: int64(end), Length: int64(len(data) - end), Reason: "truncated JSON session (plain write cut short): " + err.Error(), Data: append([]byte(nil), data[end:]...)})
		}
	}
	switch {
	case c.key == "" && picoStemKey(path.Base(rel)) == "":
		// sessions/.json, key "": PicoClaw v0.0.1's adapters set no session
		// key, so every message of every channel and chat went to this one
		// session, and nothing in it says which chat a message came from
		c.key, c.inferred = picoEmptyKey, true
		c.warnings = append(c.warnings, fmt.Sprintf("%s: the session of the empty key (PicoClaw v0.0.1 stored every channel message of every chat there; the file does not say which chat each came from): imported as one session under %s", rel, picoEmptyKey))
	case c.key == "":
		c.key, c.inferred, c.warnings = keyFromName(picoStemKey(path.Base(rel)), rel+" has no key", nil)
	}
	for i, e := range elems {
		it, err := picoItem(e, rel, 0)
		if err != nil {
			c.bad = append(c.bad, SetAside{Path: rel, Length: int64(len(e)), Reason: fmt.Sprintf("message %d: %v", i+1, err), Data: append([]byte(nil), e...)})
			continue
		}
		it.prov.EntryID = fmt.Sprintf("messages[%d]", i)
		c.items = append(c.items, it)
	}
	reports.set(rel, ClassImported, c.key, "", len(c.items))
	return c, nil
}

// picoEmptyKey is the key given to the session PicoClaw stored under the
// empty key (sessions/.json, written by v0.0.1 for every channel message).
const picoEmptyKey = "picoclaw:empty-key"

func picoStemKey(name string) string {
	for _, suf := range []string{".json.migrated", ".json", ".tmp"} {
		name = strings.TrimSuffix(name, suf)
	}
	return name
}

// picoItem turns one PicoClaw message object into a record.
func picoItem(data []byte, rel string, line int) (*item, error) {
	var m picoMsg
	if err := json.Unmarshal(data, &m); err != nil {
		return nil, fmt.Errorf("not a message object: %w", err)
	}
	if m.Role == "" || m.Content == nil {
		return nil, fmt.Errorf("not a message object: no role or content")
	}
	it := &item{prov: Provenance{Path: rel, Line: line}}
	r := &it.rec
	r.Type = workspace.TypeMessage
	r.Role = m.Role
	r.Content = *m.Content
	r.ModelName = m.ModelName
	r.Media = m.Media
	r.Attachments = nonNull(m.Attachments)
	r.ReasoningContent = m.ReasoningContent
	r.SystemParts = nonNull(m.SystemParts)
	r.ToolCalls = picoToolCalls(nonNull(m.ToolCalls))
	r.ToolCallID = m.ToolCallID
	if t, ok := parsePicoTime(m.CreatedAt); ok {
		r.At, it.timed = t, true
	}
	if r.Role == workspace.RoleAssistant && r.Content == "" && r.ReasoningContent != "" && len(r.ToolCalls) == 0 {
		// dropped upstream on read and write; imported, flagged so that
		// the context builder can keep it out of the model's view
		it.prov.Extra = mustJSON(map[string]any{"thought_only": true})
	}
	return it, nil
}

// nonNull drops JSON null and compacts the rest (JSON-era files are
// indented; a record is one line).
func nonNull(b json.RawMessage) json.RawMessage {
	if len(b) == 0 || string(b) == "null" {
		return nil
	}
	var buf bytes.Buffer
	if err := json.Compact(&buf, b); err != nil {
		return b
	}
	return buf.Bytes()
}

// picoToolCalls keeps tool calls verbatim, except that a call written by a
// pre-2026-02-21 build with a top-level name and arguments object gets the
// function {name, arguments-as-JSON-text} current readers expect.
func picoToolCalls(raw json.RawMessage) json.RawMessage {
	if raw == nil {
		return nil
	}
	var calls []map[string]json.RawMessage
	if err := json.Unmarshal(raw, &calls); err != nil {
		return raw
	}
	changed := false
	for _, c := range calls {
		if _, ok := c["function"]; ok {
			continue
		}
		name, hasName := c["name"]
		if !hasName {
			continue
		}
		args := c["arguments"]
		text := "{}"
		if len(args) > 0 {
			if args[0] == '"' {
				_ = json.Unmarshal(args, &text)
			} else {
				text = compactJSON(string(args))
			}
		}
		var n string
		_ = json.Unmarshal(name, &n)
		c["function"] = mustJSON(map[string]string{"name": n, "arguments": text})
		if _, ok := c["type"]; !ok {
			c["type"] = json.RawMessage(`"function"`)
		}
		changed = true
	}
	if !changed {
		return raw
	}
	return mustJSON(calls)
}

// parsePicoTime reads Go's RFC 3339 with any fraction and offset;
// 0001-01-01T00:00:00Z and "" mean unknown.
func parsePicoTime(s string) (time.Time, bool) {
	if s == "" {
		return time.Time{}, false
	}
	t, err := time.Parse(time.RFC3339Nano, s)
	if err != nil || t.Year() <= 1 {
		return time.Time{}, false
	}
	return t.UTC(), true
}

// buildPicoGroup merges every source of one key:
// JSON copies first where they hold messages the JSONL lacks, every JSONL
// line (skip lines included), the summary after the last skipped line.
func buildPicoGroup(g *picoGroup) {
	s := &Source{System: SystemPicoClaw, Key: g.key, Agent: picoAgent(g.key)}
	g.src = s
	// JSON copies, oldest first, aligned into one timeline
	sort.SliceStable(g.copies, func(i, j int) bool {
		return g.copies[i].older(g.copies[j])
	})
	var fromCopies []*item
	var summaries []string
	var start, lastUpdated time.Time
	for k, c := range g.copies {
		s.Files = append(s.Files, c.file)
		s.SetAside = append(s.SetAside, c.bad...)
		s.KeyInferred = s.KeyInferred || c.inferred
		s.Warnings = append(s.Warnings, c.warnings...)
		var st alignStats
		fromCopies, st = align(fromCopies, c.items, true)
		// A copy that shares no message with the older ones and whose
		// session was created after they last changed (a P0 file and the
		// P1 file of its key that started afresh in another directory)
		// comes after them whole: that order is known, not undecided.
		after := st.matched == 0 && !lastUpdated.IsZero() && !c.created.IsZero() && !c.created.Before(lastUpdated)
		if st.undecided > 0 && k > 0 && !after {
			s.Warnings = append(s.Warnings, undecidedNote(st, c.file.Path))
		}
		if c.updated.After(lastUpdated) {
			lastUpdated = c.updated
		}
		if c.summary != "" {
			summaries = append(summaries, c.summary)
		}
		if !c.created.IsZero() && (start.IsZero() || c.created.Before(start)) {
			start = c.created
		}
	}
	// JSONL histories (more than one when old and new file names of one
	// key both survive), oldest first
	sort.SliceStable(g.logs, func(i, j int) bool {
		return older(g.logs[i].items, g.logs[i].jsonlFile(), g.logs[j].items, g.logs[j].jsonlFile())
	})
	var logItems [][]*item
	var logNames []string
	var skipTo *item
	var metaSummary string
	for _, l := range g.logs {
		s.Files = append(s.Files, l.files...)
		s.SetAside = append(s.SetAside, l.bad...)
		s.Warnings = append(s.Warnings, l.warnings...)
		if l.inferred {
			s.KeyInferred = true
		}
		if l.meta != nil {
			if s.Scope == nil && l.meta.Scope != nil {
				sc := l.meta.Scope.Clone()
				s.Scope = &sc
				if s.Agent == "" {
					s.Agent = sc.AgentID
				}
			}
			for _, al := range l.meta.Aliases {
				if a, isMain := isMainKey(al); isMain && keying.MainID(a) != g.key && !strings.EqualFold(al, g.key) {
					continue // every P5 meta lists main: it belongs to main alone
				}
				s.RecordedAliases = append(s.RecordedAliases, al)
			}
			if l.meta.Summary != "" {
				metaSummary = l.meta.Summary
			}
			if t, ok := parsePicoTime(l.meta.CreatedAt); ok && start.IsZero() {
				start = t
			}
			l.skipTo = picoSkipTo(s, l)
		}
		logItems = append(logItems, l.items)
		logNames = append(logNames, l.jsonlFile().Path)
		if l.skipTo != nil {
			skipTo = l.skipTo
		}
	}
	fromLogs, notes := alignAll(logItems, logNames)
	s.Warnings = append(s.Warnings, notes...)
	if n := unbackfill(fromLogs, fromCopies); n > 0 {
		s.warnf("%d JSONL times were stamped by the JSON->JSONL conversion (the JSON copy has none): taken as unknown", n)
	}
	// the JSON-era copies are older than any JSONL: the conversion wrote
	// the JSONL from them
	items, st := alignConverted(fromCopies, fromLogs)
	if st.oldOnly > 0 && len(fromLogs) > 0 {
		s.warnf("%d messages found only in JSON copies (.json/.json.migrated/temp) were added to the JSONL history, where the copies have them", st.oldOnly)
	}
	if st.undecided > 0 && len(fromCopies) > 0 {
		s.Warnings = append(s.Warnings, undecidedNote(st, "the JSONL history"))
	}
	// summaries: the JSON-era ones that the meta does not repeat come
	// first (they stand for messages gone before the copy was written);
	// the meta's goes after the last skipped line.
	var out []*item
	seen := map[string]bool{}
	for _, t := range summaries {
		if t == metaSummary || seen[t] {
			continue
		}
		seen[t] = true
		out = append(out, summaryItem(t, nil, g.copies[0].file.Path))
	}
	var summ *item
	if metaSummary != "" {
		summ = summaryItem(metaSummary, skipTo, picoMetaPath(g))
	}
	if summ != nil && skipTo == nil {
		out = append(out, summ)
	}
	for _, it := range items {
		out = append(out, it)
		if summ != nil && it == skipTo {
			out = append(out, summ)
		}
	}
	if start.IsZero() {
		start = firstTime(out)
	}
	g.items = out
	g.start = start
}

// unbackfill drops the times the P4 conversion invented: a JSONL message
// whose JSON copy has no created_at got the conversion time, so the
// copy's absence of a time is the truth.
func unbackfill(logs, copies []*item) int {
	untimed := map[string]int{}
	for _, c := range copies {
		if c.isMessage() && !c.timed {
			untimed[c.fp()]++
		}
	}
	if len(untimed) == 0 {
		return 0
	}
	n := 0
	for _, l := range logs {
		if k := l.fp(); l.timed && untimed[k] > 0 {
			untimed[k]--
			l.timed = false
			n++
		}
	}
	return n
}

func picoMetaPath(g *picoGroup) string {
	for _, l := range g.logs {
		if l.metaPath != "" {
			return l.metaPath
		}
	}
	return ""
}

func summaryItem(text string, through *item, from string) *item {
	return &item{
		rec:     workspace.Record{Type: workspace.TypeSummary, Text: text, By: "import"},
		prov:    Provenance{Path: from},
		through: through,
	}
}

// picoSkipTo finds the last message among the first meta.skip non-empty
// lines (corrupt lines count, as upstream counted them).
func picoSkipTo(s *Source, l *picoLog) *item {
	k := l.meta.Skip
	if k <= 0 {
		return nil
	}
	if k > len(l.lineNos) {
		s.warnf("%s: meta skip %d is more than the %d lines of the history (stale meta after a crash): every line is taken as summarized", l.metaPath, k, len(l.lineNos))
		k = len(l.lineNos)
		if k == 0 {
			return nil
		}
	}
	lastLine := l.lineNos[k-1]
	var to *item
	for _, it := range l.items {
		if it.prov.Line <= lastLine {
			to = it
		}
	}
	return to
}

// picoAgent is the agent a raw key names: agent:<a>:… (not agent:cron-…),
// main for pre-routing keys, "" for keys that name none.
func picoAgent(k string) string {
	lk := strings.ToLower(strings.TrimSpace(k))
	switch {
	case strings.HasPrefix(lk, "sk_v1_"):
		return ""
	case strings.HasPrefix(lk, "agent:"):
		parts := strings.SplitN(lk, ":", 3)
		if len(parts) < 3 {
			return ""
		}
		return parts[1]
	}
	return keying.DefaultAgent
}

// isMainKey reports whether k is agent:<a>:main.
func isMainKey(k string) (agent string, ok bool) {
	lk := strings.ToLower(strings.TrimSpace(k))
	parts := strings.Split(lk, ":")
	if len(parts) == 3 && parts[0] == "agent" && parts[2] == "main" && parts[1] != "" {
		return parts[1], true
	}
	return "", false
}

// mergePromoted handles P5 installs: strips main's
// history copied into new sessions by v0.2.7-v0.2.9, and folds each legacy
// key a P5 meta lists into that session, once.
func mergePromoted(res *Result, groups map[string]*picoGroup, keys []string, reports fileReports) {
	// main's messages per agent, legacy and opaque spellings together
	mainMsgs := map[string][]*item{}
	mainKey := map[string]bool{}
	for _, k := range keys {
		if a, ok := isMainKey(k); ok {
			mainMsgs[a], _ = align(mainMsgs[a], onlyMessages(groups[k].items), false)
			mainKey[k] = true
		}
	}
	for _, k := range keys {
		g := groups[k]
		if g.src.Scope == nil || !strings.HasPrefix(k, "sk_v1_") {
			continue
		}
		a := g.src.Scope.AgentID
		if k == keying.MainID(a) {
			mainKey[k] = true
			continue
		}
		if n := stripMainCopy(g, mainMsgs[a]); n > 0 {
			g.src.warnf("dropped %d leading messages copied from agent:%s:main by the v0.2.7-v0.2.9 promotion (picoclaw#2972); they stay in the main session", n, a)
		}
	}
	// candidates: legacy key -> P5 groups whose meta lists it
	claims := map[string][]*picoGroup{}
	lowerKey := map[string]string{}
	for _, k := range keys {
		lowerKey[strings.ToLower(k)] = k
	}
	for _, k := range keys {
		g := groups[k]
		if !strings.HasPrefix(k, "sk_v1_") {
			continue
		}
		for _, al := range g.src.RecordedAliases {
			_, ok := groups[al]
			target := al
			if !ok {
				if t, ok2 := lowerKey[strings.ToLower(al)]; ok2 {
					target = t
				} else {
					continue
				}
			}
			if _, isMain := isMainKey(target); isMain || mainKey[target] || strings.HasPrefix(target, "sk_v1_") {
				continue
			}
			claims[target] = append(claims[target], g)
		}
	}
	legacy := make([]string, 0, len(claims))
	for k := range claims {
		legacy = append(legacy, k)
	}
	sort.Strings(legacy)
	for _, lk := range legacy {
		lg := groups[lk]
		cands := claims[lk]
		msgs := onlyMessages(lg.items)
		var into *picoGroup
		if len(cands) == 1 {
			into = cands[0]
		} else {
			var holding []*picoGroup
			for _, c := range cands {
				if len(msgs) > 0 && containsInOrder(c.items, msgs) == len(msgs) {
					holding = append(holding, c)
				}
			}
			if len(holding) == 1 {
				into = holding[0]
			} else {
				names := make([]string, len(cands))
				for i, c := range cands {
					names[i] = c.key
				}
				lg.src.warnf("legacy key %q is listed by several P5 sessions (%s) and none alone holds its messages: imported on its own", lk, strings.Join(names, ", "))
				continue
			}
		}
		// the legacy history is the older copy: what only it holds goes
		// before the promoted session's own messages
		merged, st := mergeLegacyIntoPromoted(lg.items, into.items)
		added := len(onlyMessages(merged)) - len(onlyMessages(into.items))
		into.items = merged
		// sharing nothing, the order is known: the legacy key was last
		// written before the promoted session's first message
		if st.undecided > 0 && st.matched > 0 {
			into.src.Warnings = append(into.src.Warnings, undecidedNote(st, into.key))
		}
		into.src.Files = append(into.src.Files, lg.src.Files...)
		into.src.SetAside = append(into.src.SetAside, lg.src.SetAside...)
		into.src.Warnings = append(into.src.Warnings, lg.src.Warnings...)
		into.src.RawKeys = append(into.src.RawKeys, lk)
		into.src.RawKeys = append(into.src.RawKeys, lg.src.RawKeys...)
		into.src.RecordedAliases = append(into.src.RecordedAliases, lg.src.RecordedAliases...)
		if lg.start.Before(into.start) && !lg.start.IsZero() {
			into.start = lg.start
		}
		class, reason := ClassDuplicate, "promoted copy: its messages are in "+into.key
		if added > 0 {
			class, reason = ClassImported, fmt.Sprintf("legacy history of %s; %d messages were missing from the promoted session and were prepended", into.key, added)
			into.src.warnf("%d messages of legacy key %s were not in the promoted session and were added before its own (v0.2.7-v0.2.9 promotion)", added, lk)
		}
		for _, p := range lg.paths {
			if r := reports[p]; r != nil && r.Class != ClassCorrupt {
				reports.set(p, class, into.key, reason, r.Records)
			}
		}
		lg.src = nil
		lg.merged = true
	}
	// finish every source, label its files
	for _, k := range keys {
		g := groups[k]
		if g.src == nil {
			continue
		}
		assemble(g.src, g.items, g.start)
		for _, p := range g.paths {
			r := reports[p]
			if r == nil || r.Class == ClassCorrupt || r.Class == ClassDuplicate {
				continue
			}
			r.Key = g.key
		}
		markCopyDuplicates(g, reports)
	}
}

// markCopyDuplicates reports JSON copies that added nothing beside the
// JSONL history (.json.migrated after conversion) as duplicates.
func markCopyDuplicates(g *picoGroup, reports fileReports) {
	if len(g.logs) == 0 {
		return
	}
	var logItems []*item
	for _, l := range g.logs {
		logItems, _ = align(logItems, l.items, false)
	}
	for _, c := range g.copies {
		r := reports[c.file.Path]
		if r == nil || r.Class != ClassImported || len(c.items) == 0 {
			continue
		}
		if containsInOrder(logItems, c.items) == len(c.items) {
			reports.set(c.file.Path, ClassDuplicate, g.key, "JSON copy; every message is also in the JSONL history", r.Records)
		}
	}
}

// stripMainCopy drops the longest leading run of g's messages that occurs,
// contiguous and in order, in main's history (times included, so a chat
// that merely begins with "hi" like main did keeps its message).
func stripMainCopy(g *picoGroup, main []*item) int {
	if len(main) == 0 {
		return 0
	}
	var msgIdx []int
	for i, it := range g.items {
		if it.isMessage() {
			msgIdx = append(msgIdx, i)
		}
	}
	best := 0
	for s := range main {
		n := 0
		for n < len(msgIdx) && s+n < len(main) {
			a, b := g.items[msgIdx[n]], main[s+n]
			if !sameItem(a, b) {
				break
			}
			// Untimed (v0.2.7-v0.2.9 wrote no message times), a run is
			// taken for the copy only when it starts at main's first
			// message: the copy was main's whole active history, so it
			// starts there unless main was summarized before the copy.
			if !(a.timed && b.timed) && s != 0 {
				break
			}
			n++
		}
		if n > best {
			best = n
		}
	}
	if best == 0 {
		return 0
	}
	drop := make(map[*item]bool, best)
	for _, i := range msgIdx[:best] {
		drop[g.items[i]] = true
	}
	kept := g.items[:0:0]
	for _, it := range g.items {
		if !drop[it] {
			kept = append(kept, it)
		}
	}
	g.items = kept
	return best
}

// jsonlFile is the .jsonl file of a history (its meta when it has none).
func (l *picoLog) jsonlFile() FileInfo {
	for _, f := range l.files {
		if strings.HasSuffix(f.Path, ".jsonl") {
			return f
		}
	}
	if len(l.files) > 0 {
		return l.files[0]
	}
	return FileInfo{}
}

// older reports whether copy a was written before copy b: by the time of
// its last timed message, else by file modification time, else by path.
func older(a []*item, fa FileInfo, b []*item, fb FileInfo) bool {
	ta, tb := lastTime(a), lastTime(b)
	if ta.IsZero() {
		ta = fa.ModTime
	}
	if tb.IsZero() {
		tb = fb.ModTime
	}
	if !ta.Equal(tb) {
		return ta.Before(tb)
	}
	return fa.Path < fb.Path
}

// older reports whether JSON-era copy c was written before d: by the time
// of its last timed message, else by its "updated" field (messages carry
// no time before 2026-05-11, and a copied or restored home has new file
// times: a P0 sessions/cli:default.json beside the P1
// workspace/sessions/cli:default.json that went on without it), else by
// file modification time, else by path.
func (c *picoCopy) older(d *picoCopy) bool {
	tc, td := lastTime(c.items), lastTime(d.items)
	if tc.IsZero() {
		tc = c.updated
	}
	if td.IsZero() {
		td = d.updated
	}
	if tc.IsZero() || td.IsZero() {
		return older(c.items, c.file, d.items, d.file)
	}
	if !tc.Equal(td) {
		return tc.Before(td)
	}
	return older(c.items, c.file, d.items, d.file)
}

// lastTime returns the time of the last timed message, or zero.
func lastTime(items []*item) time.Time {
	for i := len(items) - 1; i >= 0; i-- {
		if it := items[i]; it.timed && it.isMessage() && !it.rec.At.IsZero() {
			return it.rec.At
		}
	}
	return time.Time{}
}

// alignConverted merges the JSON-era copies of a key (older) with its
// JSONL history. The JSON->JSONL conversion wrote the JSONL from the copy,
// so the JSONL began with the copy's messages, and PicoClaw then only
// appends to it, except that a summary (TruncateHistory, then Save, which
// compacts the file) or a forced compression rewrites it without its
// head. So when the copy's first record is nowhere in the JSONL, the head
// was cut (or the conversion dropped it, as it drops thought-only
// messages), and the records the two share can only be a run at the end
// of the copy that is also the start of the JSONL: the longest such run
// is matched, and nothing else. Aligning by content instead would take a
// "thanks" of the copy and a later "thanks" of the JSONL, each unique in
// its copy, for one message and drop one of them. Where both sides carry
// times, times tell equal messages apart, and otherwise the copies are
// aligned as any two copies are (align).
func alignConverted(copies, logs []*item) ([]*item, alignStats) {
	if len(copies) == 0 || len(logs) == 0 || (anyTimed(copies) && anyTimed(logs)) {
		return align(copies, logs, true)
	}
	for _, it := range logs {
		if sameItem(it, copies[0]) {
			return align(copies, logs, true)
		}
	}
	// the longest run: try the copy's records equal to the JSONL's first,
	// earliest first (each try stops at its first difference)
	k := 0
	for s := 1; s < len(copies) && k == 0; s++ {
		if !sameItem(copies[s], logs[0]) || len(copies)-s > len(logs) {
			continue
		}
		if runEqual(copies[s:], logs) {
			k = len(copies) - s
		}
	}
	out := make([]*item, 0, len(copies)+len(logs)-k)
	out = append(out, copies[:len(copies)-k]...)
	for i, keep := range logs {
		if i < k {
			// as align does: the newer copy's record is kept, with the
			// older one's time if it has none and its provenance
			drop := copies[len(copies)-k+i]
			if !keep.timed && drop.timed {
				keep.rec.At, keep.timed = drop.rec.At, true
			}
			keep.also = append(keep.also, Provenance{Path: drop.prov.Path, Line: drop.prov.Line, EntryID: drop.prov.EntryID})
			keep.also = append(keep.also, drop.also...)
		}
		out = append(out, keep)
	}
	return out, alignStats{matched: k, oldOnly: len(copies) - k, newOnly: len(logs) - k}
}

func anyTimed(items []*item) bool {
	for _, it := range items {
		if it.timed {
			return true
		}
	}
	return false
}

// mergeLegacyIntoPromoted folds a legacy key's history into the P5 session
// whose meta lists it. Promotion copied the legacy key's active history
// (its last messages) to the start of the new session, so either the
// session's messages begin with a tail of the legacy history (a promoted
// copy: the two are aligned, each message once), or the legacy history is
// not in it at all (the v0.2.7-v0.2.9 promotion copied main's history
// instead, picoclaw#2972) and it goes whole before the session's own
// messages. It is never matched in the middle of the session: a "thanks"
// or "ok" there is a later message, not the legacy one.
func mergeLegacyIntoPromoted(legacy, promoted []*item) ([]*item, alignStats) {
	lm, pm := onlyMessages(legacy), onlyMessages(promoted)
	if len(lm) == 0 || len(pm) == 0 {
		return align(legacy, promoted, true)
	}
	for s := range lm {
		if len(lm)-s <= len(pm) && sameItem(lm[s], pm[0]) && runEqual(lm[s:], pm) {
			return align(legacy, promoted, true)
		}
	}
	out := make([]*item, 0, len(legacy)+len(promoted))
	out = append(out, legacy...)
	out = append(out, promoted...)
	return out, alignStats{oldOnly: len(legacy), newOnly: len(promoted)}
}

// runEqual reports whether a is, record for record, the start of b.
func runEqual(a, b []*item) bool {
	if len(a) > len(b) {
		return false
	}
	for i := range a {
		if !sameItem(a[i], b[i]) {
			return false
		}
	}
	return true
}
