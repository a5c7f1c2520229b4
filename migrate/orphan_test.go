package migrate

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/tidwall/gjson"
)

// ocWriteTranscript writes a pi-mono v3 transcript begun at start: specs
// are "u:text" and "a:text", one minute apart.
func ocWriteTranscript(t testing.TB, dir, name, id string, start time.Time, specs ...string) {
	t.Helper()
	var b strings.Builder
	fmt.Fprintf(&b, `{"type":"session","version":3,"id":%q,"timestamp":%q,"cwd":"/home/alice/clawd"}`+"\n", id, start.Format("2006-01-02T15:04:05.000Z"))
	parent := "null"
	for i, sp := range specs {
		role, text, _ := strings.Cut(sp, ":")
		at := start.Add(time.Duration(i+1) * time.Minute)
		eid := fmt.Sprintf("%s%02d", id[:6], i)
		msg := fmt.Sprintf(`{"role":"user","content":[{"type":"text","text":%q}],"timestamp":%d}`, text, at.UnixMilli())
		if role == "a" {
			msg = fmt.Sprintf(`{"role":"assistant","content":[{"type":"text","text":%q}],"provider":"anthropic","model":"claude-opus-4-5","stopReason":"stop","timestamp":%d}`, text, at.UnixMilli())
		}
		fmt.Fprintf(&b, `{"type":"message","id":%q,"parentId":%s,"timestamp":%q,"message":%s}`+"\n", eid, parent, at.Format("2006-01-02T15:04:05.000Z"), msg)
		parent = fmt.Sprintf("%q", eid)
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, name), []byte(b.String()), 0o644); err != nil {
		t.Fatal(err)
	}
}

