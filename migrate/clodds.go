package migrate

import (
	"context"
	"crypto/aes"
	"crypto/cipher"
	"crypto/sha256"
	"database/sql"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"os"
	"path"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"time"

	"golang.org/x/crypto/scrypt"
	_ "modernc.org/sqlite" // pure-Go SQLite: the build needs no C toolchain

	"github.com/picosess/picosess/keying"
	"github.com/picosess/picosess/workspace"
)

// cloddsDB is the name of Clodds' SQLite store in its state dir.
const cloddsDB = "clodds.db"

// ErrPassword: an encrypted Clodds context could not be opened with the
// password given (wrong password, or damaged envelope).
var ErrPassword = errors.New("migrate: the password does not open the encrypted context")

// readClodds reads each clodds.db found: every messages row, grouped by
// session and ordered by timestamp, with each session's title, summary and
// checkpoint.
func readClodds(ctx context.Context, res *Result, dirs []sessionDir, password string) error {
	reports := fileReports{}
	for _, d := range dirs {
		files, err := listFiles(ctx, res.Root, d)
		if err != nil {
			return err
		}
		dbRel := path.Join(d.rel, cloddsDB)
		var extra []string
		for _, f := range files {
			switch base := path.Base(f); {
			case f == dbRel:
			case base == cloddsDB+"-wal" || base == cloddsDB+"-journal":
				extra = append(extra, f)
				reports.set(f, ClassIgnored, "", "SQLite journal of clodds.db: read together with it", 0)
			case base == cloddsDB+"-shm":
				reports.set(f, ClassIgnored, "", "SQLite shared-memory index of clodds.db (no data of its own)", 0)
			case base == "clodds.json":
				reports.set(f, ClassIgnored, "", "Clodds' config: read for its session settings, not imported", 0)
			default:
				reports.set(f, ClassIgnored, "", "not part of Clodds' session store", 0)
			}
		}
		if err := readCloddsDB(ctx, res, reports, dbRel, extra, password); err != nil {
			return err
		}
	}
	reports.into(res)
	return nil
}

// cloddsRow is one row of the sessions table.
type cloddsRow struct {
	id, key, user, channel, chat, chatType, context, title string
	created, updated                                       int64
}

// cloddsMsg is one row of the messages table, or one message of a
// session's context.
type cloddsMsg struct {
	rowid   int64
	id      string
	session string
	role    string
	content string
	ms      int64 // epoch ms; 0 when the row had none
	timed   bool
	ctxIdx  int // index in context.conversationHistory, -1 for a row
}

// copyHashed copies src to dst and describes src as read.
func copyHashed(root, rel, dst string) (FileInfo, error) {
	p := filepath.Join(root, filepath.FromSlash(rel))
	in, err := os.Open(p)
	if err != nil {
		return FileInfo{}, fmt.Errorf("migrate: read %s: %w", p, err)
	}
	defer in.Close()
	st, err := in.Stat()
	if err != nil {
		return FileInfo{}, fmt.Errorf("migrate: stat %s: %w", p, err)
	}
	out, err := os.OpenFile(dst, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	if err != nil {
		return FileInfo{}, fmt.Errorf("migrate: copy of %s: %w", p, err)
	}
	h := sha256.New()
	n, err := io.Copy(io.MultiWriter(out, h), in)
	if cerr := out.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return FileInfo{}, fmt.Errorf("migrate: copy of %s: %w", p, err)
	}
	return FileInfo{Path: rel, Size: n, ModTime: st.ModTime().UTC(), SHA256: hex.EncodeToString(h.Sum(nil))}, nil
}

