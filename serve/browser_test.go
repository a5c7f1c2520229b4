package serve

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/chromedp/cdproto/emulation"
	"github.com/chromedp/chromedp"
	"github.com/chromedp/chromedp/kb"
	"github.com/picosess/picosess/workspace"
)

// The browser tests drive Debian's chromium headless against a real
// listener. Without chromium they skip, unless $CI is set: then they fail.

var (
	browserOnce   sync.Once
	browserCtx    context.Context
	browserCancel []context.CancelFunc
	browserErr    error
)

func chromiumPath() string {
	for _, name := range []string{"chromium", "chromium-browser"} {
		if p, err := exec.LookPath(name); err == nil {
			return p
		}
	}
	if _, err := os.Stat("/usr/bin/chromium"); err == nil {
		return "/usr/bin/chromium"
	}
	return ""
}

func stopBrowser() {
	for i := len(browserCancel) - 1; i >= 0; i-- {
		browserCancel[i]()
	}
}

// tab opens a new tab of the shared headless browser, with a viewport of
// w x h.
func tab(t *testing.T, w, h int64) context.Context {
	t.Helper()
	path := chromiumPath()
	if path == "" {
		if os.Getenv("CI") != "" {
			t.Fatal("chromium is not installed and $CI is set: the browser tests must run (apt-get install chromium)")
		}
		t.Skip("chromium is not installed (apt-get install chromium); browser tests skipped")
	}
	browserOnce.Do(func() {
		alloc, cancelA := chromedp.NewExecAllocator(context.Background(),
			chromedp.ExecPath(path), chromedp.Headless, chromedp.NoSandbox, chromedp.DisableGPU, chromedp.NoFirstRun,
			chromedp.Flag("disable-background-networking", true), chromedp.Flag("disable-component-update", true),
			chromedp.Flag("disable-sync", true), chromedp.Flag("no-default-browser-check", true),
			chromedp.Flag("hide-scrollbars", true), chromedp.WindowSize(1280, 800))
		bctx, cancelB := chromedp.NewContext(alloc)
		browserCancel = append(browserCancel, cancelA, cancelB)
		browserErr = chromedp.Do(bctx) // starts the browser
		browserCtx = bctx
	})
	if browserErr != nil {
		if os.Getenv("CI") != "" {
			t.Fatalf("chromium does not start: %v", browserErr)
		}
		t.Skipf("chromium does not start: %v", browserErr)
	}
	ctx, cancel := chromedp.NewContext(browserCtx)
	t.Cleanup(cancel)
	ctx, cancelT := context.WithTimeout(ctx, 90*time.Second)
	t.Cleanup(cancelT)
	do(t, ctx, chromedp.EmulateViewport(w, h))
	return ctx
}

func do(t *testing.T, ctx context.Context, steps ...chromedp.Action[chromedp.Void]) {
	t.Helper()
	if err := chromedp.Do(ctx, steps...); err != nil {
		t.Fatal(err)
	}
}

func eval[T any](t *testing.T, ctx context.Context, expr string) T {
	t.Helper()
	v, err := chromedp.Run(ctx, chromedp.Evaluate[T](expr))
	if err != nil {
		t.Fatalf("%s: %v", expr, err)
	}
	return v
}

// waitJS waits until expr is truthy.
func waitJS(t *testing.T, ctx context.Context, expr string, timeout time.Duration) {
	t.Helper()
	if _, err := chromedp.Run(ctx, chromedp.Poll[chromedp.Void](expr, chromedp.WithPollingTimeout(timeout), chromedp.WithPollingInterval(20*time.Millisecond))); err != nil {
		t.Fatalf("waiting for %s: %v", expr, err)
	}
}

func (ts *testServer) open(t *testing.T, ctx context.Context) {
	t.Helper()
	do(t, ctx, chromedp.Navigate(ts.base+"/"))
	waitJS(t, ctx, `document.body.dataset.ready === "1"`, 20*time.Second)
}

func at(s string) time.Time {
	tm, err := time.Parse(time.RFC3339, s)
	if err != nil {
		panic(err)
	}
	return tm
}

