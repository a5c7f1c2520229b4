package migrate

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"path"
	"regexp"
	"sort"
	"strings"
	"syscall"
	"time"

	"github.com/tidwall/gjson"

	"github.com/picosess/picosess/workspace"
)

// ocEntry is one store entry: raw key -> session.
type ocEntry struct {
	key       string // canonical key
	rawKey    string // as stored
	store     string // path of the store it came from
	live      bool   // from sessions.json itself, not a .bak/.tmp copy
	sessionID string
	fileBase  string // base name of sessionFile, if any
	updatedAt int64
	raw       gjson.Result
}

var (
	resetRe   = regexp.MustCompile(`^(.+\.jsonl)\.(reset|deleted)\.(.+)$`)
	bakRe     = regexp.MustCompile(`^(.+\.jsonl)\.bak-\d+-\d+$`)
	repairRe  = regexp.MustCompile(`^(.+\.jsonl)\.repair-\d+-\d+\.tmp$`)
	storeBak  = regexp.MustCompile(`^sessions\.json\.(bak\.\d+|\d+\.[0-9a-fA-F-]+\.tmp)$`)
	ckptRe    = regexp.MustCompile(`^(.+)\.checkpoint\.[0-9a-fA-F-]+\.jsonl$`)
	picoStyle = regexp.MustCompile(`^agent_[^.]+\.jsonl$`)
)

// ocBloat are entry fields that only inflate the store: kept as a hash.
var ocBloat = map[string]bool{"skillsSnapshot": true, "systemPromptReport": true, "resolvedSkills": true}

// ocDir is one sessions directory being read.
type ocDir struct {
	rel     string
	agent   string
	entries []*ocEntry
	trans   map[string]*ocTranscript // base name -> transcript (live .jsonl, archives, copies)
	kinds   map[string]string        // base name -> "live" | "reset" | "deleted" | "checkpoint" | "bak"
	archOf  map[string]string        // archive base name -> transcript base it archives
	archTS  map[string]time.Time
	// linkWhy says, per orphan linked by its envelopes, what linked it
	linkWhy map[string]string
	// preComp indexes the entries by the transcripts their compaction
	// checkpoints name (built on first use)
	preComp map[string][]*ocEntry
	// forks indexes transcripts by their header's parentSession base name
	forks map[string][]string
	// storeFiles are the stores read, part of every source's origin
	storeFiles []FileInfo
}

func readOpenClaw(ctx context.Context, res *Result, dirs []sessionDir, force bool) error {
	reports := fileReports{}
	for _, d := range dirs {
		if err := readOCDir(ctx, res, reports, d, force); err != nil {
			return err
		}
	}
	reports.into(res)
	return nil
}

func ocAgentOf(rel string) string {
	parts := strings.Split(rel, "/")
	for i := 0; i+2 < len(parts); i++ {
		if parts[i] == "agents" && parts[i+2] == "sessions" {
			return strings.ToLower(parts[i+1])
		}
	}
	return "main"
}

