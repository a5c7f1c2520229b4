package migrate

import (
	"encoding/json"
	"fmt"
	"regexp"
	"strings"
	"time"

	"github.com/tidwall/gjson"

	"github.com/picosess/picosess/workspace"
)

// ocLine is one entry of a pi-mono transcript.
type ocLine struct {
	no       int
	off      int64
	data     []byte
	typ      string
	id       string
	parentID string
	hasID    bool
	index    int // position among parsed entries, header = 0 (v1 compaction)
}

// ocTranscript is one transcript file read.
type ocTranscript struct {
	file          FileInfo
	name          string // base name
	headerID      string
	headerTime    time.Time
	version       int
	parentSession string
	headerRaw     json.RawMessage
	entries       []*ocLine
	bad           []SetAside
	warnings      []string
}

// readOCTranscript parses a transcript, salvaging glued and torn lines,
// tolerating a bad first line and duplicate headers.
func readOCTranscript(res *Result, rel string) (*ocTranscript, error) {
	data, fi, err := readSource(res.Root, rel)
	if err != nil {
		return nil, err
	}
	t := &ocTranscript{file: fi, name: baseName(rel)}
	objs, bad := readJSONL(rel, data, `{"type":"`)
	t.bad = bad
	seen := map[string]bool{}
	idx := 0
	for i, o := range objs {
		typ := gjson.GetBytes(o.data, "type").String()
		if typ == "session" {
			if t.headerRaw != nil {
				t.warnings = append(t.warnings, fmt.Sprintf("%s:%d: duplicate session header (fork before 2026-02-27): the first one is kept", rel, o.no))
				continue
			}
			if i > 0 || o.no != 1 {
				t.warnings = append(t.warnings, fmt.Sprintf("%s: the session header is on line %d, not line 1", rel, o.no))
			}
			t.headerRaw = o.data
			t.headerID = gjson.GetBytes(o.data, "id").String()
			t.version = int(gjson.GetBytes(o.data, "version").Int())
			if t.version == 0 {
				t.version = 1
			}
			t.parentSession = gjson.GetBytes(o.data, "parentSession").String()
			t.headerTime, _ = parseISO(gjson.GetBytes(o.data, "timestamp").String())
			continue
		}
		if typ == "" {
			t.bad = append(t.bad, SetAside{Path: rel, Line: o.no, Offset: o.off, Length: int64(len(o.data)), Reason: "object without a type", Data: append([]byte(nil), o.data...)})
			continue
		}
		idx++
		l := &ocLine{no: o.no, off: o.off, data: o.data, typ: typ, index: idx}
		if id := gjson.GetBytes(o.data, "id"); id.Exists() {
			l.id, l.hasID = id.String(), true
			if seen[l.id] {
				t.warnings = append(t.warnings, fmt.Sprintf("%s:%d: entry id %s repeated: kept once", rel, o.no, l.id))
				continue
			}
			seen[l.id] = true
		}
		l.parentID = gjson.GetBytes(o.data, "parentId").String()
		t.entries = append(t.entries, l)
	}
	if t.headerRaw == nil {
		t.warnings = append(t.warnings, fmt.Sprintf("%s: no valid session header (line 1 unreadable): entries imported, id taken from the file name", rel))
	}
	return t, nil
}

func baseName(rel string) string {
	if i := strings.LastIndexByte(rel, '/'); i >= 0 {
		return rel[i+1:]
	}
	return rel
}

// sessionIDOf is the session id a transcript file name carries.
func sessionIDOf(name string) string {
	n := name
	if i := strings.Index(n, ".jsonl"); i >= 0 {
		n = n[:i]
	}
	if i := strings.Index(n, ".checkpoint."); i >= 0 {
		n = n[:i]
	}
	if i := strings.Index(n, "-topic-"); i >= 0 {
		n = n[:i]
	}
	return n
}