func dated(role, content, when string) workspace.Record {
	return workspace.Record{Type: workspace.TypeMessage, Role: role, Content: content, At: at(when)}
}

// The sidebar groups sessions by their last activity into Today,
// Yesterday, This Week and Older, in the browser's time zone, around the
// server's "now".
func TestBrowserSidebarGroups(t *testing.T) {
	now := at("2026-03-11T19:00:00Z") // 15:00 in New York (EDT, UTC-4)
	ts := newTestServer(t, &Options{Now: func() time.Time { return now }}, nil)
	ts.session("today", dated("user", "today", "2026-03-11T14:00:00Z"))
	ts.session("late-yesterday", dated("user", "late yesterday", "2026-03-11T01:30:00Z")) // Mar 10 21:30 in NY
	ts.session("this-week", dated("user", "this week", "2026-03-07T12:00:00Z"))
	ts.session("week-edge", dated("user", "week edge", "2026-03-05T05:30:00Z"))   // Mar 5 00:30 NY: 6 days before today
	ts.session("just-older", dated("user", "just older", "2026-03-05T03:30:00Z")) // Mar 4 23:30 NY
	ts.session("older", dated("user", "older", "2026-02-20T12:00:00Z"))

	ctx := tab(t, 1280, 800)
	if _, err := chromedp.Call(ctx, emulation.SetTimezoneOverride, emulation.SetTimezoneOverrideParams{TimezoneID: "America/New_York"}); err != nil {
		t.Fatal(err)
	}
	ts.open(t, ctx)
	got := eval[string](t, ctx, `(() => { let g = '', out = [];
		for (const e of document.querySelectorAll('#list > *')) {
			if (e.classList.contains('group')) g = e.textContent;
			else out.push(g + ': ' + e.querySelector('.t').textContent);
		}
		return out.join('\n'); })()`)
	want := strings.Join([]string{
		"Today: today",
		"Yesterday: late yesterday",
		"This Week: this week",
		"This Week: week edge",
		"Older: just older",
		"Older: older",
	}, "\n")
	if got != want {
		t.Fatalf("sidebar:\n%s\nwant:\n%s", got, want)
	}
	// In UTC the late message of yesterday is today's.
	if _, err := chromedp.Call(ctx, emulation.SetTimezoneOverride, emulation.SetTimezoneOverrideParams{TimezoneID: "UTC"}); err != nil {
		t.Fatal(err)
	}
	ts.open(t, ctx)
	first := eval[string](t, ctx, `Array.from(document.querySelectorAll('#list > .item')).slice(0, 2).map(e => e.previousElementSibling.classList.contains('group') ? e.previousElementSibling.textContent + ': ' + e.querySelector('.t').textContent : e.querySelector('.t').textContent).join('\n')`)
	if first != "Today: today\nlate yesterday" {
		t.Fatalf("in UTC:\n%s", first)
	}
}

// Search finds a message, highlights the words in the snippet, and
// clicking the hit opens the session at that message, even far from the
// newest page.
func TestBrowserSearchHighlights(t *testing.T) {
	ts := newTestServer(t, nil, nil)
	var recs []workspace.Record
	for i := 0; i < 300; i++ {
		c := fmt.Sprintf("ordinary message number %d", i)
		if i == 10 {
			c = "The quarterly zeppelin report is ready for review"
		}
		recs = append(recs, msg([]string{"user", "assistant"}[i%2], c))
	}
	s := ts.session("long", recs...)
	ts.session("other", msg("user", "nothing to see"))
	ctx := tab(t, 1280, 800)
	ts.open(t, ctx)
	do(t, ctx, chromedp.SendKeys(chromedp.CSS("#search"), "zeppelin"))
	waitJS(t, ctx, `document.querySelector('#hits mark') !== null`, 10*time.Second)
	marks := eval[string](t, ctx, `Array.from(document.querySelectorAll('#hits mark')).map(m => m.textContent).join(',')`)
	if !strings.EqualFold(marks, "zeppelin") {
		t.Fatalf("highlighted %q", marks)
	}
	do(t, ctx, chromedp.Click(chromedp.CSS("#hits .item")))
	waitJS(t, ctx, `document.querySelector('#items [data-seq="12"].flash') !== null`, 10*time.Second)
	text := eval[string](t, ctx, `document.querySelector('#items [data-seq="12"] .body').textContent`)
	if !strings.Contains(text, "zeppelin report") {
		t.Fatalf("jumped to %q", text)
	}
	// The page around the hit is not the newest: the newer records load
	// on demand.
	if eval[bool](t, ctx, `document.getElementById('newer').hidden`) {
		t.Fatal("no way to load newer records after a jump")
	}
	_ = s
}

