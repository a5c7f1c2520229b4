package migrate

import (
	"context"
	"encoding/json"
	"fmt"
	"io/fs"
	"path"
	"path/filepath"
	"regexp"
	"sort"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/tidwall/gjson"

	"github.com/picosess/picosess/workspace"
)

// PocketPaw channels; the longest that, followed by "_", begins a stem
// names the channel.
var ppChannels = []string{"google_chat", "websocket", "telegram", "whatsapp", "discord", "webhook", "signal", "matrix", "system", "slack", "teams", "cli"}

var ppGenRe = regexp.MustCompile(`^(.+)_([0-9a-f]{8})$`)

type ppSession struct {
	stem     string
	key      string
	rawKey   string // the raw key an export names as its session_id
	inferred bool
	files    []FileInfo
	items    []*item
	bad      []SetAside
	warnings []string
	first    time.Time
	paths    []string
}

type ppIndexEntry struct {
	Title        string `json:"title"`
	UserTitle    string `json:"user_title"`
	LastActivity string `json:"last_activity"`
	Channel      string `json:"channel"`
}

func readPocketPaw(ctx context.Context, res *Result, dirs []sessionDir, loc *time.Location) error {
	reports := fileReports{}
	for _, d := range dirs {
		if err := readPPDir(ctx, res, reports, d, loc); err != nil {
			return err
		}
		reportPPMemory(res, reports, d)
	}
	reports.into(res)
	return nil
}

// reportPPMemory lists the long-term memory beside a memory/sessions dir
// (MEMORY.md, daily notes, users/<hash>/MEMORY.md, vector stores): it is
// reported, not imported.
func reportPPMemory(res *Result, reports fileReports, d sessionDir) {
	if path.Base(d.rel) != "sessions" || path.Base(path.Dir(d.rel)) != "memory" {
		return
	}
	mem := path.Dir(d.rel)
	base := filepath.Join(res.Root, filepath.FromSlash(mem))
	_ = filepath.WalkDir(base, func(p string, e fs.DirEntry, err error) error {
		if err != nil {
			return nil
		}
		rel, _ := filepath.Rel(res.Root, p)
		rel = filepath.ToSlash(rel)
		if e.IsDir() {
			if rel == d.rel {
				return filepath.SkipDir
			}
			return nil
		}
		reports.set(rel, ClassIgnored, "", "PocketPaw long-term memory: reported, not imported", 0)
		return nil
	})
}

// ppSafe is PocketPaw's file-name rule: ':' and '/' become '_'.
func ppSafe(key string) string {
	return strings.NewReplacer(":", "_", "/", "_").Replace(key)
}