func readOCDir(ctx context.Context, res *Result, reports fileReports, d sessionDir, force bool) error {
	files, err := listFiles(ctx, res.Root, d)
	if err != nil {
		return err
	}
	od := &ocDir{rel: d.rel, agent: ocAgentOf(d.rel), trans: map[string]*ocTranscript{}, kinds: map[string]string{}, archOf: map[string]string{}, archTS: map[string]time.Time{}, linkWhy: map[string]string{}}
	var stores []string
	for _, rel := range files {
		if err := ctx.Err(); err != nil {
			return err
		}
		name := baseName(rel)
		switch {
		case name == "sessions.json":
			stores = append([]string{rel}, stores...)
		case storeBak.MatchString(name):
			stores = append(stores, rel)
		case strings.HasSuffix(name, ".lock"):
			if err := checkLock(res, reports, rel, force); err != nil {
				return err
			}
		case strings.HasSuffix(name, ".trajectory.jsonl") || strings.HasSuffix(name, ".trajectory-path.json"):
			reports.set(rel, ClassIgnored, "", "runtime trace, not conversation", 0)
		case repairRe.MatchString(name):
			reports.set(rel, ClassIgnored, "", "interrupted repair rewrite; the original transcript is read", 0)
		case strings.HasSuffix(name, ".tmp"):
			reports.set(rel, ClassIgnored, "", "temp file of an interrupted write", 0)
		case resetRe.MatchString(name):
			m := resetRe.FindStringSubmatch(name)
			if err := od.addTranscript(res, reports, rel, m[2]); err != nil {
				return err
			}
			od.archOf[name] = m[1]
			if ts, err := time.Parse("2006-01-02T15-04-05.000Z", m[3]); err == nil {
				od.archTS[name] = ts
			}
		case bakRe.MatchString(name):
			if err := od.addTranscript(res, reports, rel, "bak"); err != nil {
				return err
			}
			od.archOf[name] = bakRe.FindStringSubmatch(name)[1]
		case ckptRe.MatchString(name):
			if err := od.addTranscript(res, reports, rel, "checkpoint"); err != nil {
				return err
			}
			od.archOf[name] = ckptRe.FindStringSubmatch(name)[1] + ".jsonl"
		case strings.HasSuffix(name, ".jsonl"):
			if picoStyle.MatchString(name) && !isOCTranscript(res.Root, rel) {
				reports.set(rel, ClassUnknown, "", "PicoClaw-style file in an OpenClaw sessions dir (third-party fork?): not read", 0)
				continue
			}
			if err := od.addTranscript(res, reports, rel, "live"); err != nil {
				return err
			}
		default:
			reports.set(rel, ClassUnknown, "", "not an OpenClaw session file name", 0)
		}
	}
	for _, st := range stores {
		if err := od.readStore(res, reports, st); err != nil {
			return err
		}
	}
	od.build(res, reports)
	return nil
}

func isOCTranscript(root, rel string) bool {
	head := fileHead(root+"/"+rel, 64)
	return strings.HasPrefix(string(head), `{"type":`)
}

func (od *ocDir) addTranscript(res *Result, reports fileReports, rel, kind string) error {
	t, err := readOCTranscript(res, rel)
	if err != nil {
		return err
	}
	od.trans[t.name] = t
	od.kinds[t.name] = kind
	reports.set(rel, ClassImported, "", "", 0)
	return nil
}

// checkLock refuses to read under a live writer.
func checkLock(res *Result, reports fileReports, rel string, force bool) error {
	data, _, err := readSource(res.Root, rel)
	if err != nil {
		return err
	}
	pid := int(gjson.GetBytes(data, "pid").Int())
	alive := pid > 0 && processAlive(pid)
	switch {
	case alive && !force:
		return fmt.Errorf("migrate: %s names pid %d, which is running: stop OpenClaw first or pass --force: %w", rel, pid, ErrLiveWriter)
	case alive:
		reports.set(rel, ClassIgnored, "", fmt.Sprintf("lock file of pid %d, still running (read anyway: --force)", pid), 0)
		res.warnf("%s: pid %d holds a lock; read anyway because of --force", rel, pid)
	default:
		reports.set(rel, ClassIgnored, "", fmt.Sprintf("stale lock file (pid %d not running)", pid), 0)
	}
	return nil
}

func processAlive(pid int) bool {
	err := syscall.Kill(pid, 0)
	return err == nil || errors.Is(err, syscall.EPERM)
}

// readStore reads a sessions.json (or a .bak/.tmp copy) leniently.
func (od *ocDir) readStore(res *Result, reports fileReports, rel string) error {
	data, fi, err := readSource(res.Root, rel)
	if err != nil {
		return err
	}
	live := baseName(rel) == "sessions.json"
	clean := stripJSON5(data)
	if !gjson.ValidBytes(clean) || !gjson.ParseBytes(clean).IsObject() {
		reports.set(rel, ClassCorrupt, "", "store is not a JSON object (read as empty, as upstream does); its transcripts are read as orphans", 0)
		res.SetAside = append(res.SetAside, SetAside{Path: rel, Length: fi.Size, Reason: "unparsable sessions.json", Data: data})
		return nil
	}
	n := 0
	gjson.ParseBytes(clean).ForEach(func(k, v gjson.Result) bool {
		if !v.IsObject() {
			return true
		}
		e := &ocEntry{rawKey: k.String(), store: rel, live: live, raw: v,
			sessionID: v.Get("sessionId").String(), updatedAt: v.Get("updatedAt").Int()}
		if sf := v.Get("sessionFile").String(); sf != "" {
			e.fileBase = path.Base(strings.ReplaceAll(sf, "\\", "/"))
		}
		e.key = canonOCKey(e.rawKey, od.agent)
		od.entries = append(od.entries, e)
		n++
		return true
	})
	reason := "session store"
	if !live {
		reason = "store snapshot (.bak/.tmp): read for entries the live store lost"
	}
	reports.set(rel, ClassImported, "", fmt.Sprintf("%s, %d entries", reason, n), 0)
	od.storeFiles = append(od.storeFiles, fi)
	return nil
}