// Rename and delete work from the dashboard and survive a reload; delete
// can be undone from the trash.
func TestBrowserRenameDeleteSurviveReload(t *testing.T) {
	ts := newTestServer(t, nil, nil)
	a := ts.session("alpha", msg("user", "first alpha message"))
	ts.session("beta", msg("user", "beta message"))
	ctx := tab(t, 1280, 800)
	ts.open(t, ctx)
	item := fmt.Sprintf(`#list .item[data-id=%q]`, a.ID())
	do(t, ctx, chromedp.Click(chromedp.CSS(item)), chromedp.WaitVisible(chromedp.CSS("#session")),
		chromedp.Click(chromedp.CSS("#rename")), chromedp.WaitVisible(chromedp.CSS("#dialog-input")),
		chromedp.SetValue(chromedp.CSS("#dialog-input"), "Renamed alpha"), chromedp.Click(chromedp.CSS("#dialog-ok")))
	waitJS(t, ctx, fmt.Sprintf(`(document.querySelector('%s .t') || {}).textContent === 'Renamed alpha'`, item), 10*time.Second)
	ts.open(t, ctx) // reload
	if got := eval[string](t, ctx, fmt.Sprintf(`document.querySelector('%s .t').textContent`, item)); got != "Renamed alpha" {
		t.Fatalf("after reload: %q", got)
	}

	// Delete, undo, reload: still there.
	do(t, ctx, chromedp.Click(chromedp.CSS(item)), chromedp.WaitVisible(chromedp.CSS("#session")), chromedp.Click(chromedp.CSS("#delete")))
	waitJS(t, ctx, fmt.Sprintf(`document.querySelector('%s') === null && !document.getElementById('toast').hidden`, item), 10*time.Second)
	do(t, ctx, chromedp.Click(chromedp.CSS("#toast-action")))
	waitJS(t, ctx, fmt.Sprintf(`document.querySelector('%s') !== null`, item), 10*time.Second)
	ts.open(t, ctx)
	waitJS(t, ctx, fmt.Sprintf(`document.querySelector('%s') !== null`, item), 5*time.Second)

	// Delete, reload: gone, and in the trash.
	do(t, ctx, chromedp.Click(chromedp.CSS(item)), chromedp.WaitVisible(chromedp.CSS("#session")), chromedp.Click(chromedp.CSS("#delete")))
	waitJS(t, ctx, fmt.Sprintf(`document.querySelector('%s') === null`, item), 10*time.Second)
	ts.open(t, ctx)
	if n := eval[int](t, ctx, `document.querySelectorAll('#list .item').length`); n != 1 {
		t.Fatalf("%d sessions after delete and reload, want 1", n)
	}
	if _, ok := ts.w.InTrash(context.Background(), a.ID()); !ok {
		t.Fatal("the deleted session is not in the trash")
	}
}

// buildBinary builds picosess once per test run.
var binOnce sync.Once
var binPath, binErr = "", error(nil)

func picosessBinary(t *testing.T) string {
	t.Helper()
	binOnce.Do(func() {
		dir, err := os.MkdirTemp("", "picosess-bin-")
		if err != nil {
			binErr = err
			return
		}
		binPath = filepath.Join(dir, "picosess")
		out, err := exec.Command("go", "build", "-o", binPath, "../cmd/picosess").CombinedOutput()
		if err != nil {
			binErr = fmt.Errorf("go build: %v\n%s", err, out)
		}
	})
	if binErr != nil {
		t.Fatal(binErr)
	}
	return binPath
}