func readPPDir(ctx context.Context, res *Result, reports fileReports, d sessionDir, loc *time.Location) error {
	files, err := listFiles(ctx, res.Root, d)
	if err != nil {
		return err
	}
	aliases := map[string]string{}
	index := map[string]ppIndexEntry{}
	var aliasFile, indexFile []FileInfo
	sessions := map[string]*ppSession{}
	var compactions []string
	var temps, exports []string
	readSmall := func(rel string, into any, what string) (FileInfo, bool, error) {
		data, fi, err := readSource(res.Root, rel)
		if err != nil {
			return fi, false, err
		}
		if err := json.Unmarshal(data, into); err != nil {
			reports.set(rel, ClassCorrupt, "", "unparsable "+what+": "+err.Error(), 0)
			res.SetAside = append(res.SetAside, SetAside{Path: rel, Length: fi.Size, Reason: "unparsable " + what, Data: data})
			return fi, false, nil
		}
		return fi, true, nil
	}
	for _, rel := range files {
		if err := ctx.Err(); err != nil {
			return err
		}
		name := path.Base(rel)
		switch {
		case name == "_aliases.json" || name == "_aliases.tmp":
			m := map[string]string{}
			fi, ok, err := readSmall(rel, &m, "alias map")
			if err != nil {
				return err
			}
			if ok {
				for k, v := range m {
					if _, dup := aliases[k]; !dup || name == "_aliases.json" {
						aliases[k] = v
					}
				}
				aliasFile = append(aliasFile, fi)
				reports.set(rel, ClassImported, "", "alias map: chat key -> active /new session", 0)
			}
		case name == "_index.json" || name == "_index.tmp":
			m := map[string]ppIndexEntry{}
			fi, ok, err := readSmall(rel, &m, "session index")
			if err != nil {
				return err
			}
			if ok {
				for k, v := range m {
					if _, dup := index[k]; !dup || name == "_index.json" {
						index[k] = v
					}
				}
				indexFile = append(indexFile, fi)
				reports.set(rel, ClassImported, "", "session index: used for titles only", 0)
			}
		case ppExportRe.MatchString(name):
			exports = append(exports, rel)
		case strings.HasPrefix(name, "pocketpaw-session-") && strings.HasSuffix(name, ".md"):
			reports.set(rel, ClassIgnored, "", "Markdown export: it holds no message ids or full times; the JSON export of the same session is imported", 0)
		case strings.HasSuffix(name, "_compaction.json"):
			compactions = append(compactions, rel)
		case strings.HasPrefix(name, "_"):
			reports.set(rel, ClassIgnored, "", "PocketPaw bookkeeping file, not a session", 0)
		case strings.HasSuffix(name, ".tmp"):
			temps = append(temps, rel)
		case strings.HasSuffix(name, ".json"):
			s, err := readPPSession(res, reports, rel, loc)
			if err != nil {
				return err
			}
			if s != nil {
				sessions[s.stem] = s
			}
		default:
			reports.set(rel, ClassUnknown, "", "not a PocketPaw session file name", 0)
		}
	}
	// interrupted writes may hold the newest complete copy, and exports
	// stand in for a memory dir that is gone: merge each by message id
	// into the session it copies
	for _, rel := range append(temps, exports...) {
		export := ppExportRe.MatchString(path.Base(rel))
		t, err := readPPFile(res, reports, rel, loc, export)
		if err != nil {
			return err
		}
		if t == nil {
			continue
		}
		s := sessions[t.stem]
		if s == nil {
			sessions[t.stem] = t
			continue
		}
		merged, added := unionByID(s.items, t.items)
		s.items = merged
		s.first = firstTime(s.items)
		if s.rawKey == "" {
			s.rawKey = t.rawKey
		}
		s.files = append(s.files, t.files...)
		s.bad = append(s.bad, t.bad...)
		s.warnings = append(s.warnings, t.warnings...)
		what := "interrupted write"
		if export {
			what = "export"
		}
		if added == 0 {
			reports.set(rel, ClassDuplicate, "", what+"; every message is in "+s.paths[0], len(t.items))
		} else {
			s.paths = append(s.paths, rel)
			s.warnings = append(s.warnings, fmt.Sprintf("%s: %d messages found only in the %s were added", rel, added, what))
		}
	}
	// raw keys
	rawOf := map[string]string{} // safe -> raw, from the alias map
	for k, v := range aliases {
		rawOf[ppSafe(k)] = k
		rawOf[ppSafe(v)] = v
	}
	for _, stem := range sortedKeys(sessions) {
		s := sessions[stem]
		if s.rawKey != "" && rawOf[stem] == "" {
			rawOf[stem] = s.rawKey // an export's session_id is a raw key
		}
		s.key, s.inferred = ppRawKey(stem, rawOf, s.items)
		if s.inferred {
			s.warnings = append(s.warnings, fmt.Sprintf("raw key of %s could not be recovered: using %s (Rule B)", stem, s.key))
		}
	}
	// compactions
	for _, rel := range compactions {
		stem := strings.TrimSuffix(path.Base(rel), "_compaction.json")
		s := sessions[stem]
		if s == nil {
			reports.set(rel, ClassIgnored, "", "summary cache of a session that no longer exists", 0)
			continue
		}
		if err := addPPCompaction(res, reports, s, rel); err != nil {
			return err
		}
	}
	// titles
	for _, stem := range sortedKeys(sessions) {
		s := sessions[stem]
		e, ok := index[stem]
		if !ok {
			continue
		}
		title := e.UserTitle
		if title == "" && e.Title != "" && e.Title != "New Chat" && e.Title != ppDefaultTitle(s.items) {
			title = e.Title
		}
		if title == "" {
			continue
		}
		it := &item{rec: workspace.Record{Type: workspace.TypeTitle, Text: title}, prov: Provenance{Path: indexFile[0].Path, EntryID: stem}}
		if t, ok, _ := naiveTime(e.LastActivity, loc, time.Time{}); ok {
			it.rec.At, it.timed = t, true
		}
		s.items = append(s.items, it)
		s.files = append(s.files, indexFile...)
	}
	// /new generations: <chat stem>_<8 hex> whose prefix is another stem
	// or an alias source
	aliasSrc := map[string]string{}
	for k := range aliases {
		aliasSrc[ppSafe(k)] = k
	}
	chats := map[string][]*ppSession{}
	chatKey := map[string]string{}
	for _, stem := range sortedKeys(sessions) {
		s := sessions[stem]
		chat := stem
		if m := ppGenRe.FindStringSubmatch(stem); m != nil {
			if p := sessions[m[1]]; p != nil {
				chat = m[1]
			} else if _, ok := aliasSrc[m[1]]; ok {
				chat = m[1]
				chatKey[chat] = aliasSrc[m[1]]
			}
		}
		chats[chat] = append(chats[chat], s)
	}
	for _, chat := range sortedKeys(chats) {
		gens := chats[chat]
		sort.SliceStable(gens, func(i, j int) bool {
			a, b := gens[i].first, gens[j].first
			if a.IsZero() || b.IsZero() {
				return gens[i].stem < gens[j].stem
			}
			return a.Before(b)
		})
		key := chatKey[chat]
		if p := sessions[chat]; p != nil {
			key = p.key
		}
		src := &Source{System: SystemPocketPaw, Key: key, Agent: "main"}
		src.Files = append(src.Files, aliasFile...)
		var all []*item
		for i, g := range gens {
			if g.key != key {
				src.RawKeys = append(src.RawKeys, g.key)
			}
			src.KeyInferred = src.KeyInferred || g.inferred
			src.Files = append(src.Files, g.files...)
			src.SetAside = append(src.SetAside, g.bad...)
			src.Warnings = append(src.Warnings, g.warnings...)
			if len(g.items) == 0 {
				continue
			}
			if len(all) > 0 {
				all = append(all, resetItem(g.first, workspace.ReasonManual, Provenance{Path: g.paths[0], EntryID: "/new"}))
			}
			all = append(all, g.items...)
			src.Generations++
			for _, p := range g.paths {
				class, reason := ClassImported, ""
				if r := reports[p]; r != nil && r.Class == ClassDuplicate {
					continue
				}
				if i < len(gens)-1 {
					class, reason = ClassGeneration, "/new: an earlier generation of "+key
				}
				reports.set(p, class, key, reason, len(onlyMessages(g.items)))
			}
		}
		assemble(src, all, time.Time{})
		res.Sources = append(res.Sources, src)
	}
	return nil
}