// readCloddsDB reads one clodds.db. The database is opened on a private
// copy (with its journal, if any), so the source is never locked, never
// given a -shm file, and stays byte-identical.
func readCloddsDB(ctx context.Context, res *Result, reports fileReports, rel string, journals []string, password string) error {
	tmp, err := os.MkdirTemp("", "picosess-clodds-")
	if err != nil {
		return fmt.Errorf("migrate: clodds: %w", err)
	}
	defer os.RemoveAll(tmp)
	copyPath := filepath.Join(tmp, cloddsDB)
	info, err := copyHashed(res.Root, rel, copyPath)
	if err != nil {
		return err
	}
	files := []FileInfo{info}
	for _, j := range journals {
		ji, err := copyHashed(res.Root, j, filepath.Join(tmp, path.Base(j)))
		if err != nil {
			return err
		}
		files = append(files, ji)
	}
	db, err := sql.Open("sqlite", "file:"+copyPath+"?_pragma=busy_timeout(5000)")
	if err != nil {
		return fmt.Errorf("migrate: open %s: %w", rel, err)
	}
	defer db.Close()
	corrupt := func(err error) error {
		reports.set(rel, ClassCorrupt, "", fmt.Sprintf("not a readable Clodds database: %v", err), 0)
		return nil
	}
	sessCols, err := tableColumns(ctx, db, "sessions")
	if err != nil {
		return corrupt(err)
	}
	msgCols, err := tableColumns(ctx, db, "messages")
	if err != nil {
		return corrupt(err)
	}
	if sessCols == nil && msgCols == nil {
		return corrupt(errors.New("it has neither a sessions nor a messages table"))
	}
	rows, err := cloddsSessions(ctx, db, sessCols)
	if err != nil {
		return corrupt(err)
	}
	msgs, err := cloddsMessages(ctx, db, msgCols)
	if err != nil {
		return corrupt(err)
	}
	bySession := map[string][]*cloddsMsg{}
	for _, m := range msgs {
		bySession[m.session] = append(bySession[m.session], m)
	}
	total, made := 0, 0
	seen := map[string]bool{}
	var decryptFailed int
	for _, row := range rows {
		if err := ctx.Err(); err != nil {
			return err
		}
		var ms []*cloddsMsg
		if row.id != "" && !seen[row.id] {
			ms = bySession[row.id]
			seen[row.id] = true
		}
		src, n, bad := cloddsSource(res, rel, files, row, ms, password)
		if bad {
			decryptFailed++
		}
		if src == nil {
			continue
		}
		total += n
		made++
		res.Sources = append(res.Sources, src)
	}
	// messages whose session row is gone: kept, each under its own key
	for _, sid := range sortedKeys(bySession) {
		if seen[sid] {
			continue
		}
		row := cloddsRow{id: sid}
		src, n, _ := cloddsSource(res, rel, files, row, bySession[sid], "")
		if src == nil {
			continue
		}
		src.Key, src.KeyInferred = "clodds:session:"+sid, true
		src.warnf("no row of the sessions table names session id %q: its %d message(s) are imported as a session of their own, under a key made by the importer", sid, n)
		total += n
		made++
		res.Sources = append(res.Sources, src)
	}
	reason := fmt.Sprintf("Clodds SQLite store: %d message(s) in %d session(s)", total, made)
	reports.set(rel, ClassImported, "", reason, total)
	if decryptFailed > 0 {
		res.warnf("%s: %d encrypted session context(s) could not be opened with the password given (%v); their messages table rows are imported all the same", rel, decryptFailed, ErrPassword)
	}
	return nil
}

// tableColumns lists a table's columns; nil when the table does not exist.
func tableColumns(ctx context.Context, db *sql.DB, table string) (map[string]bool, error) {
	rows, err := db.QueryContext(ctx, "SELECT name FROM pragma_table_info(?)", table)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var cols map[string]bool
	for rows.Next() {
		var n string
		if err := rows.Scan(&n); err != nil {
			return nil, err
		}
		if cols == nil {
			cols = map[string]bool{}
		}
		cols[strings.ToLower(n)] = true
	}
	return cols, rows.Err()
}

func selectList(cols map[string]bool, names ...string) string {
	var out []string
	for _, n := range names {
		if cols[n] {
			out = append(out, n)
		} else {
			out = append(out, "NULL")
		}
	}
	return strings.Join(out, ", ")
}

