package migrate

import (
	"context"
	"database/sql"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"
)

// cloddsSchema is Clodds' own DDL for the two tables the importer reads
// (alsk1992/CloddsBot src/db/index.ts; title was added later by ALTER
// TABLE), plus two unrelated tables of the same database.
const cloddsSchema = `
CREATE TABLE IF NOT EXISTS users (
  id TEXT PRIMARY KEY, platform TEXT NOT NULL, platform_user_id TEXT NOT NULL,
  username TEXT, settings TEXT DEFAULT '{}', created_at INTEGER NOT NULL, last_active_at INTEGER NOT NULL);
CREATE TABLE IF NOT EXISTS sessions (
  id TEXT,
  key TEXT PRIMARY KEY,
  user_id TEXT,
  channel TEXT NOT NULL,
  chat_id TEXT NOT NULL,
  chat_type TEXT NOT NULL,
  context TEXT DEFAULT '{}',
  created_at INTEGER NOT NULL,
  updated_at INTEGER NOT NULL
);
CREATE TABLE IF NOT EXISTS alerts (id TEXT PRIMARY KEY, user_id TEXT NOT NULL, data TEXT);
CREATE TABLE IF NOT EXISTS messages (
  id TEXT PRIMARY KEY,
  session_id TEXT NOT NULL,
  role TEXT NOT NULL,
  content TEXT NOT NULL,
  timestamp INTEGER NOT NULL
);
CREATE INDEX IF NOT EXISTS idx_messages_session ON messages(session_id);
CREATE INDEX IF NOT EXISTS idx_messages_timestamp ON messages(timestamp);
CREATE INDEX IF NOT EXISTS idx_sessions_user ON sessions(user_id);
ALTER TABLE sessions ADD COLUMN title TEXT;
`

// fxSession is one Clodds session of a generated fixture and what the
// importer must make of it.
type fxSession struct {
	id, key, user, channel, chat, chatType, title, context string
	created, updated                                       int64
	msgs                                                   []*fxMsg // rows, as inserted
	// want is every message the session must hold, in order
	want []fxWant
}

type fxMsg struct {
	id, session, role, content string
	ts                         int64
	rowid                      int64
}

type fxWant struct {
	role, content string
	ms            int64
}

type cloddsFixture struct {
	sessions []*fxSession
	orphans  map[string][]*fxMsg // session id -> rows with no session row
	rows     int
}

var fxPhrases = []string{"ok", "thanks", "what's the spread on the election market?", "Buy 10 YES at 0.42",
	"line one\nline two", `quotes "inside" and a \ backslash`, "émoji 🎲 and ünïcode", "ok", "?",
	"Position closed: +3.20 USD", "show my portfolio", "tool said: {\"ok\":true}"}