// stripJSON5 removes // and /* */ comments and trailing commas outside
// strings, so that a hand-edited JSON5 store reads as JSON.
func stripJSON5(b []byte) []byte {
	out := make([]byte, 0, len(b))
	inStr := false
	for i := 0; i < len(b); i++ {
		c := b[i]
		if inStr {
			out = append(out, c)
			if c == '\\' && i+1 < len(b) {
				i++
				out = append(out, b[i])
			} else if c == '"' {
				inStr = false
			}
			continue
		}
		switch {
		case c == '"':
			inStr = true
			out = append(out, c)
		case c == '/' && i+1 < len(b) && b[i+1] == '/':
			for i < len(b) && b[i] != '\n' {
				i++
			}
			if i < len(b) {
				out = append(out, '\n')
			}
		case c == '/' && i+1 < len(b) && b[i+1] == '*':
			i += 2
			for i+1 < len(b) && !(b[i] == '*' && b[i+1] == '/') {
				i++
			}
			i++
		case c == '}' || c == ']':
			// drop a trailing comma before the closer
			j := len(out) - 1
			for j >= 0 && (out[j] == ' ' || out[j] == '\n' || out[j] == '\t' || out[j] == '\r') {
				j--
			}
			if j >= 0 && out[j] == ',' {
				out = append(out[:j], out[j+1:]...)
			}
			out = append(out, c)
		default:
			out = append(out, c)
		}
	}
	return out
}

// canonOCKey turns a flat pre-agent key into the form upstream's doctor
// gave it; agent keys are kept, except agent:main:main in
// another agent's store.
func canonOCKey(k, agent string) string {
	low := strings.ToLower(strings.TrimSpace(k))
	parts := strings.Split(low, ":")
	if parts[0] == "agent" && len(parts) >= 3 {
		if low == "agent:main:main" && agent != "main" {
			return "agent:" + agent + ":main"
		}
		return k
	}
	pre := "agent:" + agent + ":"
	switch {
	case low == "main":
		return pre + "main"
	case low == "global" || low == "unknown":
		return k
	case strings.HasPrefix(low, "subagent:"), strings.HasPrefix(low, "cron:"), strings.HasPrefix(low, "hook:"), strings.HasPrefix(low, "node-"):
		return pre + k
	case strings.HasSuffix(low, "@g.us"):
		jid := strings.TrimPrefix(strings.TrimPrefix(strings.TrimPrefix(k, "whatsapp:"), "group:"), "whatsapp:group:")
		return pre + "whatsapp:group:" + jid
	case len(parts) >= 2 && (parts[0] == "group" || parts[0] == "channel"):
		return pre + "unknown:" + k
	case len(parts) >= 3 && (parts[1] == "group" || parts[1] == "channel"):
		return pre + k
	}
	return pre + low
}

// keyTokens counts the non-empty ':' parts of a key.
func keyTokens(k string) int {
	n := 0
	for _, p := range strings.Split(k, ":") {
		if p != "" {
			n++
		}
	}
	return n
}

// ocSession collects the transcripts of one conversation.
type ocSession struct {
	key     string
	keys    []string
	entries []*ocEntry
	gens    []string // transcript base names, generations
	dups    []string // copies whose entries are all in a generation
}