// branches splits a transcript into its active branch (root to the last
// entry) and its side branches (each leaf off the active path, from where
// it leaves that path). v1 files and files without ids are one list.
func (t *ocTranscript) branches() (active []*ocLine, side [][]*ocLine) {
	tree := t.version >= 2
	for _, e := range t.entries {
		if !e.hasID {
			tree = false
			break
		}
	}
	if !tree || len(t.entries) == 0 {
		return t.entries, nil
	}
	byID := make(map[string]*ocLine, len(t.entries))
	for _, e := range t.entries {
		byID[e.id] = e
	}
	on := map[*ocLine]bool{}
	for e := t.entries[len(t.entries)-1]; e != nil; {
		if on[e] {
			break // a cycle: stop
		}
		on[e] = true
		active = append(active, e)
		e = byID[e.parentID]
	}
	reverse(active)
	isParent := map[string]bool{}
	for _, e := range t.entries {
		isParent[e.parentID] = true
	}
	for _, e := range t.entries {
		if on[e] || isParent[e.id] {
			continue
		}
		var br []*ocLine
		seen := map[*ocLine]bool{}
		for x := e; x != nil && !on[x] && !seen[x]; x = byID[x.parentID] {
			seen[x] = true
			br = append(br, x)
		}
		reverse(br)
		side = append(side, br)
	}
	return active, side
}

func reverse(s []*ocLine) {
	for i, j := 0, len(s)-1; i < j; i, j = i+1, j-1 {
		s[i], s[j] = s[j], s[i]
	}
}

// ocItems turns a path of entries into records. byEntry maps entry ids to
// the item that stands for them (for labels, compactions, checkpoints).
type ocConv struct {
	rel      string
	items    []*item
	byEntry  map[string]*item // entry id -> last message at or before it
	byIndex  map[int]*item    // v1 entry index -> last message before it
	meta     map[string]any
	warnings []string
	bad      []SetAside
	lastMsg  *item
}

func convertOC(rel string, path []*ocLine) *ocConv {
	c := &ocConv{rel: rel, byEntry: map[string]*item{}, byIndex: map[int]*item{}, meta: map[string]any{}}
	for _, e := range path {
		c.byIndex[e.index] = c.lastMsg
		c.entry(e)
		if e.id != "" {
			c.byEntry[e.id] = c.lastMsg
		}
	}
	return c
}

func (c *ocConv) prov(e *ocLine) Provenance {
	return Provenance{Path: c.rel, Line: e.no, EntryID: e.id}
}

func (c *ocConv) add(it *item) {
	c.items = append(c.items, it)
	if it.isMessage() {
		c.lastMsg = it
	}
}

func (c *ocConv) setAside(e *ocLine, reason string) {
	c.bad = append(c.bad, SetAside{Path: c.rel, Line: e.no, Offset: e.off, Length: int64(len(e.data)), Reason: reason, Data: append([]byte(nil), e.data...)})
}

func (c *ocConv) entry(e *ocLine) {
	g := gjson.ParseBytes(e.data)
	at, timed := parseISO(g.Get("timestamp").String())
	switch e.typ {
	case "message":
		m := g.Get("message")
		if !timed {
			if ms := m.Get("timestamp").Int(); ms > 0 {
				at, timed = time.UnixMilli(ms).UTC(), true
			}
		}
		c.message(e, m, at, timed)
	case "compaction":
		it := &item{rec: workspace.Record{Type: workspace.TypeSummary, At: at, Text: g.Get("summary").String(), By: "import"}, prov: c.prov(e), timed: timed}
		if k := g.Get("firstKeptEntryId"); k.Exists() {
			c.pendingThrough(it, k.String())
		} else if k := g.Get("firstKeptEntryIndex"); k.Exists() {
			it.through = c.byIndex[int(k.Int())]
		}
		it.prov.Extra = mustJSON(map[string]any{"tokens_before": g.Get("tokensBefore").Value(), "details": g.Get("details").Value()})
		c.add(it)
	case "branch_summary":
		it := &item{rec: workspace.Record{Type: workspace.TypeSummary, At: at, Text: g.Get("summary").String(), By: "import"}, prov: c.prov(e), timed: timed}
		it.prov.Extra = mustJSON(map[string]any{"branch_summary_from": g.Get("fromId").String()})
		c.add(it)
	case "label":
		name := g.Get("label").String()
		if name == "" {
			return // label cleared
		}
		it := &item{rec: workspace.Record{Type: workspace.TypeCheckpoint, At: at, Name: name}, prov: c.prov(e), timed: timed}
		c.pendingLabel(it, g.Get("targetId").String())
		c.add(it)
	case "session_info":
		if name := g.Get("name").String(); name != "" {
			c.add(&item{rec: workspace.Record{Type: workspace.TypeTitle, At: at, Text: name}, prov: c.prov(e), timed: timed})
		}
	case "model_change":
		c.meta["provider"] = g.Get("provider").String()
		c.meta["model"] = g.Get("modelId").String()
	case "thinking_level_change":
		c.meta["thinking_level"] = g.Get("thinkingLevel").String()
	case "custom":
		ct := g.Get("customType").String()
		n, _ := c.meta["custom_entries"].(int)
		c.meta["custom_entries"] = n + 1
		if ct != "" {
			c.meta["custom_"+ct] = g.Get("data").Value()
		}
	case "custom_message":
		it := &item{rec: workspace.Record{Type: workspace.TypeMessage, At: at, Role: workspace.RoleUser}, prov: c.prov(e), timed: timed}
		it.rec.Content = blocksText(g.Get("content"))
		it.prov.Extra = mustJSON(map[string]any{"custom_message": g.Get("customType").String(), "display": g.Get("display").Value()})
		c.add(it)
	default:
		c.setAside(e, "unknown entry type "+e.typ)
	}
}