// A Clawdbot install of January 2026 (resets orphaned the previous
// transcript): three keys in the store, seven transcripts no entry names.
func writeOrphanInstall(t *testing.T) string {
	t.Helper()
	root := filepath.Join(t.TempDir(), "clawdbot")
	dir := filepath.Join(root, "agents", "main", "sessions")
	day := func(d, h int) time.Time { return time.Date(2026, 1, d, h, 0, 0, 0, time.UTC) }
	const (
		dm111   = "11111111-0000-4000-8000-000000000001"
		dm222   = "22222222-0000-4000-8000-000000000001"
		mainCur = "33333333-0000-4000-8000-000000000001"
		wa      = "44444444-0000-4000-8000-000000000001"
		grp     = "55555555-0000-4000-8000-000000000001"
		acct1   = "77777777-0000-4000-8000-000000000001"
		acct2   = "88888888-0000-4000-8000-000000000001"
		topic   = "66666666-0000-4000-8000-000000000001"
	)
	write(t, filepath.Join(dir, "sessions.json"), `{
  "agent:main:telegram:dm:111": {"sessionId": "`+dm111+`", "updatedAt": 1768924800000, "chatType": "direct",
    "deliveryContext": {"channel": "telegram", "to": "telegram:111", "accountId": "default"}, "lastChannel": "telegram", "lastTo": "telegram:111"},
  "agent:main:telegram:dm:222": {"sessionId": "`+dm222+`", "updatedAt": 1768924800000, "chatType": "direct",
    "deliveryContext": {"channel": "telegram", "to": "telegram:222", "accountId": "default"}, "lastChannel": "telegram", "lastTo": "telegram:222"},
  "agent:main:main": {"sessionId": "`+mainCur+`", "updatedAt": 1768924800000, "chatType": "direct",
    "lastChannel": "telegram", "lastTo": "telegram:222"},
  "agent:main:whatsapp:dm:+15551234567": {"sessionId": "`+wa+`", "updatedAt": 1768924800000, "chatType": "direct",
    "lastChannel": "whatsapp", "lastTo": "+15551234567"},
  "agent:main:telegram:acct1:direct:333": {"sessionId": "`+acct1+`", "updatedAt": 1768924800000, "chatType": "direct", "lastChannel": "telegram", "lastTo": "telegram:333"},
  "agent:main:telegram:acct2:direct:333": {"sessionId": "`+acct2+`", "updatedAt": 1768924800000, "chatType": "direct", "lastChannel": "telegram", "lastTo": "telegram:333"},
  "agent:main:telegram:group:-100555": {"sessionId": "`+grp+`", "updatedAt": 1768924800000, "chatType": "group",
    "lastChannel": "telegram", "lastTo": "telegram:-100555", "groupId": "-100555"},
  "agent:main:telegram:group:-100555:topic:42": {"sessionId": "`+topic+`", "updatedAt": 1768924800000, "chatType": "group",
    "lastChannel": "telegram", "lastTo": "telegram:-100555", "groupId": "-100555"}
}`)
	// one peer reaching the bot through two accounts: an orphan of that
	// peer fits both keys
	ocWriteTranscript(t, dir, acct1+".jsonl", acct1, day(20, 9), "u:[Telegram Dave id:333 Tue 2026-01-20 10:01 CET] via one", "a:one")
	ocWriteTranscript(t, dir, acct2+".jsonl", acct2, day(20, 9), "u:[Telegram Dave id:333 Tue 2026-01-20 10:01 CET] via two", "a:two")
	ocWriteTranscript(t, dir, "c3333333-0000-4000-8000-000000000001.jsonl", "c3333333-0000-4000-8000-000000000001", day(12, 8), "u:[Telegram Dave id:333 Mon 2026-01-12 09:01 CET] which account?", "a:unclear")
	// a forum group and one of its topics, each with an orphan
	ocWriteTranscript(t, dir, grp+".jsonl", grp, day(20, 9), "u:[Telegram Family id:-100555 Tue 2026-01-20 10:01 CET] group now", "a:group reply")
	ocWriteTranscript(t, dir, topic+"-topic-42.jsonl", topic, day(20, 9), "u:[Telegram Family id:-100555 Tue 2026-01-20 10:01 CET] topic now", "a:topic reply")
	ocWriteTranscript(t, dir, "a5555555-0000-4000-8000-000000000001.jsonl", "a5555555-0000-4000-8000-000000000001", day(16, 8), "u:[Telegram Family id:-100555 Fri 2026-01-16 09:01 CET] group before", "a:ok")
	ocWriteTranscript(t, dir, "b5555555-0000-4000-8000-000000000001-topic-42.jsonl", "b5555555-0000-4000-8000-000000000001", day(17, 8), "u:[Telegram Family id:-100555 Sat 2026-01-17 09:01 CET] topic before", "a:ok")
	// the keys' current transcripts, all begun on January 20
	ocWriteTranscript(t, dir, dm111+".jsonl", dm111, day(20, 9), "u:[Telegram Alice (@alice) id:111 Tue 2026-01-20 10:01 CET] current question", "a:current answer")
	ocWriteTranscript(t, dir, dm222+".jsonl", dm222, day(20, 9), "u:[Telegram Bob id:222 Tue 2026-01-20 10:01 CET] bob now", "a:hi bob")
	ocWriteTranscript(t, dir, mainCur+".jsonl", mainCur, day(20, 11), "u:[Telegram Bob id:222 Tue 2026-01-20 12:01 CET] main now", "a:main reply")
	ocWriteTranscript(t, dir, wa+".jsonl", wa, day(20, 9), "u:[WhatsApp +15551234567 Tue 2026-01-20 10:01 CET] wa now", "a:wa reply")
	// orphans of dm:111, the older one first in time but last in name order
	ocWriteTranscript(t, dir, "f1111111-0000-4000-8000-000000000001.jsonl", "f1111111-0000-4000-8000-000000000001", day(10, 8), "u:[Telegram Alice (@alice) id:111 Sat 2026-01-10 09:01 CET] oldest hello", "a:ok")
	ocWriteTranscript(t, dir, "a1111111-0000-4000-8000-000000000002.jsonl", "a1111111-0000-4000-8000-000000000002", day(15, 8), "u:[Telegram Alice (@alice) id:111 Thu 2026-01-15 09:01 CET] middle hello", "a:ok")
	// a peer no entry holds
	ocWriteTranscript(t, dir, "b9999999-0000-4000-8000-000000000001.jsonl", "b9999999-0000-4000-8000-000000000001", day(12, 8), "u:[Telegram Carol id:999 Mon 2026-01-12 09:01 CET] stranger", "a:who?")
	// dm:111's peer, but it runs past the start of dm:111's current transcript
	ocWriteTranscript(t, dir, "c1111111-0000-4000-8000-000000000003.jsonl", "c1111111-0000-4000-8000-000000000003", day(20, 8).Add(30*time.Minute), "u:[Telegram Alice (@alice) id:111 Tue 2026-01-20 09:31 CET] overlapping", "a:a", "u:b", "a:c", "u:d", "a:e", "u:f", "a:g", "u:h", "a:i", "u:j", "a:k", "u:l", "a:m", "u:n", "a:o", "u:p", "a:q", "u:r", "a:s", "u:t", "a:u", "u:v", "a:w", "u:x", "a:y", "u:z", "a:too long", "u:still going", "a:past nine thirty", "u:and on", "a:done")
	// peer 222: both agent:main:telegram:dm:222 and agent:main:main
	// (dmScope changed) hold it, and both began later
	ocWriteTranscript(t, dir, "d2222222-0000-4000-8000-000000000001.jsonl", "d2222222-0000-4000-8000-000000000001", day(14, 8), "u:[Telegram Bob id:222 Wed 2026-01-14 09:01 CET] which one?", "a:unclear")
	// no envelope: a cron run
	ocWriteTranscript(t, dir, "e0000000-0000-4000-8000-000000000001.jsonl", "e0000000-0000-4000-8000-000000000001", day(13, 3), "u:Run the nightly digest.", "a:Digest sent.")
	// WhatsApp, by phone number
	ocWriteTranscript(t, dir, "f4444444-0000-4000-8000-000000000001.jsonl", "f4444444-0000-4000-8000-000000000001", day(11, 8), "u:[WhatsApp +15551234567 Sun 2026-01-11 09:01 CET] wa before", "a:wa ok")
	return root
}

