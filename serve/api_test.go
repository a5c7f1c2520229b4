package serve

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/picosess/picosess/keying"
	"github.com/picosess/picosess/workspace"
)

// Every route answers its documented success, and its errors are the
// documented body with the status of the error table.
func TestAPIRoutes(t *testing.T) {
	ts := newTestServer(t, nil, nil)
	ctx := context.Background()

	// New named session; the same name again is a 409.
	var m workspace.Meta
	ts.want(http.StatusCreated, &m, "POST", "/api/sessions", `{"name":"Berlin-Flat","title":"The flat"}`)
	if m.Name != "berlin-flat" || m.Title != "The flat" || m.ID != keying.NamedID("berlin-flat") {
		t.Fatalf("new session %+v", m)
	}
	ts.want(http.StatusConflict, nil, "POST", "/api/sessions", `{"name":"berlin-flat"}`)
	var fresh workspace.Meta
	ts.want(http.StatusCreated, &fresh, "POST", "/api/sessions", ``)
	if !strings.HasPrefix(fresh.Name, "chat-") {
		t.Fatalf("a new session without a name gets a dated one: %+v", fresh)
	}
	ts.want(http.StatusBadRequest, nil, "POST", "/api/sessions", `{"nmae":"x"}`)

	// Append one record, then a turn of several.
	var app Appended
	ts.want(http.StatusCreated, &app, "POST", "/api/sessions/berlin-flat/records",
		`{"role":"user","sender":"alice","content":"Is the Berlin flat still available?"}`)
	if app.Session != m.ID || len(app.Seqs) != 1 || app.Seqs[0] != 3 {
		t.Fatalf("append %+v", app)
	}
	ts.want(http.StatusCreated, &app, "POST", "/api/sessions/"+m.ID+"/records",
		`[{"type":"message","role":"assistant","content":"Checking.","tool_calls":[{"id":"c1","type":"function","function":{"name":"lookup","arguments":"{}"}}]},
		  {"type":"message","role":"tool","tool_call_id":"c1","content":"available"},
		  {"type":"message","role":"assistant","content":"Yes, viewing on Saturday."}]`)
	if len(app.Seqs) != 3 || app.Seqs[0] != 4 || app.Seqs[2] != 6 {
		t.Fatalf("turn %+v", app)
	}
	// A reset trigger goes through AppendTurn: the policy applies...
	ts.want(http.StatusCreated, &app, "POST", "/api/sessions/berlin-flat/records", `{"role":"user","content":"/new"}`)
	if app.Reset == nil {
		t.Fatalf("/new through the API did not reset: %+v", app)
	}
	// ...and ?raw=1 appends as given.
	app = Appended{}
	ts.want(http.StatusCreated, &app, "POST", "/api/sessions/berlin-flat/records?raw=1", `{"role":"user","content":"/new"}`)
	if app.Reset != nil {
		t.Fatalf("raw append reset: %+v", app)
	}
	for _, bad := range []string{`{"role":"robot","content":"x"}`, `[]`, `{"type":"session"}`, `{"type":"nope"}`, `{"role":"user","seq":9}`, `"text"`, `[`} {
		e := ErrorBody{}
		resp, b := ts.do("POST", "/api/sessions/berlin-flat/records", bad)
		if resp.StatusCode != 400 {
			t.Fatalf("append %s: %d %s", bad, resp.StatusCode, b)
		}
		e = checkErrorBody(t, resp, b)
		if bad == `{"role":"robot","content":"x"}` && !strings.Contains(e.Error, "robot") {
			t.Fatalf("error must name the bad role: %s", b)
		}
	}
	// An unknown reference is a 404, never a new session.
	for _, ref := range []string{"nobody", "agent:main:telegram:direct:999", "v=1|agent=main|channel=x|account=default", "sk_v1_" + strings.Repeat("ab", 32)} {
		ts.want(http.StatusNotFound, nil, "POST", "/api/sessions/"+url.PathEscape(ref)+"/records", `{"role":"user","content":"x"}`)
	}
	if _, err := ts.w.Lookup(ctx, "nobody"); err == nil {
		t.Fatal("a POST to an unknown reference created a session")
	}

	// Metadata.
	ts.want(http.StatusOK, &m, "GET", "/api/sessions/berlin-flat", "")
	if m.Messages != 5 || m.Segments != 2 {
		t.Fatalf("meta %+v", m)
	}
	ts.want(http.StatusNotFound, nil, "GET", "/api/sessions/sk_v1_00000000", "")

	// History: the active history by default, every record with all=1,
	// pages both ways.
	var h HistoryPage
	ts.want(http.StatusOK, &h, "GET", "/api/sessions/berlin-flat/history", "")
	if h.All || len(h.Records) != 1 || h.Records[0].Content != "/new" {
		t.Fatalf("active history %+v", h)
	}
	ts.want(http.StatusOK, &h, "GET", "/api/sessions/berlin-flat/history?all=1&limit=3", "")
	if !h.All || len(h.Records) != 3 || !h.More || h.Records[2].Seq != h.LastSeq {
		t.Fatalf("all, newest 3: %+v", h)
	}
	ts.want(http.StatusOK, &h, "GET", fmt.Sprintf("/api/sessions/berlin-flat/history?all=1&limit=3&before=%d", h.Records[0].Seq), "")
	if len(h.Records) != 3 || h.Records[0].Seq != 3 {
		t.Fatalf("all, older page: %+v", h)
	}
	ts.want(http.StatusOK, &h, "GET", "/api/sessions/berlin-flat/history?all=1&after=0&limit=2", "")
	if len(h.Records) != 2 || h.Records[0].Type != workspace.TypeSession || !h.More {
		t.Fatalf("all, from the start: %+v", h)
	}
	for _, q := range []string{"limit=0", "limit=x", "before=-1", "after=x", "all=maybe", "limit=100000"} {
		ts.want(http.StatusBadRequest, nil, "GET", "/api/sessions/berlin-flat/history?"+q, "")
	}

	// Title (PocketPaw's PUT), listing, recent.
	var ch Change
	ts.want(http.StatusOK, &ch, "PUT", "/api/sessions/berlin-flat/title", `{"title":"Flat in Berlin"}`)
	if ch.Session != m.ID || ch.Seq == 0 {
		t.Fatalf("title %+v", ch)
	}
	ts.want(http.StatusBadRequest, nil, "PUT", "/api/sessions/berlin-flat/title", `{}`)
	ts.want(http.StatusNotFound, nil, "PUT", "/api/sessions/nobody/title", `{"title":"x"}`)
	var list SessionList
	ts.want(http.StatusOK, &list, "GET", "/api/sessions", "")
	if list.Total != 2 || len(list.Sessions) != 2 || list.NextCursor != "" {
		t.Fatalf("listing %+v", list)
	}
	ts.want(http.StatusOK, &list, "GET", "/api/sessions?q=berlin", "")
	if list.Total != 1 || list.Sessions[0].Title != "Flat in Berlin" {
		t.Fatalf("listing q=berlin %+v", list)
	}
	for _, q := range []string{"sort=size", "order=up", "cursor=zzz", "since=yesterdayish", "limit=0"} {
		ts.want(http.StatusBadRequest, nil, "GET", "/api/sessions?"+q, "")
	}
	var recent struct{ Sessions []workspace.Meta }
	ts.want(http.StatusOK, &recent, "GET", "/api/sessions/recent?limit=1", "")
	if len(recent.Sessions) != 1 {
		t.Fatalf("recent %+v", recent)
	}

	// Search, both paths, with snippets and parts.
	var res SearchResult
	ts.want(http.StatusOK, &res, "GET", "/api/sessions/search?q=berlin", "")
	if len(res.Hits) != 1 || res.Hits[0].Seq != 3 || !strings.Contains(res.Hits[0].Snippet, "**Berlin**") ||
		len(res.Sessions) != 1 || res.Sessions[0].ID != m.ID {
		t.Fatalf("search %+v", res)
	}
	var marked bool
	for _, p := range res.Hits[0].Parts {
		marked = marked || p.Match && strings.EqualFold(p.Text, "berlin")
	}
	if !marked {
		t.Fatalf("parts %+v", res.Hits[0].Parts)
	}
	ts.want(http.StatusOK, &res, "GET", "/api/search?q=saturday&role=assistant&session=berlin-flat&since=30d", "")
	if len(res.Hits) != 1 {
		t.Fatalf("filtered search %+v", res)
	}
	ts.want(http.StatusBadRequest, nil, "GET", "/api/search?q=x&sort=random", "")
	ts.want(http.StatusBadRequest, nil, "GET", "/api/search?q=x&since=soon", "")
	ts.want(http.StatusNotFound, nil, "GET", "/api/search?q=x&session=nobody", "")

	// Checkpoints: save, list, restore, delete.
	var cp workspace.Checkpoint
	ts.want(http.StatusCreated, &cp, "POST", "/api/sessions/berlin-flat/checkpoints", `{"name":"v1","description":"before"}`)
	ts.want(http.StatusBadRequest, nil, "POST", "/api/sessions/berlin-flat/checkpoints", `{"name":""}`)
	ts.want(http.StatusBadRequest, nil, "POST", "/api/sessions/berlin-flat/checkpoints", `{"name":"12"}`)
	var cps struct{ Checkpoints []workspace.Checkpoint }
	ts.want(http.StatusOK, &cps, "GET", "/api/sessions/berlin-flat/checkpoints", "")
	if len(cps.Checkpoints) != 1 || cps.Checkpoints[0].Name != "v1" {
		t.Fatalf("checkpoints %+v", cps)
	}
	ts.want(http.StatusOK, &ch, "POST", "/api/sessions/berlin-flat/checkpoints/v1/restore", ``)
	ts.want(http.StatusNotFound, nil, "POST", "/api/sessions/berlin-flat/checkpoints/v9/restore", ``)
	ts.want(http.StatusOK, &ch, "DELETE", "/api/sessions/berlin-flat/checkpoints/v1", ``)
	ts.want(http.StatusNotFound, nil, "DELETE", "/api/sessions/berlin-flat/checkpoints/v1", ``)

	// Reset and clear.
	ts.want(http.StatusOK, &ch, "POST", "/api/sessions/berlin-flat/reset", `{"reason":"manual"}`)
	ts.want(http.StatusBadRequest, nil, "POST", "/api/sessions/berlin-flat/reset", `{"reason":"boredom"}`)
	ts.want(http.StatusOK, &ch, "POST", "/api/sessions/berlin-flat/clear", ``)
	ts.want(http.StatusOK, &h, "GET", "/api/sessions/berlin-flat/history", "")
	if len(h.Records) != 0 {
		t.Fatalf("history after clear %+v", h)
	}

	// Policy.
	var pol workspace.PolicyReport
	ts.want(http.StatusOK, &pol, "GET", "/api/sessions/berlin-flat/policy?at=2030-01-01T00:00:00Z", "")
	if pol.ID != m.ID {
		t.Fatalf("policy %+v", pol)
	}
	ts.want(http.StatusBadRequest, nil, "GET", "/api/sessions/berlin-flat/policy?at=tomorrow", "")

	// Export as a download, three formats.
	for format, ct := range map[string]string{"markdown": "text/markdown", "json": "application/json", "jsonl": "application/x-ndjson", "text": "text/plain", "": "text/markdown"} {
		resp, b := ts.do("GET", "/api/sessions/berlin-flat/export?all=1&format="+format, "")
		if resp.StatusCode != 200 || !strings.HasPrefix(resp.Header.Get("Content-Type"), ct) ||
			!strings.HasPrefix(resp.Header.Get("Content-Disposition"), `attachment; filename="berlin-flat.`) ||
			!strings.Contains(string(b), "Berlin flat") {
			t.Fatalf("export %s: %d %v %.200s", format, resp.StatusCode, resp.Header, b)
		}
	}
	ts.want(http.StatusBadRequest, nil, "GET", "/api/sessions/berlin-flat/export?format=pdf", "")

	// Delete (PocketPaw's DELETE), the trash, restore from it.
	var del Deleted
	ts.want(http.StatusOK, &del, "DELETE", "/api/sessions/berlin-flat", "")
	ts.want(http.StatusGone, nil, "GET", "/api/sessions/berlin-flat", "")
	ts.want(http.StatusGone, nil, "POST", "/api/sessions/"+m.ID+"/records", `{"role":"user","content":"x"}`)
	var trash struct{ Trash []workspace.Trashed }
	ts.want(http.StatusOK, &trash, "GET", "/api/trash", "")
	if len(trash.Trash) != 1 || trash.Trash[0].Name != del.Trash {
		t.Fatalf("trash %+v, deleted %+v", trash, del)
	}
	ts.want(http.StatusOK, &m, "POST", "/api/trash/"+url.PathEscape(del.Trash)+"/restore", ``)
	ts.want(http.StatusNotFound, nil, "POST", "/api/trash/"+url.PathEscape(del.Trash)+"/restore", ``)
	ts.want(http.StatusOK, nil, "GET", "/api/sessions/berlin-flat", "")

	// Info.
	var info Info
	ts.want(http.StatusOK, &info, "GET", "/api/info", "")
	if info.Workspace != ts.w.Root() || info.Auth || info.Events.MaxClients != DefaultMaxEventClients {
		t.Fatalf("info %+v", info)
	}

	// Unknown routes and methods are the JSON error, 405 with Allow.
	ts.want(http.StatusNotFound, nil, "GET", "/api/nope", "")
	ts.want(http.StatusNotFound, nil, "GET", "/nope", "")
	ts.want(http.StatusNotFound, nil, "GET", "/assets/nope.js", "")
	resp := ts.want(http.StatusMethodNotAllowed, nil, "PATCH", "/api/sessions", `{}`)
	if !strings.Contains(resp.Header.Get("Allow"), "GET") {
		t.Fatalf("405 without Allow: %v", resp.Header)
	}
	ts.want(http.StatusMethodNotAllowed, nil, "POST", "/api/info", `{}`)
	// /v1 is gone, and says where it went.
	ts.want(http.StatusGone, nil, "GET", "/v1/sessions", "")
	ts.want(http.StatusGone, nil, "POST", "/v1/sessions/x/records", "[]")
}

