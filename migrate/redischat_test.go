package migrate

import (
	"context"
	"encoding/json"
	"net/url"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/picosess/picosess/keying"
	"github.com/picosess/picosess/workspace"
	"github.com/picosess/picosess/workspace/redisstore/redistest"
)

// redisChatDB is the database of the test server these tests fill: the
// Redis chat CLI's keys have no prefix, so the tests take a database of
// their own (and flush it).
const redisChatDB = "13"

func redisChatServer(t *testing.T) (string, *redis.Client) {
	t.Helper()
	u, err := url.Parse(redistest.URL(t))
	if err != nil {
		t.Fatal(err)
	}
	u.Path = "/" + redisChatDB
	u.RawQuery = ""
	opt, err := redis.ParseURL(u.String())
	if err != nil {
		t.Fatal(err)
	}
	c := redis.NewClient(opt)
	ctx := context.Background()
	if err := c.FlushDB(ctx).Err(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.FlushDB(context.Background()); c.Close() })
	return u.String(), c
}

// snapshot dumps every key of the database, to show nothing changed.
func snapshot(t *testing.T, c *redis.Client) map[string]string {
	t.Helper()
	ctx := context.Background()
	keys, err := c.Keys(ctx, "*").Result()
	if err != nil {
		t.Fatal(err)
	}
	out := map[string]string{}
	for _, k := range keys {
		d, err := c.Dump(ctx, k).Result()
		if err != nil {
			t.Fatal(err)
		}
		ttl, _ := c.PTTL(ctx, k).Result()
		out[k] = d + "|expires:" + strconv.FormatBool(ttl > 0)
	}
	return out
}