func TestOpenClawOrphansLinkedByEnvelope(t *testing.T) {
	root := writeOrphanInstall(t)
	p, rep, ws := migrateDir(t, root)

	check := func(key string, want ...string) {
		t.Helper()
		ps := sessionOf(t, p, key)
		got, recs := sessionMessages(t, ws, ps.ID)
		if strings.Join(got, "|") != strings.Join(want, "|") {
			t.Fatalf("%s:\n got  %q\n want %q", key, got, want)
		}
		// the header is the first message's time; times never go back
		// across a conversation boundary
		for i := 2; i < len(recs); i++ {
			if recs[i].At.Before(recs[0].At) {
				t.Fatalf("%s: record %d at %s precedes the header %s", key, recs[i].Seq, recs[i].At, recs[0].At)
			}
		}
	}
	check("agent:main:telegram:dm:111",
		"u:[Telegram Alice (@alice) id:111 Sat 2026-01-10 09:01 CET] oldest hello", "a:ok",
		"reset:",
		"u:[Telegram Alice (@alice) id:111 Thu 2026-01-15 09:01 CET] middle hello", "a:ok",
		"reset:",
		"u:[Telegram Alice (@alice) id:111 Tue 2026-01-20 10:01 CET] current question", "a:current answer")
	check("agent:main:whatsapp:dm:+15551234567",
		"u:[WhatsApp +15551234567 Sun 2026-01-11 09:01 CET] wa before", "a:wa ok",
		"reset:",
		"u:[WhatsApp +15551234567 Tue 2026-01-20 10:01 CET] wa now", "a:wa reply")
	check("agent:main:telegram:group:-100555",
		"u:[Telegram Family id:-100555 Fri 2026-01-16 09:01 CET] group before", "a:ok",
		"reset:",
		"u:[Telegram Family id:-100555 Tue 2026-01-20 10:01 CET] group now", "a:group reply")
	check("agent:main:telegram:group:-100555:topic:42",
		"u:[Telegram Family id:-100555 Sat 2026-01-17 09:01 CET] topic before", "a:ok",
		"reset:",
		"u:[Telegram Family id:-100555 Tue 2026-01-20 10:01 CET] topic now", "a:topic reply")
	check("agent:main:telegram:dm:222",
		"u:[Telegram Bob id:222 Tue 2026-01-20 10:01 CET] bob now", "a:hi bob")
	check("agent:main:main",
		"u:[Telegram Bob id:222 Tue 2026-01-20 12:01 CET] main now", "a:main reply")

	// the rest stay archived sessions of their own, each with its reason
	archived := map[string]string{
		"openclaw:main:b9999999-0000-4000-8000-000000000001": "which no store entry of agent main holds",
		"openclaw:main:c1111111-0000-4000-8000-000000000003": "the time does not fit",
		"openclaw:main:d2222222-0000-4000-8000-000000000001": "which one cannot be decided",
		"openclaw:main:e0000000-0000-4000-8000-000000000001": "no channel envelope",
		"openclaw:main:c3333333-0000-4000-8000-000000000001": "which one cannot be decided",
	}
	for key, why := range archived {
		ps := sessionOf(t, p, key)
		if ps.Messages == 0 {
			t.Fatalf("%s holds no message", key)
		}
		found := false
		for _, w := range rep.Warnings {
			found = found || (strings.Contains(w, strings.TrimPrefix(key, "openclaw:main:")) && strings.Contains(w, why))
		}
		if !found {
			t.Errorf("%s: no report line says %q; warnings: %q", key, why, rep.Warnings)
		}
	}
	for _, w := range rep.Warnings {
		if strings.Contains(w, "d2222222") && !(strings.Contains(w, "agent:main:main") && strings.Contains(w, "agent:main:telegram:dm:222")) {
			t.Errorf("the ambiguous orphan's reason does not name both candidates: %q", w)
		}
	}
	// verify proves every transcript's messages present, file by file
	proved := map[string]bool{}
	for _, f := range rep.Verify.Files {
		proved[f.Path] = f.Missing == 0 && f.Messages > 0
	}
	for _, f := range p.Files {
		if strings.HasSuffix(f.Path, ".jsonl") && !proved[f.Path] {
			t.Errorf("verify does not prove %s: %+v", f.Path, rep.Verify.Files)
		}
	}
	// the files of linked orphans are reported as generations of the key,
	// with the evidence
	for _, f := range p.Files {
		if strings.HasPrefix(baseName(f.Path), "f1111111") || strings.HasPrefix(baseName(f.Path), "a1111111") {
			if f.Class != ClassGeneration || f.Key != "agent:main:telegram:dm:111" || !strings.Contains(f.Reason, "telegram 111") {
				t.Errorf("%s: %+v", f.Path, f)
			}
		}
	}
}