// ppDefaultTitle is the title PocketPaw makes: the first user message cut
// to 80 characters.
func ppDefaultTitle(items []*item) string {
	for _, it := range items {
		if it.isMessage() && it.rec.Role == workspace.RoleUser {
			c := it.rec.Content
			if utf8.RuneCountInString(c) > 80 {
				c = string([]rune(c)[:80])
			}
			return c
		}
	}
	return ""
}

// ppRawKey recovers a stem's raw key, first match wins.
func ppRawKey(stem string, rawOf map[string]string, items []*item) (string, bool) {
	if k, ok := rawOf[stem]; ok {
		return k, false
	}
	for _, ch := range ppChannels {
		if strings.HasPrefix(stem, ch+"_") {
			rest := stem[len(ch)+1:]
			if !strings.Contains(rest, "_") {
				return ch + ":" + rest, false
			}
			// lossy: look for the chat in the metadata
			for _, it := range items {
				var meta map[string]any
				if it.prov.Extra == nil || json.Unmarshal([]byte(gjson.GetBytes(it.prov.Extra, "metadata").Raw), &meta) != nil {
					continue
				}
				for _, f := range []string{"space_name", "channel_id"} {
					if v, ok := meta[f].(string); ok && v != "" && ppSafe(ch+":"+v) == stem {
						return ch + ":" + v, false
					}
				}
			}
			if m := ppGenRe.FindStringSubmatch(stem); m != nil && !strings.Contains(m[1][len(ch)+1:], "_") {
				return ch + ":" + m[1][len(ch)+1:] + ":" + m[2], false
			}
			break
		}
	}
	return "pocketpaw:" + stem, true
}