func cloddsSessions(ctx context.Context, db *sql.DB, cols map[string]bool) ([]cloddsRow, error) {
	if cols == nil {
		return nil, nil
	}
	q := "SELECT " + selectList(cols, "id", "key", "user_id", "channel", "chat_id", "chat_type", "context", "title", "created_at", "updated_at") + " FROM sessions ORDER BY rowid"
	rows, err := db.QueryContext(ctx, q)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []cloddsRow
	for rows.Next() {
		var v [10]any
		ptrs := make([]any, len(v))
		for i := range v {
			ptrs[i] = &v[i]
		}
		if err := rows.Scan(ptrs...); err != nil {
			return nil, err
		}
		r := cloddsRow{id: sqlString(v[0]), key: sqlString(v[1]), user: sqlString(v[2]), channel: sqlString(v[3]),
			chat: sqlString(v[4]), chatType: sqlString(v[5]), context: sqlString(v[6]), title: sqlString(v[7])}
		r.created, _ = sqlMillis(v[8])
		r.updated, _ = sqlMillis(v[9])
		out = append(out, r)
	}
	return out, rows.Err()
}

func cloddsMessages(ctx context.Context, db *sql.DB, cols map[string]bool) ([]*cloddsMsg, error) {
	if cols == nil {
		return nil, nil
	}
	q := "SELECT rowid, " + selectList(cols, "id", "session_id", "role", "content", "timestamp") + " FROM messages ORDER BY rowid"
	rows, err := db.QueryContext(ctx, q)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []*cloddsMsg
	for rows.Next() {
		var rowid int64
		var v [5]any
		if err := rows.Scan(&rowid, &v[0], &v[1], &v[2], &v[3], &v[4]); err != nil {
			return nil, err
		}
		m := &cloddsMsg{rowid: rowid, id: sqlString(v[0]), session: sqlString(v[1]), role: sqlString(v[2]), content: sqlString(v[3]), ctxIdx: -1}
		m.ms, m.timed = sqlMillis(v[4])
		out = append(out, m)
	}
	return out, rows.Err()
}

func sqlString(v any) string {
	switch x := v.(type) {
	case nil:
		return ""
	case string:
		return x
	case []byte:
		return string(x)
	case int64:
		return strconv.FormatInt(x, 10)
	case float64:
		return strconv.FormatFloat(x, 'f', -1, 64)
	}
	return fmt.Sprint(v)
}

// sqlMillis reads an epoch-ms time stored as an integer, a real or text
// (a number or an RFC 3339 time).
func sqlMillis(v any) (int64, bool) {
	switch x := v.(type) {
	case int64:
		return x, x > 0
	case float64:
		if x > 0 && x < math.MaxInt64 {
			return int64(x), true
		}
	case string, []byte:
		s := strings.TrimSpace(sqlString(x))
		if n, err := strconv.ParseFloat(s, 64); err == nil && n > 0 {
			return int64(n), true
		}
		if t, err := time.Parse(time.RFC3339Nano, s); err == nil {
			return t.UnixMilli(), true
		}
	}
	return 0, false
}

// cloddsContext is the part of sessions.context the importer uses.
type cloddsContext struct {
	History    []cloddsCtxMsg `json:"conversationHistory"`
	Summary    string         `json:"contextSummary"`
	Checkpoint *struct {
		CreatedAt    float64        `json:"createdAt"`
		MessageCount int            `json:"messageCount"`
		Summary      string         `json:"summary"`
		History      []cloddsCtxMsg `json:"history"`
	} `json:"checkpoint"`
}

type cloddsCtxMsg struct {
	Role      string  `json:"role"`
	Content   string  `json:"content"`
	Timestamp float64 `json:"timestamp"`
}

// cloddsEnvelope is an encrypted context: AES-256-GCM under a key derived
// by scrypt (N=16384, r=8, p=1, Node's defaults) from the password and salt.
type cloddsEnvelope struct {
	Encrypted bool   `json:"__encrypted"`
	Data      string `json:"encrypted"`
	IV        string `json:"iv"`
	AuthTag   string `json:"authTag"`
	Salt      string `json:"salt"`
}