// The ids an entry knows for its key, from the key itself and the route.
func TestEntryPeers(t *testing.T) {
	cases := []struct {
		key, raw string
		ch, id   string
	}{
		{"agent:main:telegram:dm:111", `{}`, "telegram", "111"},
		{"agent:main:telegram:default:direct:111", `{}`, "telegram", "111"},
		{"agent:main:main", `{"lastChannel":"telegram","lastTo":"telegram:222"}`, "telegram", "222"},
		{"agent:main:telegram:group:-100123:topic:7", `{}`, "telegram", "-100123"},
		{"agent:main:whatsapp:group:1203@g.us", `{"groupId":"1203@g.us"}`, "whatsapp", "1203@g.us"},
		{"agent:main:discord:channel:987", `{"origin":{"provider":"discord","nativeChannelId":"987"}}`, "discord", "987"},
	}
	for _, c := range cases {
		e := &ocEntry{key: c.key, raw: gjson.Parse(c.raw)}
		chans, ids := entryPeers(e)
		if !chans[c.ch] || !ids[c.id] {
			t.Errorf("%s %s: channels %v ids %v, want %s %s", c.key, c.raw, chans, ids, c.ch, c.id)
		}
	}
}

// The channel and ids each envelope shape yields (Telegram's sender and
// group labels, WhatsApp numbers and JIDs, Discord, the later metadata
// block); the message text after the envelope is never read.
func TestOrphanEvidence(t *testing.T) {
	cases := []struct {
		text, want, topic string
	}{
		{"[Telegram Alice (@alice) id:111 +3m Thu 2026-01-09 10:05 CET] hi id:999", "telegram 111", ""},
		{"[Telegram Family id:-100555 topic:42 Thu 2026-01-09 10:05 CET] hi", "telegram -100555", "42"},
		{"[Telegram group:-100777 Thu 2026-01-09 10:05 CET] hi", "telegram -100777", ""},
		{"[WhatsApp +15551234567 Thu 2026-01-09 10:05 CET] hi", "whatsapp +15551234567", ""},
		{"[WhatsApp 120363041234567890@g.us Thu 2026-01-09 10:05 CET] hi", "whatsapp 120363041234567890@g.us", ""},
		{"[Discord alice#0001 user id:42424242 Thu 2026-01-09 10:05 CET] hi", "discord 42424242", ""},
		{"Conversation info (untrusted metadata):\n```json\n{\"channel\":\"telegram\",\"sender_id\":\"111\"}\n```\n\nhi", "telegram 111", ""},
		{"Conversation info (untrusted metadata):\n```json\n{\"message_id\":\"9\",\"sender_id\":\"111\",\"sender\":\"Alice\"}\n```\n\n[Mon 2026-02-23 23:41 GMT+8] hi", "(any channel) 111", ""},
		{"Run the nightly digest. id:5", "", ""},
	}
	for _, c := range cases {
		msg := fmt.Sprintf(`{"type":"message","id":"m1","parentId":null,"timestamp":"2026-01-09T09:05:00.000Z","message":{"role":"user","content":%q,"timestamp":1767949500000}}`, c.text)
		tr := &ocTranscript{name: "x.jsonl", entries: []*ocLine{{typ: "message", data: []byte(msg), id: "m1", hasID: true}}}
		ev := orphanEvidence(tr)
		if got := describePeers(ev); got != c.want || ev.topic != c.topic {
			t.Errorf("%q: peers %q topic %q, want %q %q", c.text, got, ev.topic, c.want, c.topic)
		}
		if want := time.Date(2026, 1, 9, 9, 5, 0, 0, time.UTC); !ev.first.Equal(want) || !ev.last.Equal(want) {
			t.Errorf("%q: span %s..%s", c.text, ev.first, ev.last)
		}
	}
}