// build links transcripts to store keys and makes one Source per key.
func (od *ocDir) build(res *Result, reports fileReports) {
	sort.SliceStable(od.entries, func(i, j int) bool {
		a, b := od.entries[i], od.entries[j]
		if a.live != b.live {
			return a.live
		}
		if a.store != b.store {
			return a.store < b.store
		}
		return a.rawKey < b.rawKey
	})
	claimed := map[string]*ocSession{} // transcript base -> session
	byKey := map[string]*ocSession{}
	var order []*ocSession
	session := func(k string) *ocSession {
		s := byKey[k]
		if s == nil {
			s = &ocSession{key: k}
			byKey[k] = s
			order = append(order, s)
		}
		return s
	}
	// the transcript an entry names
	fileOf := func(e *ocEntry) string {
		if e.fileBase != "" && od.trans[e.fileBase] != nil {
			return e.fileBase
		}
		if od.trans[e.sessionID+".jsonl"] != nil {
			return e.sessionID + ".jsonl"
		}
		for _, name := range sortedKeys(od.kinds) {
			if od.kinds[name] == "live" && strings.HasPrefix(name, e.sessionID+"-topic-") {
				return name
			}
		}
		return ""
	}
	for _, e := range od.entries {
		f := fileOf(e)
		if f == "" {
			if e.live {
				want := e.fileBase
				if want == "" {
					want = e.sessionID + ".jsonl"
				}
				res.warnf("%s: entry %q names transcript %s, which is absent (nothing to import for it)", e.store, e.rawKey, want)
			}
			continue
		}
		if s := claimed[f]; s != nil {
			// several keys, one transcript (cron job and its :run: key, or a
			// .bak entry of the same key): one session, every key an alias
			s.keys = append(s.keys, e.rawKey, e.key)
			s.entries = append(s.entries, e)
			continue
		}
		s := byKey[e.key]
		if s == nil {
			s = session(e.key)
		}
		s.keys = append(s.keys, e.rawKey)
		s.entries = append(s.entries, e)
		s.gens = append(s.gens, f)
		claimed[f] = s
	}
	// keys that share one transcript become one session named by the key
	// with fewest tokens
	for _, s := range order {
		best := s.key
		for _, k := range s.keys {
			if keyTokens(canonOCKey(k, od.agent)) < keyTokens(best) {
				best = canonOCKey(k, od.agent)
			}
		}
		s.key = best
	}
	// archives and copies: reset/deleted/bak/checkpoint, and orphans
	names := make([]string, 0, len(od.trans))
	for n := range od.trans {
		names = append(names, n)
	}
	sort.Strings(names)
	var orphans []string
	for _, n := range names {
		if claimed[n] != nil {
			continue
		}
		kind := od.kinds[n]
		var s *ocSession
		switch kind {
		case "checkpoint", "bak":
			if owner := claimed[od.archOf[n]]; owner != nil {
				s = owner
				if od.copyAddsNothing(n, od.archOf[n]) {
					s.dups = append(s.dups, n)
					claimed[n] = s
					continue
				}
			}
		}
		if s == nil {
			s = od.linkOrphan(n, claimed, kind)
		}
		if s == nil {
			orphans = append(orphans, n)
			continue
		}
		s.gens = append(s.gens, n)
		claimed[n] = s
	}
	// what no name links: by the envelopes and times in it
	links := od.linkByEnvelope(orphans, claimed)
	sort.Strings(orphans)
	for _, n := range orphans {
		l := links[n]
		s := l.to
		if s == nil {
			sid := sessionIDOf(n)
			if t := od.trans[n]; t.headerID != "" && od.kinds[n] == "live" {
				sid = t.headerID
			}
			k := "openclaw:" + od.agent + ":" + sid
			s = session(k)
			s.keys = append(s.keys, k)
			res.warnf("%s/%s: no store entry links this transcript, and %s: imported as its own archived session %s", od.rel, n, l.why, k)
		} else {
			od.linkWhy[n] = l.why
		}
		s.gens = append(s.gens, n)
		claimed[n] = s
	}
	for _, s := range order {
		od.emit(res, reports, s)
	}
}

// copyAddsNothing reports whether every entry id of a copy is in the
// transcript it copies.
func (od *ocDir) copyAddsNothing(copyName, liveName string) bool {
	c, l := od.trans[copyName], od.trans[liveName]
	if c == nil || l == nil {
		return false
	}
	ids := map[string]bool{}
	for _, e := range l.entries {
		ids[e.id+"\x00"+string(e.data)] = true
	}
	for _, e := range c.entries {
		if !ids[e.id+"\x00"+string(e.data)] {
			return false
		}
	}
	return true
}