// decryptClodds opens an encrypted context envelope.
func decryptClodds(env cloddsEnvelope, password string) ([]byte, error) {
	dec := func(s string) ([]byte, error) { return base64.StdEncoding.DecodeString(s) }
	salt, err1 := dec(env.Salt)
	iv, err2 := dec(env.IV)
	tag, err3 := dec(env.AuthTag)
	data, err4 := dec(env.Data)
	if err := errors.Join(err1, err2, err3, err4); err != nil || len(iv) == 0 || len(tag) != 16 {
		return nil, fmt.Errorf("%w: the envelope is damaged (base64 fields)", ErrPassword)
	}
	key, err := scrypt.Key([]byte(password), salt, 16384, 8, 1, 32)
	if err != nil {
		return nil, fmt.Errorf("migrate: scrypt: %w", err)
	}
	block, err := aes.NewCipher(key)
	if err != nil {
		return nil, fmt.Errorf("migrate: aes: %w", err)
	}
	gcm, err := cipher.NewGCMWithNonceSize(block, len(iv))
	if err != nil {
		return nil, fmt.Errorf("migrate: gcm: %w", err)
	}
	plain, err := gcm.Open(nil, iv, append(data, tag...), nil)
	if err != nil {
		return nil, ErrPassword
	}
	return plain, nil
}

// cloddsMeta are the context fields kept in the header's origin.
var cloddsMeta = []string{"messageCount", "lastMarkets", "preferences", "modelOverride", "model", "thinkingLevel", "verbose", "routedAgentId", "checkpointRestoredAt"}