func readPPSession(res *Result, reports fileReports, rel string, loc *time.Location) (*ppSession, error) {
	return readPPFile(res, reports, rel, loc, false)
}

// ppExportRe names the dashboard's JSON exports, pocketpaw-session-<first
// 20 characters of the session id>.json, with a browser's " (1)" kept.
var ppExportRe = regexp.MustCompile(`^pocketpaw-session-.*\.json$`)

// readPPFile reads a session array, an interrupted write of one, or an
// export ({export_version, exported_at, session_id, message_count,
// messages}). An export names its session by session_id (the file name
// keeps only 20 characters of it), and its times are the naive local times
// of the session file with "+00:00" glued on, so that suffix is dropped and
// the time read in loc like any other.
func readPPFile(res *Result, reports fileReports, rel string, loc *time.Location, export bool) (*ppSession, error) {
	data, fi, err := readSource(res.Root, rel)
	if err != nil {
		return nil, err
	}
	name := path.Base(rel)
	stem := strings.TrimSuffix(strings.TrimSuffix(name, ".json"), ".tmp")
	if export {
		id := gjson.GetBytes(data, "session_id").String()
		if id == "" || !gjson.GetBytes(data, "messages").IsArray() {
			reports.set(rel, ClassCorrupt, "", "not a PocketPaw export (no session_id or messages)", 0)
			res.SetAside = append(res.SetAside, SetAside{Path: rel, Length: fi.Size, Reason: "unparsable PocketPaw export", Data: data})
			return nil, nil
		}
		stem = ppSafe(id)
	}
	s := &ppSession{stem: stem, files: []FileInfo{fi}, paths: []string{rel}}
	if export && strings.Contains(gjson.GetBytes(data, "session_id").String(), ":") {
		s.rawKey = gjson.GetBytes(data, "session_id").String()
	}
	trim := 0
	for trim < len(data) && (data[trim] == ' ' || data[trim] == '\n' || data[trim] == '\r' || data[trim] == '\t') {
		trim++
	}
	var elems []json.RawMessage
	var end int
	complete := false
	switch {
	case trim < len(data) && data[trim] == '[':
		elems, end, complete = salvageArray(data, trim)
	case trim < len(data) && data[trim] == '{':
		// the documented object shape, and exports
		g := gjson.GetBytes(data, "messages")
		if !g.IsArray() || !gjson.ValidBytes(data) {
			break
		}
		g.ForEach(func(_, v gjson.Result) bool {
			elems = append(elems, json.RawMessage(v.Raw))
			return true
		})
		end, complete = firstValueEnd(data[trim:])+trim, true
	}
	if elems == nil && !complete {
		reports.set(rel, ClassCorrupt, "", "not a PocketPaw session (no JSON array of messages)", 0)
		res.SetAside = append(res.SetAside, SetAside{Path: rel, Length: fi.Size, Reason: "unparsable PocketPaw session", Data: data})
		return nil, nil
	}
	if end < len(data) && !isBlank(data[end:]) {
		tail := data[end:]
		reason := "truncated JSON array (overwritten in place, cut short)"
		if complete {
			reason = `bytes after the array ("Extra data": two writers)`
		}
		// the tail of a longer array may still hold whole messages
		found := objectsIn(tail, "role")
		cursor := 0
		for _, sp := range found {
			if sp.start > cursor && !isBlank(tail[cursor:sp.start]) {
				s.bad = append(s.bad, SetAside{Path: rel, Offset: int64(end + cursor), Length: int64(sp.start - cursor), Reason: reason, Data: append([]byte(nil), tail[cursor:sp.start]...)})
			}
			elems = append(elems, json.RawMessage(tail[sp.start:sp.end]))
			cursor = sp.end
		}
		if cursor < len(tail) && !isBlank(tail[cursor:]) {
			s.bad = append(s.bad, SetAside{Path: rel, Offset: int64(end + cursor), Length: int64(len(tail) - cursor), Reason: reason, Data: append([]byte(nil), tail[cursor:]...)})
		}
		if len(found) > 0 {
			s.warnings = append(s.warnings, fmt.Sprintf("%s: %d whole messages recovered from bytes after the array", rel, len(found)))
		}
	}
	var prev time.Time
	seen := map[string]bool{}
	ambiguous, gaps := 0, 0
	for i, e := range elems {
		g := gjson.ParseBytes(e)
		role := g.Get("role").String()
		content := g.Get("content")
		if role == "" || !content.Exists() {
			s.bad = append(s.bad, SetAside{Path: rel, Length: int64(len(e)), Reason: fmt.Sprintf("element %d is not a message", i), Data: append([]byte(nil), e...)})
			continue
		}
		id := g.Get("id").String()
		if id != "" && seen[id] {
			continue
		}
		seen[id] = true
		it := &item{rec: workspace.Record{Type: workspace.TypeMessage, Role: role, Content: content.String()},
			prov: Provenance{Path: rel, EntryID: id}}
		ts := g.Get("timestamp").String()
		if export {
			ts = strings.TrimSuffix(ts, "+00:00")
		}
		t, ok, note := naiveTime(ts, loc, prev)
		if ok {
			it.rec.At, it.timed = t, true
			prev = t
		}
		switch note {
		case "ambiguous":
			ambiguous++
		case "gap":
			gaps++
		}
		meta := g.Get("metadata")
		if role == workspace.RoleUser {
			for _, f := range []string{"username", "sender_display_name"} {
				if v := meta.Get(f).String(); v != "" {
					it.rec.Sender = v
					break
				}
			}
		}
		if meta.Exists() && meta.Raw != "{}" {
			it.prov.Extra = mustJSON(map[string]any{"metadata": meta.Value()})
		}
		s.items = append(s.items, it)
	}
	if ambiguous > 0 {
		s.warnings = append(s.warnings, fmt.Sprintf("%s: %d naive times fell in a repeated DST hour of %s: resolved to keep the messages in order", rel, ambiguous, loc))
	}
	if gaps > 0 {
		s.warnings = append(s.warnings, fmt.Sprintf("%s: %d naive times do not exist in %s (DST gap): read with the offset before the change", rel, gaps, loc))
	}
	if n := gjson.GetBytes(data, "message_count"); export && n.Exists() && int(n.Int()) != len(elems) {
		s.warnings = append(s.warnings, fmt.Sprintf("%s: message_count says %d, the export holds %d", rel, n.Int(), len(elems)))
	}
	s.first = firstTime(s.items)
	reports.set(rel, ClassImported, "", "", len(s.items))
	return s, nil
}