// makeCloddsFixture writes <dir>/clodds.db with Clodds' schema: nSess
// ordinary sessions of every key shape with about perSess rows each
// (inserted in shuffled order, some timestamps equal), one shared DM
// session (dmScope main), one whose older history is only in its context,
// one with a plain summary and checkpoint, one with an encrypted context
// (made by Node's crypto, testdata/clodds/encrypted-context.json), and
// rows of a deleted session. It returns what each session must hold.
func makeCloddsFixture(t testing.TB, dir string, nSess, perSess int, seed uint64) *cloddsFixture {
	t.Helper()
	rng := rand.New(rand.NewPCG(seed, seed^0x9e3779b97f4a7c15))
	base := int64(1767225600000) // 2026-01-01T00:00:00Z
	fx := &cloddsFixture{orphans: map[string][]*fxMsg{}}
	newSess := func(i int) *fxSession {
		s := &fxSession{id: fmt.Sprintf("0b7c%04x-5e1d-4c8a-9f00-%012x", i, i*7919), created: base + int64(i)*3_600_000}
		user := fmt.Sprint(100200300 + i)
		switch i % 6 {
		case 0: // Telegram DM, per-channel-peer: chat id = user id
			s.channel, s.chat, s.user, s.chatType = "telegram", user, user, "dm"
			s.key = "agent:main:telegram:dm:" + user + ":" + user
		case 1: // Discord DM of an account: chat id is the DM channel
			s.channel, s.chat, s.user, s.chatType = "discord", fmt.Sprint(1187245913476520000+i), user, "dm"
			s.key = "agent:main:discord:bot-a:dm:" + s.chat + ":" + user
		case 2: // Telegram group
			s.channel, s.chat, s.user, s.chatType = "telegram", fmt.Sprint(-1001234567000-i), user, "group"
			s.key = "agent:main:telegram:group:" + s.chat
		case 3: // Slack channel of a workspace account
			s.channel, s.chat, s.user, s.chatType = "slack", fmt.Sprintf("C0%dABC", i), "U0"+user, "group"
			s.key = "agent:main:slack:T01:group:" + s.chat
		case 4: // per-peer DM
			s.channel, s.chat, s.user, s.chatType = "whatsapp", user+"@s.whatsapp.net", user, "dm"
			s.key = "agent:main:dm:peer:" + user
		case 5: // web chat
			s.channel, s.chat, s.user, s.chatType = "webchat", fmt.Sprintf("web-%08x", i), "web-user-"+user, "dm"
			s.key = "agent:main:webchat:dm:" + s.chat + ":" + s.user
		}
		if i%4 == 0 {
			s.title = fmt.Sprintf("Markets chat %d", i)
		}
		s.context = `{"messageCount":0,"lastMarkets":[],"preferences":{},"conversationHistory":[]}`
		return s
	}
	addRows := func(s *fxSession, n int) {
		ts := s.created + 1000
		for k := 0; k < n; k++ {
			if rng.IntN(5) != 0 { // every fifth message shares its time with the one before
				ts += int64(1 + rng.IntN(90_000))
			}
			role := "user"
			if k%2 == 1 {
				role = "assistant"
			}
			content := fxPhrases[rng.IntN(len(fxPhrases))]
			if rng.IntN(3) == 0 {
				content = fmt.Sprintf("%s #%d of %s", content, k, s.key)
			}
			s.msgs = append(s.msgs, &fxMsg{id: fmt.Sprintf("%s-%d-%06x", s.id, ts, k), session: s.id, role: role, content: content, ts: ts})
		}
		s.updated = ts
	}
	for i := 0; i < nSess; i++ {
		s := newSess(i)
		addRows(s, perSess/2+rng.IntN(perSess+1))
		fx.sessions = append(fx.sessions, s)
	}
	// Clodds' one session for all DMs (dmScope main)
	main := newSess(nSess)
	main.key, main.channel, main.chat, main.user, main.chatType = "agent:main:dm:main", "telegram", "555", "555", "dm"
	addRows(main, 25)
	fx.sessions = append(fx.sessions, main)
	// older history only in the context (before the messages table), then
	// two messages in both, then rows only
	legacy := newSess(nSess + 1)
	addRows(legacy, 6)
	older := []fxWant{{"user", "from before the messages table", legacy.created - 50_000}, {"assistant", "an old answer", legacy.created - 40_000}, {"user", "ok", legacy.created - 30_000}}
	var hist []string
	for _, w := range older {
		hist = append(hist, fmt.Sprintf(`{"role":%q,"content":%q,"timestamp":%d}`, w.role, w.content, w.ms))
	}
	for _, m := range legacy.msgs[:2] {
		hist = append(hist, fmt.Sprintf(`{"role":%q,"content":%q,"timestamp":%d}`, m.role, m.content, m.ts+3))
	}
	legacy.context = `{"messageCount":9,"conversationHistory":[` + strings.Join(hist, ",") + `]}`
	fx.sessions = append(fx.sessions, legacy)
	// a plain summary and checkpoint
	sum := newSess(nSess + 2)
	addRows(sum, 8)
	sum.context = fmt.Sprintf(`{"messageCount":8,"conversationHistory":[{"role":%q,"content":%q,"timestamp":%d}],"contextSummary":"- user: asked about spreads","checkpoint":{"createdAt":%d,"messageCount":5,"history":[]}}`,
		sum.msgs[6].role, sum.msgs[6].content, sum.msgs[6].ts, sum.msgs[4].ts)
	fx.sessions = append(fx.sessions, sum)
	// the encrypted context, made by Node (its history: two messages)
	enc := newSess(nSess + 3)
	env, err := os.ReadFile(filepath.Join("testdata", "clodds", "encrypted-context.json"))
	if err != nil {
		t.Fatal(err)
	}
	enc.context = strings.TrimSpace(string(env))
	enc.created = 1767225500000
	enc.msgs = []*fxMsg{
		{id: "enc-1", session: enc.id, role: "user", content: "is it going to rain in Lisbon?", ts: 1767225600000},
		{id: "enc-2", session: enc.id, role: "assistant", content: "The market says 62% yes.", ts: 1767225601000},
		{id: "enc-3", session: enc.id, role: "user", content: "and in Porto?", ts: 1767225602000},
	}
	enc.updated = 1767225602000
	fx.sessions = append(fx.sessions, enc)
	// rows of a session whose row was deleted
	fx.orphans["deleted-session-1"] = []*fxMsg{
		{id: "gone-1", session: "deleted-session-1", role: "user", content: "hello from a deleted session", ts: base + 5},
		{id: "gone-2", session: "deleted-session-1", role: "assistant", content: "still kept", ts: base + 5},
	}

	// insert everything in shuffled order: rowid order is not time order
	var all []*fxMsg
	for _, s := range fx.sessions {
		all = append(all, s.msgs...)
	}
	for _, sid := range sortedKeys(fx.orphans) {
		all = append(all, fx.orphans[sid]...)
	}
	rng.Shuffle(len(all), func(i, j int) { all[i], all[j] = all[j], all[i] })
	for i, m := range all {
		m.rowid = int64(i + 1)
	}
	fx.rows = len(all)
	writeCloddsDB(t, filepath.Join(dir, cloddsDB), fx.sessions, all)

	// what each session must hold: rows by (time, rowid), the context's
	// own messages merged in by time
	for _, s := range fx.sessions {
		ms := append([]*fxMsg(nil), s.msgs...)
		sort.SliceStable(ms, func(i, j int) bool {
			if ms[i].ts != ms[j].ts {
				return ms[i].ts < ms[j].ts
			}
			return ms[i].rowid < ms[j].rowid
		})
		if s == legacy {
			s.want = append(s.want, older...)
		}
		for _, m := range ms {
			s.want = append(s.want, fxWant{m.role, m.content, m.ts})
		}
	}
	return fx
}