// cloddsSource makes one Source of a session row and its messages rows.
// n is the number of messages; bad reports an envelope the password did
// not open. A session with nothing to import gives nil.
func cloddsSource(res *Result, rel string, files []FileInfo, row cloddsRow, rows []*cloddsMsg, password string) (src *Source, n int, bad bool) {
	src = &Source{System: SystemClodds, Key: row.key, Agent: keying.DefaultAgent}
	src.Files = append(src.Files, files...)
	meta := map[string]any{"id": row.id, "key": row.key}
	for k, v := range map[string]string{"user_id": row.user, "channel": row.channel, "chat_id": row.chat, "chat_type": row.chatType} {
		if v != "" {
			meta[k] = v
		}
	}
	if row.created > 0 {
		meta["created_at"] = row.created
	}
	if row.updated > 0 {
		meta["updated_at"] = row.updated
	}
	if a, ok := cloddsAgent(row.key); ok {
		src.Agent = a
	}
	src.Route = cloddsRoute(row)
	// the context: plain JSON, or an encrypted envelope
	var cc cloddsContext
	ctxJSON := []byte(strings.TrimSpace(row.context))
	var env cloddsEnvelope
	if len(ctxJSON) > 0 && json.Unmarshal(ctxJSON, &env) == nil && env.Encrypted {
		meta["context_encrypted"] = true
		switch {
		case password == "":
			src.warnf("its context (summary, checkpoint and the recent history Clodds keeps beside the messages table) is encrypted and no password was given: not read; its messages table rows are imported")
			ctxJSON = nil
		default:
			plain, err := decryptClodds(env, password)
			if err != nil {
				src.warnf("its encrypted context was not read: %v", err)
				ctxJSON, bad = nil, true
			} else {
				ctxJSON = plain
			}
		}
	}
	if len(ctxJSON) > 0 {
		var all map[string]json.RawMessage
		if err := json.Unmarshal(ctxJSON, &all); err != nil {
			src.warnf("its context is not a JSON object (%v): summary and checkpoint not read", err)
		} else {
			if err := json.Unmarshal(ctxJSON, &cc); err != nil {
				src.warnf("its context has fields of an unexpected type (%v): read what could be read", err)
			}
			for _, k := range cloddsMeta {
				var v any
				if raw, ok := all[k]; ok && json.Unmarshal(raw, &v) == nil {
					meta[k] = v
				}
			}
		}
	}
	src.Meta = map[string]any{"clodds": meta}
	// message rows, then context messages the table lacks (written before
	// Clodds kept one), all in timestamp order
	msgs := append([]*cloddsMsg(nil), rows...)
	extra := cloddsContextOnly(rows, cc.History, row.id)
	if len(extra) > 0 {
		src.warnf("%d message(s) are only in the session's context, not in the messages table (written before Clodds kept one): imported in time order", len(extra))
		msgs = append(msgs, extra...)
	}
	sort.SliceStable(msgs, func(i, j int) bool {
		a, b := msgs[i], msgs[j]
		if a.ms != b.ms {
			return a.ms < b.ms
		}
		if (a.ctxIdx < 0) != (b.ctxIdx < 0) {
			return a.ctxIdx < 0
		}
		if a.ctxIdx >= 0 {
			return a.ctxIdx < b.ctxIdx
		}
		return a.rowid < b.rowid
	})
	var items []*item
	for _, m := range msgs {
		items = append(items, cloddsItem(rel, row, m))
	}
	n = len(items)
	if n == 0 && cc.Summary == "" && cc.Checkpoint == nil {
		if row.key != "" {
			res.warnf("%s: session %q has no messages: nothing to import", rel, row.key)
		}
		return nil, 0, bad
	}
	start := time.UnixMilli(row.created).UTC()
	if row.created <= 0 {
		start = time.Time{}
	}
	// summary: through the last message before the context's history
	if cc.Summary != "" {
		var through *item
		switch h := cc.History; {
		case len(h) == 0: // everything was summarized
			if len(items) > 0 {
				through = items[len(items)-1]
			}
		case h[0].Timestamp > 0: // the messages before the history it kept
			for i, m := range msgs {
				if m.ms < int64(h[0].Timestamp) {
					through = items[i]
				}
			}
		default: // no time: the history is the tail
			if k := len(items) - len(h); k > 0 {
				through = items[k-1]
			}
		}
		it := &item{rec: workspace.Record{Type: workspace.TypeSummary, Text: cc.Summary, By: "import"},
			prov: Provenance{Path: rel, EntryID: "sessions/" + row.key + "/context.contextSummary"}, through: through}
		if through != nil {
			it.rec.At, it.timed = through.rec.At, through.timed
		} else if !start.IsZero() {
			it.rec.At, it.timed = start, true
		}
		items = insertAfter(items, through, it)
	}
	if cp := cc.Checkpoint; cp != nil {
		at := int64(cp.CreatedAt)
		var through *item
		for i, m := range msgs {
			if m.ms <= at {
				through = items[i]
			}
		}
		desc := cp.Summary
		if desc == "" {
			desc = fmt.Sprintf("Clodds checkpoint (%d messages)", cp.MessageCount)
		}
		it := &item{rec: workspace.Record{Type: workspace.TypeCheckpoint, Name: "clodds-checkpoint", Description: desc},
			prov: Provenance{Path: rel, EntryID: "sessions/" + row.key + "/context.checkpoint"}, through: through}
		it.prov.Extra = mustJSON(map[string]any{"checkpoint": cp})
		if at > 0 {
			it.rec.At, it.timed = time.UnixMilli(at).UTC(), true
		}
		items = insertAfter(items, through, it)
	}
	if t := strings.TrimSpace(row.title); t != "" {
		it := &item{rec: workspace.Record{Type: workspace.TypeTitle, Text: t}, prov: Provenance{Path: rel, EntryID: "sessions/" + row.key + "/title"}}
		if !start.IsZero() {
			it.rec.At, it.timed = start, true
		}
		items = append([]*item{it}, items...)
	}
	assemble(src, items, start)
	src.Generations = 1
	return src, n, bad
}

// insertAfter puts it right after at in items (at the front when at is nil).
func insertAfter(items []*item, at, it *item) []*item {
	i := 0
	if at != nil {
		for j, x := range items {
			if x == at {
				i = j + 1
				break
			}
		}
	}
	items = append(items, nil)
	copy(items[i+1:], items[i:])
	items[i] = it
	return items
}