func addPPCompaction(res *Result, reports fileReports, s *ppSession, rel string) error {
	data, fi, err := readSource(res.Root, rel)
	if err != nil {
		return err
	}
	var c struct {
		Watermark  int    `json:"watermark"`
		Summary    string `json:"summary"`
		OlderCount int    `json:"older_count"`
	}
	if err := json.Unmarshal(data, &c); err != nil {
		reports.set(rel, ClassCorrupt, "", "unparsable summary cache: "+err.Error(), 0)
		res.SetAside = append(res.SetAside, SetAside{Path: rel, Length: fi.Size, Reason: "unparsable _compaction.json", Data: data})
		return nil
	}
	msgs := onlyMessages(s.items)
	it := &item{rec: workspace.Record{Type: workspace.TypeSummary, Text: c.Summary, By: "import"}, prov: Provenance{Path: rel}}
	if c.OlderCount > 0 && c.OlderCount <= len(msgs) {
		it.through = msgs[c.OlderCount-1]
	}
	stale := c.Watermark != len(msgs) || c.OlderCount > len(msgs)
	it.prov.Extra = mustJSON(map[string]any{"watermark": c.Watermark, "older_count": c.OlderCount, "stale": stale})
	if stale {
		s.warnings = append(s.warnings, fmt.Sprintf("%s: summary cache made at %d messages, the session now has %d: imported, marked stale", rel, c.Watermark, len(msgs)))
	}
	// it was made when the file held watermark messages: place it there
	at := len(msgs)
	if c.Watermark > 0 && c.Watermark < at {
		at = c.Watermark
	}
	var out []*item
	placed := false
	n := 0
	for _, x := range s.items {
		out = append(out, x)
		if x.isMessage() {
			n++
			if n == at && !placed {
				out = append(out, it)
				placed = true
			}
		}
	}
	if !placed {
		out = append(out, it)
	}
	s.items = out
	s.files = append(s.files, fi)
	reports.set(rel, ClassImported, s.key, "summary cache -> summary record", 0)
	return nil
}