func TestRedisChatImport(t *testing.T) {
	ctx := context.Background()
	url, c := redisChatServer(t)
	msgs := []string{
		`{"role":"user","content":"hi there","timestamp":1764000000000}`,
		`{"role":"assistant","content":"hello","timestamp":"2025-11-24T16:00:05Z","model":"gpt-4o","tokens":12}`,
		`{"role":"user","content":"seconds, not ms","timestamp":1764000010}`,
		`{"role":"assistant","content":"naive ISO","timestamp":"2025-11-24T16:00:20.5"}`,
	}
	for _, m := range msgs {
		c.RPush(ctx, "session:work:messages", m)
	}
	c.HSet(ctx, "session:work:metadata", "title", "Work chat", "created_at", "1764000000000", "model", "gpt-4o")
	c.RPush(ctx, "session:second one:messages", `{"role":"user","content":"other","timestamp":"2025-11-20T10:00:00+01:00"}`,
		`not json`, `{"role":"user","content":"after the bad one","timestamp":"2025-11-20T10:00:01+01:00"}`)
	c.Expire(ctx, "session:second one:messages", time.Hour) // the CLI's inactivity TTL: left as it is
	// Other data of the server: never read as sessions.
	c.Set(ctx, "session:notalist:messages", "a string", 0)
	c.HSet(ctx, "user:1", "name", "x")
	c.RPush(ctx, "queue:jobs", `{"role":"user","content":"not a session"}`)
	c.RPush(ctx, "session:work:drafts", `{"role":"user","content":"not the layout"}`)
	before := snapshot(t, c)

	res, err := Read(ctx, url, Options{System: SystemRedisChat})
	if err != nil {
		t.Fatal(err)
	}
	if res.System != SystemRedisChat || len(res.Sources) != 2 {
		t.Fatalf("read %d sources: %+v", len(res.Sources), res)
	}
	w, err := workspace.Open(t.TempDir(), &workspace.Options{NoConfig: true, CountTokens: workspace.EstimateTokens})
	if err != nil {
		t.Fatal(err)
	}
	defer w.Close()
	p, err := PlanResult(ctx, res, w, PlanOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := Apply(ctx, w, p, ApplyOptions{ReportDir: t.TempDir()}); err != nil {
		t.Fatal(err)
	}
	s, err := w.Lookup(ctx, "work")
	if err != nil {
		t.Fatal(err)
	}
	if s.ID() != keying.NamedID("work") {
		t.Fatalf("work is %s, want the named session's id", s.ID())
	}
	recs, err := s.ReadAll(ctx)
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, r := range recs[1:] {
		if r.Type == workspace.TypeMessage {
			got = append(got, r.Role+":"+r.Content+"@"+r.At.Format(time.RFC3339Nano))
		}
	}
	want := []string{
		"user:hi there@2025-11-24T16:00:00Z",
		"assistant:hello@2025-11-24T16:00:05Z",
		"user:seconds, not ms@2025-11-24T16:00:10Z",
		"assistant:naive ISO@2025-11-24T16:00:20.5Z",
	}
	if strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Fatalf("messages:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
	if recs[0].Name != "work" {
		t.Fatalf("header name %q", recs[0].Name)
	}
	m, err := s.Meta(ctx)
	if err != nil || m.Title != "Work chat" {
		t.Fatalf("title %q %v", m.Title, err)
	}
	// Other fields of a message are in the origin.
	var origin struct {
		System string                    `json:"system"`
		Extras map[string]map[string]any `json:"extras"`
	}
	if err := json.Unmarshal(recs[0].Origin, &origin); err != nil {
		t.Fatal(err)
	}
	x, _ := origin.Extras["3"]["redischat"].(map[string]any)
	if origin.System != "redischat" || x["model"] != "gpt-4o" || x["tokens"] != float64(12) {
		t.Fatalf("origin: %s", recs[0].Origin)
	}
	// The second session: its bad item set aside and reported, the rest in order.
	s2, err := w.Lookup(ctx, "second one")
	if err != nil {
		t.Fatal(err)
	}
	h, _ := s2.History(ctx, 0)
	if len(h.Messages) != 2 || h.Messages[1].Content != "after the bad one" {
		t.Fatalf("second: %+v", h.Messages)
	}
	if !res.Partial() {
		t.Fatal("a set-aside item must make the read partial")
	}
	// Nothing in the source changed, other keys included.
	after := snapshot(t, c)
	if len(after) != len(before) {
		t.Fatalf("keys before %d, after %d", len(before), len(after))
	}
	for k, v := range before {
		if after[k] != v {
			t.Errorf("%s changed", k)
		}
	}
	// Again: nothing more is written.
	p, err = PlanResult(ctx, res, w, PlanOptions{})
	if err != nil {
		t.Fatal(err)
	}
	for _, ps := range p.Sessions {
		if ps.Action != ActionSkip {
			t.Errorf("second run: %s %s", ps.ID, ps.Action)
		}
	}
}

func TestRedisChatTimes(t *testing.T) {
	for in, want := range map[string]string{
		`1764000000000`:               "2025-11-24T16:00:00Z",
		`1764000000`:                  "2025-11-24T16:00:00Z",
		`"1764000000123"`:             "2025-11-24T16:00:00.123Z",
		`1764000000.25`:               "2025-11-24T16:00:00.25Z",
		`"2025-11-24T17:00:00+01:00"`: "2025-11-24T16:00:00Z",
		`"2025-11-24 16:00:00"`:       "2025-11-24T16:00:00Z",
	} {
		got, err := parseChatTime(json.RawMessage(in))
		if err != nil || got.Format(time.RFC3339Nano) != want {
			t.Errorf("%s: %v %v, want %s", in, got, err, want)
		}
	}
	for _, bad := range []string{`"yesterday"`, `true`, `{}`} {
		if _, err := parseChatTime(json.RawMessage(bad)); err == nil {
			t.Errorf("%s accepted", bad)
		}
	}
}

func TestRedisChatEmptyServer(t *testing.T) {
	url, c := redisChatServer(t)
	c.Set(context.Background(), "unrelated", "1", 0)
	if _, err := Read(context.Background(), url, Options{}); err == nil || !strings.Contains(err.Error(), "no session:<name>:messages") {
		t.Fatalf("empty server: %v", err)
	}
}