// Append by route picks the session the Go library picks, creates it
// with its scope and aliases, and says so.
func TestAPIAppendByRoute(t *testing.T) {
	ts := newTestServer(t, nil, nil)
	ctx := context.Background()
	body := `{"route":{"channel":"telegram","chat_type":"direct","chat":"123456789","sender":"123456789"},
		"records":[{"role":"user","sender":"123456789","content":"hi"}]}`
	var app Appended
	ts.want(http.StatusCreated, &app, "POST", "/api/records", body)
	kr, err := keying.Resolve("", keying.Inbound{Channel: "telegram", ChatType: "direct", ChatID: "123456789", SenderID: "123456789"}, ts.w.Config().Policy())
	if err != nil {
		t.Fatal(err)
	}
	lib, err := ts.w.SessionForRoute(ctx, kr)
	if err != nil {
		t.Fatal(err)
	}
	if app.Session != lib.ID() || !app.Created || app.Route == nil || app.Route.Signature != kr.Signature {
		t.Fatalf("by route %+v, library %s", app, lib.ID())
	}
	hdr, err := lib.Header(ctx)
	if err != nil || hdr.Scope == nil || len(hdr.Aliases) == 0 {
		t.Fatalf("header %+v %v", hdr, err)
	}
	app = Appended{}
	ts.want(http.StatusCreated, &app, "POST", "/api/records", body)
	if app.Created || len(app.Seqs) != 1 || app.Seqs[0] != 3 {
		t.Fatalf("second append %+v", app)
	}
	// GET /api/key answers the same without writing.
	var key RouteAnswer
	ts.want(http.StatusOK, &key, "GET", "/api/key?channel=telegram&chat_type=direct&chat=123456789&sender=123456789", "")
	if key.ID != lib.ID() || !key.Exists {
		t.Fatalf("key %+v", key)
	}
	ts.want(http.StatusOK, &key, "GET", "/api/key?channel=slack&chat_type=channel&chat=C1&dimensions=chat", "")
	if key.Exists || key.MatchedBy != "flags" {
		t.Fatalf("key of a new route %+v", key)
	}
	// A named session by route.
	app = Appended{}
	ts.want(http.StatusCreated, &app, "POST", "/api/records", `{"route":{"session":"todo"},"records":[{"role":"user","content":"milk"}]}`)
	if app.Session != keying.NamedID("todo") || !app.Created {
		t.Fatalf("named by route %+v", app)
	}
	for _, bad := range []string{
		`{"records":[{"role":"user","content":"x"}]}`,
		`{"route":{},"records":[{"role":"user","content":"x"}]}`,
		`{"route":{"channel":"x","dimensions":"chat","scope":"main"},"records":[{"role":"user","content":"x"}]}`,
		`{"route":{"channel":"x","dimensions":"colour"},"records":[{"role":"user","content":"x"}]}`,
		`{"route":{"session":"a","channel":"x"},"records":[{"role":"user","content":"x"}]}`,
		`{"route":{"channel":"x"},"records":[]}`,
	} {
		ts.want(http.StatusBadRequest, nil, "POST", "/api/records", bad)
	}
	ts.want(http.StatusBadRequest, nil, "GET", "/api/key", "")
}