// pendingThrough sets it.through to the last message before entry id: the
// entry has been seen already (compactions follow what they cover).
func (c *ocConv) pendingThrough(it *item, firstKept string) {
	if m, ok := c.byEntry[firstKept]; ok {
		// byEntry holds the last message at or before firstKept; the
		// summary covers what precedes firstKept, so step back if
		// firstKept is itself that message.
		if m != nil && m.prov.EntryID == firstKept {
			m = c.msgBefore(m)
		}
		it.through = m
	}
}

func (c *ocConv) msgBefore(m *item) *item {
	var prev *item
	for _, x := range c.items {
		if x == m {
			return prev
		}
		if x.isMessage() {
			prev = x
		}
	}
	return prev
}

func (c *ocConv) pendingLabel(it *item, target string) {
	if m, ok := c.byEntry[target]; ok {
		it.through = m
	}
}

func (c *ocConv) message(e *ocLine, m gjson.Result, at time.Time, timed bool) {
	role := m.Get("role").String()
	it := &item{rec: workspace.Record{Type: workspace.TypeMessage, At: at}, prov: c.prov(e), timed: timed}
	r := &it.rec
	extra := map[string]any{}
	switch role {
	case "user":
		r.Role = workspace.RoleUser
		r.Content = blocksText(m.Get("content"))
		r.Attachments = blocksImages(m.Get("content"))
		r.Sender = envelopeSender(r.Content)
	case "assistant":
		r.Role = workspace.RoleAssistant
		content := m.Get("content")
		r.Content = blocksText(content)
		r.Attachments = blocksImages(content)
		var thinking, sigs []string
		var calls []ocToolCall
		content.ForEach(func(_, b gjson.Result) bool {
			switch b.Get("type").String() {
			case "thinking":
				thinking = append(thinking, b.Get("thinking").String())
				if s := b.Get("thinkingSignature").String(); s != "" {
					sigs = append(sigs, s)
				}
			case "toolCall":
				args := b.Get("arguments").Raw
				if args == "" {
					args = "{}"
				}
				calls = append(calls, ocToolCall{ID: b.Get("id").String(), Type: "function",
					Function: ocFunction{Name: b.Get("name").String(), Arguments: compactJSON(args)}})
			}
			return true
		})
		r.ReasoningContent = strings.Join(thinking, "\n")
		if len(sigs) > 0 {
			extra["reasoning_signatures"] = sigs
		}
		if len(calls) > 0 {
			r.ToolCalls = mustJSON(calls)
		}
		r.ModelName = m.Get("model").String()
		for _, f := range []string{"api", "provider", "usage", "stopReason", "errorMessage"} {
			if v := m.Get(f); v.Exists() {
				extra[f] = v.Value()
			}
		}
		if r.ModelName == "delivery-mirror" {
			extra["delivery_mirror"] = true
		}
	case "toolResult":
		r.Role = workspace.RoleTool
		r.ToolCallID = m.Get("toolCallId").String()
		r.Content = blocksText(m.Get("content"))
		r.Attachments = blocksImages(m.Get("content"))
		r.ToolName = m.Get("toolName").String()
		r.IsError = m.Get("isError").Bool() // as stored, even when the text says it failed
		if d := m.Get("details"); d.Exists() {
			extra["details"] = d.Value()
		}
	case "bashExecution":
		r.Role = workspace.RoleUser
		r.Content = "!" + m.Get("command").String() + "\n" + m.Get("output").String()
		extra["legacy_role"] = role
		extra["exit_code"] = m.Get("exitCode").Value()
	case "custom", "hookMessage":
		r.Role = workspace.RoleUser
		r.Content = blocksText(m.Get("content"))
		extra["legacy_role"] = role
		extra["custom_type"] = m.Get("customType").String()
	case "branchSummary", "compactionSummary":
		it.rec = workspace.Record{Type: workspace.TypeSummary, At: at, Text: m.Get("summary").String(), By: "import"}
		extra["legacy_role"] = role
	default:
		c.setAside(e, fmt.Sprintf("message with unknown role %q", role))
		return
	}
	if len(extra) > 0 {
		it.prov.Extra = mustJSON(extra)
	}
	c.add(it)
}