// A message appended by another OS process (the picosess binary) appears
// in the open conversation, without a reload, within 2 s.
func TestBrowserLiveFromAnotherProcess(t *testing.T) {
	bin := picosessBinary(t)
	ts := newTestServer(t, nil, nil)
	s := ts.session("live", msg("user", "hello"))
	ctx := tab(t, 1280, 800)
	ts.open(t, ctx)
	do(t, ctx, chromedp.Click(chromedp.CSS(fmt.Sprintf(`#list .item[data-id=%q]`, s.ID()))))
	waitJS(t, ctx, `document.querySelectorAll('#items .msg').length === 1 && document.getElementById('live').classList.contains('on')`, 10*time.Second)
	cmd := exec.Command(bin, "--workspace", ts.w.Root(), "append", s.ID(), "--role", "assistant", "--content", "written by another process")
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("picosess append: %v\n%s", err, out)
	}
	start := time.Now()
	waitJS(t, ctx, `Array.from(document.querySelectorAll('#items .msg .body')).some(b => b.textContent === 'written by another process')`, 2*time.Second)
	t.Logf("appeared %v after the process exited", time.Since(start).Round(time.Millisecond))
	// The sidebar follows: two messages now.
	waitJS(t, ctx, `document.querySelector('#list .item .s').textContent.includes('2 messages')`, 2*time.Second)
}

// Message content is text: a <script>, an event handler and ANSI escapes
// are shown as written, never run or interpreted.
func TestBrowserRendersText(t *testing.T) {
	ts := newTestServer(t, nil, nil)
	hostile := `<script>window.pwned=1</script><img src=x onerror="window.pwned=2"><b>bold?</b>`
	ansi := "\x1b[31mred\x1b[0m and \x07bell"
	s := ts.session("hostile", msg("user", hostile), msg("assistant", ansi),
		workspace.Record{Type: workspace.TypeMessage, Role: "assistant", Content: "calling",
			ToolCalls: []byte(`[{"id":"c1","type":"function","function":{"name":"<img src=x onerror=alert(1)>","arguments":"{}"}}]`)},
		workspace.Record{Type: workspace.TypeMessage, Role: "tool", ToolCallID: "c1", Content: "<svg onload=alert(1)>"})
	ctx := tab(t, 1280, 800)
	ts.open(t, ctx)
	do(t, ctx, chromedp.Click(chromedp.CSS(fmt.Sprintf(`#list .item[data-id=%q]`, s.ID()))))
	waitJS(t, ctx, `document.querySelectorAll('#items .msg').length === 4`, 10*time.Second)
	do(t, ctx, chromedp.Sleep(300*time.Millisecond))
	if v := eval[string](t, ctx, `String(window.pwned)`); v != "undefined" {
		t.Fatalf("script ran: window.pwned = %s", v)
	}
	if n := eval[int](t, ctx, `document.querySelectorAll('#items script, #items img, #items b, #items svg, #list img, #list script').length`); n != 0 {
		t.Fatalf("%d elements made from message content", n)
	}
	bodies := eval[[]string](t, ctx, `Array.from(document.querySelectorAll('#items .msg .body')).map(b => b.textContent)`)
	if len(bodies) < 3 || bodies[0] != hostile || bodies[1] != "\u241b[31mred\u241b[0m and \u2407bell" || bodies[2] != "calling" {
		t.Fatalf("bodies %q", bodies)
	}
	title := eval[string](t, ctx, `document.getElementById('title').textContent`)
	if !strings.Contains(title, "<script>") {
		t.Fatalf("title %q", title)
	}
	if tool := eval[string](t, ctx, `document.querySelector('#items .msg.tool pre').textContent`); tool != "<svg onload=alert(1)>" {
		t.Fatalf("tool result %q", tool)
	}
}