// Cursor pages cover every session once, in order, also when sessions
// are written between pages: a session written meanwhile moves to the
// front (the live feed says so) and is neither repeated nor does it push
// another out of the pages.
func TestAPIListingCursor(t *testing.T) {
	ts := newTestServer(t, nil, nil)
	ctx := context.Background()
	base := time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)
	const n = 25
	for i := 0; i < n; i++ {
		ts.session(fmt.Sprintf("s%02d", i), workspace.Record{Type: workspace.TypeMessage, Role: "user",
			Content: fmt.Sprint("message ", i), At: base.Add(time.Duration(i) * time.Minute)})
	}
	for _, sort := range []string{"updated", "created", "title", "messages"} {
		seen := map[string]bool{}
		cursor := ""
		pages := 0
		for {
			var page SessionList
			ts.want(http.StatusOK, &page, "GET", "/api/sessions?limit=4&sort="+sort+"&cursor="+cursor, "")
			pages++
			for _, m := range page.Sessions {
				if seen[m.ID] {
					t.Fatalf("sort %s: %s twice", sort, m.Title)
				}
				seen[m.ID] = true
			}
			if pages == 2 && sort == "updated" {
				// Write to a session of a page not read yet, and to one
				// already read.
				s0, _ := ts.w.Lookup(ctx, "s00")
				s24, _ := ts.w.Lookup(ctx, "s24")
				for _, s := range []*workspace.Session{s0, s24} {
					if _, err := s.Append(ctx, workspace.Record{Type: workspace.TypeMessage, Role: "user", Content: "later", At: base.Add(time.Hour)}); err != nil {
						t.Fatal(err)
					}
				}
			}
			if page.NextCursor == "" {
				break
			}
			cursor = url.QueryEscape(page.NextCursor)
		}
		// s00 moved to the front after the first pages of the updated
		// listing: seen or not, depending on whether the listing read
		// after it was written; every other session exactly once.
		s00, _ := ts.w.Lookup(ctx, "s00")
		if len(seen) != n && !(sort == "updated" && len(seen) == n-1 && !seen[s00.ID()]) {
			t.Fatalf("sort %s: %d sessions seen, want %d", sort, len(seen), n)
		}
	}
	var page SessionList
	ts.want(http.StatusOK, &page, "GET", "/api/sessions?limit=2&sort=title", "")
	ts.want(http.StatusBadRequest, nil, "GET", "/api/sessions?limit=2&sort=created&cursor="+url.QueryEscape(page.NextCursor), "")
}

// Error table rows that the routes above do not reach.
func TestErrorTable(t *testing.T) {
	for _, c := range []struct {
		err  error
		code int
	}{
		{fmt.Errorf("x: %w", workspace.ErrLocked), http.StatusLocked},
		{fmt.Errorf("x: %w", workspace.ErrAmbiguous), http.StatusConflict},
		{fmt.Errorf("write: %w", errNoSpace), http.StatusInsufficientStorage},
		{fmt.Errorf("x: %w", workspace.ErrCorrupt), http.StatusInternalServerError},
		{&http.MaxBytesError{Limit: 10}, http.StatusRequestEntityTooLarge},
		{context.DeadlineExceeded, http.StatusGatewayTimeout},
		{fmt.Errorf("something else"), http.StatusInternalServerError},
	} {
		if got, _ := statusOf(c.err); got != c.code {
			t.Errorf("%v: %d, want %d", c.err, got, c.code)
		}
	}
	_ = json.Valid
}