func writeCloddsDB(t testing.TB, path string, sessions []*fxSession, rows []*fxMsg) {
	t.Helper()
	db, err := sql.Open("sqlite", "file:"+path)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	if _, err := db.Exec(cloddsSchema); err != nil {
		t.Fatal(err)
	}
	tx, err := db.Begin()
	if err != nil {
		t.Fatal(err)
	}
	for _, s := range sessions {
		var title any
		if s.title != "" {
			title = s.title
		}
		if _, err := tx.Exec(`INSERT INTO sessions (id, key, user_id, channel, chat_id, chat_type, context, title, created_at, updated_at) VALUES (?,?,?,?,?,?,?,?,?,?)`,
			s.id, s.key, s.user, s.channel, s.chat, s.chatType, s.context, title, s.created, s.updated); err != nil {
			t.Fatal(err)
		}
	}
	ins, err := tx.Prepare(`INSERT INTO messages (rowid, id, session_id, role, content, timestamp) VALUES (?,?,?,?,?,?)`)
	if err != nil {
		t.Fatal(err)
	}
	for _, m := range rows {
		if _, err := ins.Exec(m.rowid, m.id, m.session, m.role, m.content, m.ts); err != nil {
			t.Fatal(err)
		}
	}
	ins.Close()
	if _, err := tx.Exec(`INSERT INTO users VALUES ('u1','telegram','100200300','alice','{}',1,2)`); err != nil {
		t.Fatal(err)
	}
	if err := tx.Commit(); err != nil {
		t.Fatal(err)
	}
}

// TestWriteCloddsFixture writes a fixture install to $CLODDS_FIXTURE_OUT
// (for trying migrate by hand); skipped otherwise.
func TestWriteCloddsFixture(t *testing.T) {
	out := os.Getenv("CLODDS_FIXTURE_OUT")
	if out == "" {
		t.Skip("set CLODDS_FIXTURE_OUT=DIR to write a fixture Clodds install")
	}
	if err := os.MkdirAll(out, 0o755); err != nil {
		t.Fatal(err)
	}
	makeCloddsFixture(t, out, 40, 70, 1)
	write(t, filepath.Join(out, "clodds.json"), "{\n  // Clodds' config is JSON5\n  session: {dmScope: 'per-channel-peer'},\n}\n")
	_ = context.Background
}