// unionByID merges two copies of a PocketPaw session by message id.
// A message both hold is kept once, noting the other copy (also) for
// verify.
func unionByID(a, b []*item) ([]*item, int) {
	ids := map[string]*item{}
	for _, x := range a {
		if x.prov.EntryID != "" {
			ids[x.prov.EntryID] = x
		}
	}
	var extra []*item
	for _, x := range b {
		if have := ids[x.prov.EntryID]; x.prov.EntryID != "" && have != nil {
			have.also = append(have.also, Provenance{Path: x.prov.Path, Line: x.prov.Line, EntryID: x.prov.EntryID})
			continue
		}
		extra = append(extra, x)
	}
	return mergeByTime(a, extra), len(extra)
}

// naiveTime reads a PocketPaw timestamp: datetime.isoformat() of naive local
// time (microseconds omitted when zero), read in loc; a time with an offset
// (exports) is read as written. In a repeated DST hour the earliest reading
// not before prev is taken; in a DST gap, the reading Go gives. note is
// "ambiguous" or "gap" when that happened.
func naiveTime(s string, loc *time.Location, prev time.Time) (t time.Time, ok bool, note string) {
	if s == "" {
		return time.Time{}, false, ""
	}
	if tt, err := time.Parse(time.RFC3339Nano, s); err == nil {
		return tt.UTC(), true, ""
	}
	w, err := time.Parse("2006-01-02T15:04:05.999999999", s)
	if err != nil {
		w, err = time.Parse("2006-01-02 15:04:05.999999999", s)
		if err != nil {
			return time.Time{}, false, ""
		}
	}
	t0 := time.Date(w.Year(), w.Month(), w.Day(), w.Hour(), w.Minute(), w.Second(), w.Nanosecond(), loc)
	var cands []time.Time
	for _, d := range []time.Duration{-2 * time.Hour, -time.Hour, -30 * time.Minute, 0, 30 * time.Minute, time.Hour, 2 * time.Hour} {
		c := t0.Add(d)
		l := c.In(loc)
		if l.Year() == w.Year() && l.Month() == w.Month() && l.Day() == w.Day() && l.Hour() == w.Hour() && l.Minute() == w.Minute() && l.Second() == w.Second() {
			dup := false
			for _, x := range cands {
				if x.Equal(c) {
					dup = true
				}
			}
			if !dup {
				cands = append(cands, c)
			}
		}
	}
	sort.Slice(cands, func(i, j int) bool { return cands[i].Before(cands[j]) })
	switch len(cands) {
	case 0:
		return t0.UTC(), true, "gap"
	case 1:
		return cands[0].UTC(), true, ""
	}
	for _, c := range cands {
		if prev.IsZero() || !c.Before(prev) {
			return c.UTC(), true, "ambiguous"
		}
	}
	return cands[len(cands)-1].UTC(), true, "ambiguous"
}