// copyExtra returns the entries of a copy (checkpoint or repair backup)
// that its live transcript does not hold, in file order.
func (od *ocDir) copyExtra(name string, t *ocTranscript) []*ocLine {
	live := od.trans[od.archOf[name]]
	have := map[string]bool{}
	if live != nil {
		for _, e := range live.entries {
			have[e.id+"\x00"+string(e.data)] = true
		}
	}
	var out []*ocLine
	for _, e := range t.entries {
		if !have[e.id+"\x00"+string(e.data)] {
			out = append(out, e)
		}
	}
	return out
}

// linkOrphan finds the session an archive or unreferenced transcript
// belongs to, in order: an entry with its session id, a
// checkpoint's preCompaction file, a parentSession header, and for
// .reset archives the single entry whose transcript began within seconds
// of the reset.
func (od *ocDir) linkOrphan(name string, claimed map[string]*ocSession, kind string) *ocSession {
	base := name
	if a, ok := od.archOf[name]; ok {
		base = a
	}
	sid := sessionIDOf(base)
	ofEntry := func(e *ocEntry) *ocSession {
		return firstClaimed(claimed, func(f string) bool { return sessionIDOf(f) == e.sessionID })
	}
	for _, e := range od.entries {
		if e.sessionID == sid || e.fileBase == base {
			if s := ofEntry(e); s != nil {
				return s
			}
		}
	}
	if od.preComp == nil {
		// compactionCheckpoints[].preCompaction.sessionFile, by base name
		od.preComp = map[string][]*ocEntry{}
		for _, e := range od.entries {
			e.raw.Get("compactionCheckpoints").ForEach(func(_, c gjson.Result) bool {
				if f := c.Get("preCompaction.sessionFile").String(); f != "" {
					b := path.Base(f)
					od.preComp[b] = append(od.preComp[b], e)
				}
				return true
			})
		}
	}
	for _, e := range od.entries {
		hit := false
		for _, x := range od.preComp[name] {
			hit = hit || x == e
		}
		for _, x := range od.preComp[base] {
			hit = hit || x == e
		}
		if hit {
			if s := ofEntry(e); s != nil {
				return s
			}
		}
	}
	if od.forks == nil {
		// transcripts by the base name of the parentSession their header
		// names, in name order
		od.forks = map[string][]string{}
		for _, f := range sortedKeys(od.trans) {
			if p := od.trans[f].parentSession; p != "" {
				od.forks[path.Base(p)] = append(od.forks[path.Base(p)], f)
			}
		}
	}
	for _, f := range od.forks[base] {
		if s := claimed[f]; s != nil {
			return s
		}
	}
	if kind == "reset" {
		ts, ok := od.archTS[name]
		if !ok {
			return nil
		}
		var match *ocSession
		n := 0
		for _, f := range sortedKeys(claimed) {
			s := claimed[f]
			t := od.trans[f]
			if t == nil || od.kinds[f] != "live" || t.headerTime.IsZero() {
				continue
			}
			if d := t.headerTime.Sub(ts); d > -5*time.Second && d < 5*time.Second {
				if match != s {
					n++
				}
				match = s
			}
		}
		if n == 1 {
			return match
		}
	}
	return nil
}

// firstClaimed returns the session of the first claimed transcript, in
// name order, that ok accepts (without sorting every name each call).
func firstClaimed(claimed map[string]*ocSession, ok func(f string) bool) *ocSession {
	best := ""
	for f := range claimed {
		if (best == "" || f < best) && ok(f) {
			best = f
		}
	}
	if best == "" {
		return nil
	}
	return claimed[best]
}