// The dashboard works with the keyboard alone: / searches, arrows move
// through the sessions, Enter opens one, Escape goes back.
func TestBrowserKeyboard(t *testing.T) {
	ts := newTestServer(t, nil, nil)
	ts.session("one", msg("user", "first"))
	ts.session("two", msg("user", "second"))
	ctx := tab(t, 390, 844) // phone width
	ts.open(t, ctx)
	do(t, ctx, chromedp.KeyEvent("/"))
	if id := eval[string](t, ctx, `document.activeElement.id`); id != "search" {
		t.Fatalf("/ focused %q", id)
	}
	do(t, ctx, chromedp.KeyEvent(kb.Escape)) // Escape leaves the empty search box focused
	do(t, ctx, chromedp.Evaluate[chromedp.Void](`document.activeElement.blur()`))
	do(t, ctx, chromedp.Focus(chromedp.CSS("#list .item")), chromedp.KeyEvent(kb.ArrowDown))
	if t2 := eval[string](t, ctx, `document.activeElement.querySelector('.t').textContent`); t2 != "first" {
		t.Fatalf("ArrowDown moved to %q", t2)
	}
	do(t, ctx, chromedp.KeyEvent(kb.Enter))
	waitJS(t, ctx, `document.body.classList.contains('show-conv') && document.getElementById('title').textContent === 'first'`, 10*time.Second)
	// At phone width the list is hidden while a conversation is open.
	if eval[bool](t, ctx, `getComputedStyle(document.getElementById('sidebar')).display !== 'none'`) {
		t.Fatal("the sidebar covers the conversation at phone width")
	}
	do(t, ctx, chromedp.KeyEvent(kb.Escape))
	waitJS(t, ctx, `!document.body.classList.contains('show-conv') && document.activeElement.classList.contains('item')`, 5*time.Second)
}

// The sidebar loads sessions a page at a time as it scrolls: every
// session once, each day group once.
func TestBrowserSidebarPages(t *testing.T) {
	now := at("2026-03-11T12:00:00Z")
	ts := newTestServer(t, &Options{Now: func() time.Time { return now }}, &workspace.Options{Durability: workspace.DurabilityNever})
	base := now.Add(-time.Hour)
	const n = 450 // three pages of 200
	for i := 0; i < n; i++ {
		ts.session(fmt.Sprintf("s%03d", i), workspace.Record{Type: workspace.TypeMessage, Role: "user",
			Content: fmt.Sprint("session ", i), At: base.Add(-time.Duration(i) * 4 * time.Hour)})
	}
	ctx := tab(t, 1280, 800)
	if _, err := chromedp.Call(ctx, emulation.SetTimezoneOverride, emulation.SetTimezoneOverrideParams{TimezoneID: "UTC"}); err != nil {
		t.Fatal(err)
	}
	ts.open(t, ctx)
	if got := eval[int](t, ctx, `document.querySelectorAll('#list .item').length`); got != 200 {
		t.Fatalf("first page: %d items", got)
	}
	for i := 0; i < 20 && eval[int](t, ctx, `document.querySelectorAll('#list .item').length`) < n; i++ {
		do(t, ctx, chromedp.Evaluate[chromedp.Void](`document.getElementById('sidebar').scrollTop = 1e9`), chromedp.Sleep(150*time.Millisecond))
	}
	got := eval[string](t, ctx, `(() => { const items = Array.from(document.querySelectorAll('#list .item')).map(e => e.dataset.id);
		const groups = Array.from(document.querySelectorAll('#list .group')).map(e => e.textContent);
		return items.length + ' ' + new Set(items).size + ' ' + groups.join(','); })()`)
	if got != fmt.Sprintf("%d %d Today,Yesterday,This Week,Older", n, n) {
		t.Fatalf("after scrolling: %s", got)
	}
}