// BenchmarkOpenClawOrphans reads an install of 2 000 Telegram DM keys,
// each with its current transcript and one orphan of 20 messages from an
// earlier reset, every orphan linked by its envelope.
func BenchmarkOpenClawOrphans(b *testing.B) {
	const keys, msgs = 2000, 20
	root := filepath.Join(b.TempDir(), "clawdbot")
	dir := filepath.Join(root, "agents", "main", "sessions")
	var store strings.Builder
	store.WriteString("{\n")
	day := time.Date(2026, 1, 20, 9, 0, 0, 0, time.UTC)
	specs := func(peer int, what string) []string {
		out := make([]string, msgs)
		for k := range out {
			if k%2 == 0 {
				out[k] = fmt.Sprintf("u:[Telegram User%d id:%d Tue 2026-01-20 10:01 CET] %s %d", peer, peer, what, k)
			} else {
				out[k] = "a:ok"
			}
		}
		return out
	}
	for i := 0; i < keys; i++ {
		peer := 500000 + i
		cur := fmt.Sprintf("%08x-0000-4000-8000-000000000001", i)
		old := fmt.Sprintf("%08x-0000-4000-8000-000000000002", i)
		if i > 0 {
			store.WriteString(",\n")
		}
		fmt.Fprintf(&store, `"agent:main:telegram:dm:%d": {"sessionId": %q, "updatedAt": 1768924800000, "chatType": "direct", "lastChannel": "telegram", "lastTo": "telegram:%d"}`, peer, cur, peer)
		ocWriteTranscript(b, dir, cur+".jsonl", cur, day, specs(peer, "now")...)
		ocWriteTranscript(b, dir, old+".jsonl", old, day.Add(-72*time.Hour), specs(peer, "before")...)
	}
	store.WriteString("\n}")
	if err := os.WriteFile(filepath.Join(dir, "sessions.json"), []byte(store.String()), 0o644); err != nil {
		b.Fatal(err)
	}
	b.ResetTimer()
	for b.Loop() {
		r, err := Read(context.Background(), root, Options{System: SystemOpenClaw})
		if err != nil {
			b.Fatal(err)
		}
		if len(r.Sources) != keys || r.Messages() != 2*keys*msgs {
			b.Fatalf("%d sources, %d messages: an orphan was not linked", len(r.Sources), r.Messages())
		}
	}
	b.ReportMetric(float64(2*keys*msgs)*float64(b.N)/b.Elapsed().Seconds(), "msgs/s")
}