// blocksText joins the text blocks of a content array; a string content is
// returned as is.
func blocksText(v gjson.Result) string {
	if v.Type == gjson.String {
		return v.String()
	}
	var parts []string
	v.ForEach(func(_, b gjson.Result) bool {
		if b.Get("type").String() == "text" {
			parts = append(parts, b.Get("text").String())
		}
		return true
	})
	return strings.Join(parts, "\n")
}

// blocksImages keeps image blocks verbatim as data: URLs in attachments:
// inline image bytes are never dropped.
func blocksImages(v gjson.Result) json.RawMessage {
	var atts []map[string]string
	v.ForEach(func(_, b gjson.Result) bool {
		if b.Get("type").String() == "image" {
			mime := b.Get("mimeType").String()
			atts = append(atts, map[string]string{"type": "image", "content_type": mime, "url": "data:" + mime + ";base64," + b.Get("data").String()})
		}
		return true
	})
	if len(atts) == 0 {
		return nil
	}
	return mustJSON(atts)
}

func compactJSON(s string) string {
	var v any
	if err := json.Unmarshal([]byte(s), &v); err != nil {
		return s
	}
	b, err := json.Marshal(v)
	if err != nil {
		return s
	}
	return string(b)
}

var (
	envelopeRe   = regexp.MustCompile(`^\[[^\]\n]*?\bid:([^\s\]]+)[^\]\n]*\]`)
	envelopeWARe = regexp.MustCompile(`^\[WhatsApp (\+\d+)[ \]]`)
	untrustedRe  = regexp.MustCompile("(?s)Conversation info \\(untrusted metadata\\)[^`{]*(?:```json)?\\s*(\\{.*?\\})\\s*(?:```|\\n\\n|$)")
)

// envelopeSender reads the sender a channel envelope names; it is the only
// source of a group message's sender. Envelope times are never parsed.
func envelopeSender(text string) string {
	if m := envelopeRe.FindStringSubmatch(text); m != nil {
		return m[1]
	}
	if m := envelopeWARe.FindStringSubmatch(text); m != nil {
		return m[1]
	}
	if m := untrustedRe.FindStringSubmatch(text); m != nil {
		g := gjson.Parse(m[1])
		for _, f := range []string{"sender_id", "senderId", "sender", "from"} {
			if v := g.Get(f); v.Exists() && v.Type == gjson.String {
				return v.String()
			}
		}
	}
	return ""
}

func parseISO(s string) (time.Time, bool) {
	if s == "" {
		return time.Time{}, false
	}
	t, err := time.Parse(time.RFC3339Nano, s)
	if err != nil {
		return time.Time{}, false
	}
	return t.UTC(), true
}

// ocToolCall is a pi-mono toolCall block in PicoClaw's tool_calls shape.
type ocToolCall struct {
	ID       string     `json:"id"`
	Type     string     `json:"type"`
	Function ocFunction `json:"function"`
}

type ocFunction struct {
	Name      string `json:"name"`
	Arguments string `json:"arguments"` // JSON text, as OpenAI-style APIs carry it
}