// A live event about a session older than every loaded one (restored from
// the trash, or an event the watcher delivers late) does not put it at the
// top of the list: it comes with its page, once, in its place.
func TestBrowserLateEventKeepsTheOrder(t *testing.T) {
	now := at("2026-03-11T12:00:00Z")
	ts := newTestServer(t, &Options{Now: func() time.Time { return now }}, &workspace.Options{Durability: workspace.DurabilityNever})
	base := now.Add(-time.Hour)
	const n = 250 // two pages of 200
	var oldest *workspace.Session
	for i := 0; i < n; i++ {
		oldest = ts.session(fmt.Sprintf("s%03d", i), workspace.Record{Type: workspace.TypeMessage, Role: "user",
			Content: fmt.Sprint("session ", i), At: base.Add(-time.Duration(i) * time.Hour)})
	}
	ctx := tab(t, 1280, 800)
	ts.open(t, ctx)
	waitJS(t, ctx, `document.getElementById('live').classList.contains('on')`, 10*time.Second)
	if got := eval[int](t, ctx, `document.querySelectorAll('#list .item').length`); got != 200 {
		t.Fatalf("first page: %d items", got)
	}
	// Through this server, which tells the dashboard: deleted, then
	// restored (the oldest session, not loaded yet).
	var del struct {
		Trash string `json:"trash"`
	}
	ts.want(200, &del, "DELETE", "/api/sessions/"+oldest.ID(), "{}")
	waitJS(t, ctx, `document.getElementById('count').textContent === '249 sessions'`, 10*time.Second)
	ts.want(200, nil, "POST", "/api/trash/"+del.Trash+"/restore", "{}")
	waitJS(t, ctx, `document.getElementById('count').textContent === '250 sessions'`, 10*time.Second)
	time.Sleep(500 * time.Millisecond) // the list's own 250 ms debounce of the event
	if first := eval[string](t, ctx, `document.querySelector('#list .item .t').textContent`); first != "session 0" {
		t.Fatalf("the restored oldest session went to the top: first item %q", first)
	}
	for i := 0; i < 20 && eval[int](t, ctx, `document.querySelectorAll('#list .item').length`) < n; i++ {
		do(t, ctx, chromedp.Evaluate[chromedp.Void](`document.getElementById('sidebar').scrollTop = 1e9`), chromedp.Sleep(150*time.Millisecond))
	}
	got := eval[string](t, ctx, `(() => { const ts = Array.from(document.querySelectorAll('#list .item .t')).map(e => e.textContent);
		return ts.length + ' ' + new Set(ts).size + ' ' + ts[ts.length - 1]; })()`)
	if want := fmt.Sprintf("%d %d session %d", n, n, n-1); got != want {
		t.Fatalf("after scrolling: %q, want %q", got, want)
	}
}

// Records that are not messages say what happened, in words, as text:
// new aliases (a key's text is never markup) and a return from the trash.
func TestBrowserLifecycleMarkers(t *testing.T) {
	ctx0 := context.Background()
	ts := newTestServer(t, nil, nil)
	s := ts.session("markers", msg("user", "hello"),
		workspace.Record{Type: workspace.TypeAliases, Aliases: []string{"agent:main:telegram:direct:<b>42</b>"}})
	name, err := s.Delete(ctx0)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := ts.w.RestoreFromTrash(ctx0, name); err != nil {
		t.Fatal(err)
	}
	// A tool result over the read limit, written by another program: the
	// page names it where it stands instead of leaving a silent gap.
	f, err := os.OpenFile(s.Path(), os.O_APPEND|os.O_WRONLY, 0)
	if err != nil {
		t.Fatal(err)
	}
	big := `{"type":"message","seq":5,"at":"2026-12-07T12:00:00Z","role":"tool","content":"` + strings.Repeat("x", workspace.DefaultMaxRecordBytes+1000) + `"}` + "\n"
	if _, err := f.WriteString(big); err != nil {
		t.Fatal(err)
	}
	f.Close()
	ctx := tab(t, 1280, 800)
	ts.open(t, ctx)
	do(t, ctx, chromedp.Click(chromedp.CSS(fmt.Sprintf(`#list .item[data-id=%q]`, s.ID()))))
	waitJS(t, ctx, `document.querySelectorAll('#items .marker').length >= 4`, 10*time.Second)
	markers := eval[[]string](t, ctx, `Array.from(document.querySelectorAll('#items .marker')).map(m => m.textContent)`)
	joined := strings.Join(markers, "\n")
	if !strings.Contains(joined, "Now also answers to agent:main:telegram:direct:<b>42</b>") || !strings.Contains(joined, "Brought back from the trash") ||
		!strings.Contains(joined, "#5: a tool message of ") || !strings.Contains(joined, "over the read limit") {
		t.Fatalf("markers: %q", markers)
	}
	if n := eval[int](t, ctx, `document.querySelectorAll('#items b').length`); n != 0 {
		t.Fatalf("%d elements made from an alias", n)
	}
}