// emit builds the Source of one session: its generations ordered by first
// message, a reset between each pair, side branches as sources of their own.
func (od *ocDir) emit(res *Result, reports fileReports, s *ocSession) {
	src := &Source{System: SystemOpenClaw, Key: s.key, Agent: od.agent, RawKeys: s.keys, Meta: map[string]any{}}
	src.Files = append(src.Files, od.storeFiles...)
	if len(s.entries) > 0 {
		src.Meta["store"] = entryMeta(s.entries[0].raw)
	}
	var gens []gen
	for _, n := range s.gens {
		t := od.trans[n]
		rel := t.file.Path
		src.Files = append(src.Files, t.file)
		for _, sid := range []string{sessionIDOf(n), t.headerID} {
			if k := "openclaw:" + od.agent + ":" + sid; sid != "" && k != s.key && !containsString(src.FormerKeys, k) {
				src.FormerKeys = append(src.FormerKeys, k)
			}
		}
		src.SetAside = append(src.SetAside, t.bad...)
		src.Warnings = append(src.Warnings, t.warnings...)
		active, side := t.branches()
		var whole []*item
		if k := od.kinds[n]; k == "checkpoint" || k == "bak" {
			// a copy of a live transcript, written before it: aligned
			// with the conversation it was copied from, so that the
			// entries the live file lacks (lines a repair dropped) keep
			// their place; alone, only those entries are imported
			whole = convertOC(rel, active).items
			active, side = od.copyExtra(n, t), nil
			src.warnf("%s holds %d entries its live transcript lacks: aligned into it", rel, len(active))
		}
		c := convertOC(rel, active)
		src.SetAside = append(src.SetAside, c.bad...)
		for k, v := range c.meta {
			src.Meta[k] = v
		}
		if t.headerID != "" && t.headerID != sessionIDOf(n) && od.kinds[n] == "live" {
			src.warnf("%s: header id %s differs from the file name (openclaw#153502); both kept in origin", rel, t.headerID)
			src.Meta["header_id_"+n] = t.headerID
		}
		items := c.items
		if od.kinds[n] == "live" && n == s.gens[0] {
			items = od.checkpointItems(s, c, items)
		}
		start := t.headerTime
		msgs := len(onlyMessages(items))
		if k := od.kinds[n]; (k == "checkpoint" || k == "bak") && mergeInto(src, gens, od.archOf[n], whole) {
			reports.set(rel, ClassImported, s.key, "copy: the entries the live transcript lacks were merged into it", msgs)
			continue
		}
		gens = append(gens, gen{name: n, items: items, first: firstTime(items), start: start})
		class, reason := ClassImported, ""
		switch od.kinds[n] {
		case "reset":
			class, reason = ClassGeneration, "archived at a reset: an earlier generation"
		case "deleted":
			class, reason = ClassGeneration, "transcript of a deleted session"
		case "checkpoint", "bak":
			class, reason = ClassGeneration, "copy holding entries the live transcript lacks"
		default:
			if why := od.linkWhy[n]; why != "" {
				class, reason = ClassGeneration, why
			} else if n != s.gens[0] {
				class, reason = ClassGeneration, "earlier transcript of the same key"
			}
		}
		reports.set(rel, class, s.key, reason, msgs)
		for i, br := range side {
			bc := convertOC(rel, br)
			leaf := br[len(br)-1].id
			bk := fmt.Sprintf("openclaw:%s:%s:branch:%s", od.agent, sessionIDOf(n), leaf)
			bs := &Source{System: SystemOpenClaw, Key: bk, Agent: od.agent, RawKeys: []string{s.key}, Files: []FileInfo{t.file}, Generations: 1}
			bs.SetAside = bc.bad
			bs.warnf("side branch %d of %s (leaf %s), imported as its own archived session", i+1, rel, leaf)
			assemble(bs, bc.items, firstTime(bc.items))
			res.Sources = append(res.Sources, bs)
		}
	}
	for _, n := range s.dups {
		t := od.trans[n]
		src.Files = append(src.Files, t.file)
		reports.set(t.file.Path, ClassDuplicate, s.key, "copy of "+od.archOf[n]+"; every entry is there", 0)
		// aligned all the same, so that verify can name it as a source
		// of each message it holds
		active, _ := t.branches()
		mergeInto(src, gens, od.archOf[n], convertOC(t.file.Path, active).items)
	}
	sort.SliceStable(gens, func(i, j int) bool {
		a, b := gens[i].first, gens[j].first
		if a.IsZero() || b.IsZero() {
			return false
		}
		return a.Before(b)
	})
	var all []*item
	for i, g := range gens {
		if len(g.items) == 0 {
			src.warnf("%s/%s holds no entries (a lone header)", od.rel, g.name)
			continue
		}
		if len(all) > 0 {
			at := g.first
			if ts, ok := od.archTS[gens[i-1].name]; ok {
				at = ts
			}
			all = append(all, resetItem(at, workspace.ReasonImported, Provenance{Path: od.rel + "/" + gens[i-1].name}))
		}
		all = append(all, g.items...)
		src.Generations++
	}
	if title := ocTitle(s.entries); title != "" && len(all) > 0 {
		at := time.UnixMilli(s.entries[0].updatedAt).UTC()
		all = append(all, &item{rec: workspace.Record{Type: workspace.TypeTitle, At: at, Text: title}, prov: Provenance{Path: s.entries[0].store, EntryID: s.entries[0].rawKey}, timed: s.entries[0].updatedAt > 0})
	}
	var start time.Time
	if len(gens) > 0 {
		start = gens[0].start
	}
	assemble(src, all, start)
	res.Sources = append(res.Sources, src)
}