// cloddsContextOnly returns the context's history messages that no
// messages row holds (same role and content, times within 5 s when both
// have one), each matched row used once.
func cloddsContextOnly(rows []*cloddsMsg, hist []cloddsCtxMsg, sid string) []*cloddsMsg {
	if len(hist) == 0 {
		return nil
	}
	byText := map[string][]*cloddsMsg{}
	for _, r := range rows {
		k := r.role + "\x00" + r.content
		byText[k] = append(byText[k], r)
	}
	used := map[*cloddsMsg]bool{}
	var out []*cloddsMsg
	var prev int64
	for i, h := range hist {
		ms := int64(h.Timestamp)
		timed := ms > 0
		if !timed {
			ms = prev
		}
		prev = ms
		found := false
		for _, r := range byText[h.Role+"\x00"+h.Content] {
			if used[r] {
				continue
			}
			if timed && r.timed && absMs(r.ms-ms) > 5000 {
				continue
			}
			used[r], found = true, true
			break
		}
		if !found {
			out = append(out, &cloddsMsg{session: sid, role: h.Role, content: h.Content, ms: ms, timed: timed, ctxIdx: i})
		}
	}
	return out
}

func absMs(d int64) int64 {
	if d < 0 {
		return -d
	}
	return d
}

// cloddsItem makes the message record of one row or context message.
func cloddsItem(rel string, row cloddsRow, m *cloddsMsg) *item {
	r := workspace.Record{Type: workspace.TypeMessage, Content: m.content}
	extra := map[string]any{}
	switch role := strings.ToLower(strings.TrimSpace(m.role)); role {
	case workspace.RoleUser, workspace.RoleAssistant, workspace.RoleSystem, workspace.RoleTool, workspace.RoleDeveloper, workspace.RoleFunction:
		r.Role = role
	default:
		r.Role = workspace.RoleUser
		extra["legacy_role"] = m.role
	}
	it := &item{rec: r, prov: Provenance{Path: rel}}
	if m.timed {
		it.rec.At, it.timed = time.UnixMilli(m.ms).UTC(), true
	}
	switch {
	case m.ctxIdx >= 0:
		it.prov.EntryID = fmt.Sprintf("sessions/%s/context.conversationHistory[%d]", row.key, m.ctxIdx)
	case m.id != "":
		it.prov.EntryID = "messages/" + m.id
	default:
		it.prov.EntryID = fmt.Sprintf("messages/rowid:%d", m.rowid)
	}
	if len(extra) > 0 {
		it.prov.Extra = mustJSON(extra)
	}
	return it
}

// cloddsAgent reads the agent of a Clodds key (always main in practice).
func cloddsAgent(key string) (string, bool) {
	rest, ok := strings.CutPrefix(key, "agent:")
	if !ok {
		return "", false
	}
	a, _, _ := strings.Cut(rest, ":")
	if a == "" {
		return "", false
	}
	return a, true
}

// cloddsRoute is the route a session row recorded: its channel, account
// (the key's "<platform>:<account>" segment), chat and, for a direct
// chat, the user. Clodds' shared DM session (agent:<a>:dm:main, dmScope
// main) and rows without a channel have none.
func cloddsRoute(row cloddsRow) *keying.Inbound {
	if row.channel == "" || row.chat == "" {
		return nil
	}
	rest := row.key
	if a, ok := cloddsAgent(row.key); ok {
		rest = strings.TrimPrefix(row.key, "agent:"+a+":")
	}
	if rest == "dm:main" {
		return nil
	}
	in := &keying.Inbound{Channel: row.channel, ChatID: row.chat}
	group := strings.EqualFold(row.chatType, "group")
	if group {
		in.ChatType = "group"
	} else {
		in.ChatType = "direct"
		in.SenderID = row.user
	}
	var seg string
	switch {
	case group:
		seg, _ = strings.CutSuffix(rest, ":group:"+row.chat)
	default:
		seg, _ = strings.CutSuffix(rest, ":dm:"+row.chat+":"+row.user)
	}
	if acct, ok := strings.CutPrefix(seg, row.channel+":"); ok && acct != "" && !strings.Contains(acct, ":") {
		in.Account = acct
	}
	return in
}