// gen is one conversation of a session: a transcript's active branch.
type gen struct {
	name  string
	items []*item
	first time.Time
	start time.Time
}

// mergeInto aligns an older copy with the generation read from the
// transcript named live, if it was read already.
func mergeInto(src *Source, gens []gen, live string, copyItems []*item) bool {
	for i := range gens {
		if gens[i].name == live {
			var st alignStats
			gens[i].items, st = align(copyItems, gens[i].items, true)
			if st.undecided > 0 {
				src.Warnings = append(src.Warnings, undecidedNote(st, live))
			}
			return true
		}
	}
	return false
}

// checkpointItems inserts a checkpoint record for each store
// compactionCheckpoints[] element, at its preCompaction leaf.
func (od *ocDir) checkpointItems(s *ocSession, c *ocConv, items []*item) []*item {
	if len(s.entries) == 0 {
		return items
	}
	var out []*item
	after := map[*item][]*item{}
	var orphan []*item
	s.entries[0].raw.Get("compactionCheckpoints").ForEach(func(_, cp gjson.Result) bool {
		id := cp.Get("checkpointId").String()
		it := &item{rec: workspace.Record{Type: workspace.TypeCheckpoint, Name: "compaction-" + shortID(id),
			Description: fmt.Sprintf("before %s compaction (%d -> %d tokens)", cp.Get("reason").String(), cp.Get("tokensBefore").Int(), cp.Get("tokensAfter").Int())},
			prov: Provenance{Path: s.entries[0].store, EntryID: id}}
		if ms := cp.Get("createdAt").Int(); ms > 0 {
			it.rec.At, it.timed = time.UnixMilli(ms).UTC(), true
		}
		it.prov.Extra = mustJSON(cp.Value())
		if m, ok := c.byEntry[cp.Get("preCompaction.leafId").String()]; ok && m != nil {
			it.through = m
			after[m] = append(after[m], it)
		} else {
			orphan = append(orphan, it)
		}
		return true
	})
	for _, it := range items {
		out = append(out, it)
		out = append(out, after[it]...)
	}
	return append(out, orphan...)
}

func shortID(id string) string {
	if len(id) > 8 {
		return id[:8]
	}
	return id
}

func ocTitle(entries []*ocEntry) string {
	if len(entries) == 0 {
		return ""
	}
	v := entries[0].raw
	if l := v.Get("label").String(); l != "" {
		return l
	}
	if d := v.Get("displayName").String(); d != "" && !strings.Contains(d, ":") {
		return d
	}
	return ""
}

// entryMeta keeps an entry's fields for origin, bloat fields as a hash.
func entryMeta(v gjson.Result) map[string]any {
	m := map[string]any{}
	v.ForEach(func(k, x gjson.Result) bool {
		if ocBloat[k.String()] {
			sum := sha256.Sum256([]byte(x.Raw))
			m[k.String()+"_sha256"] = hex.EncodeToString(sum[:])
			return true
		}
		var val any
		if err := json.Unmarshal([]byte(x.Raw), &val); err == nil {
			m[k.String()] = val
		}
		return true
	})
	return m
}

func sortedKeys[V any](m map[string]V) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}
