package serve

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/chromedp/cdproto/emulation"
	"github.com/chromedp/chromedp"
	"github.com/picosess/picosess/keying"
	"github.com/picosess/picosess/workspace"
)

// screenshotWorkspace fills a workspace like a week of a household
// assistant's use, around now.
func screenshotWorkspace(t *testing.T, ts *testServer, now time.Time) *workspace.Session {
	ctx := context.Background()
	ago := func(d time.Duration) time.Time { return now.Add(-d) }
	m := func(role, sender, content string, when time.Time) workspace.Record {
		return workspace.Record{Type: workspace.TypeMessage, Role: role, Sender: sender, Content: content, At: when}
	}
	route := func(in keying.Inbound, recs ...workspace.Record) *workspace.Session {
		kr, err := keying.Resolve("main", in, ts.w.Config().Policy())
		if err != nil {
			t.Fatal(err)
		}
		s, err := ts.w.SessionForRoute(ctx, kr)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := s.Append(ctx, recs...); err != nil {
			t.Fatal(err)
		}
		return s
	}
	flat := route(keying.Inbound{Channel: "telegram", ChatType: "direct", ChatID: "4242", SenderID: "4242"},
		m("user", "alice", "Is the Berlin flat on Kastanienallee still available?", ago(50*time.Minute)),
		workspace.Record{Type: workspace.TypeMessage, Role: "assistant", Content: "Let me check the listing.", At: ago(49 * time.Minute),
			ToolCalls: []byte(`[{"id":"call_1","type":"function","function":{"name":"fetch_listing","arguments":"{\"id\":\"kastanienallee-12\"}"}}]`)},
		workspace.Record{Type: workspace.TypeMessage, Role: "tool", ToolCallID: "call_1", At: ago(49 * time.Minute),
			Content: `{"status":"available","rent":1450,"viewings":["Fri 17:00","Sat 11:00"]}`},
		m("assistant", "", "Yes — it is still available at €1,450 a month. Viewings are on Friday at 17:00 and Saturday at 11:00. Shall I book one?", ago(48*time.Minute)),
		m("user", "alice", "Saturday please, and remind me the evening before.", ago(20*time.Minute)),
		m("assistant", "", "Booked for Saturday 11:00. I will remind you on Friday at 19:00.", ago(19*time.Minute)),
	)
	if _, err := flat.SaveCheckpoint(ctx, "viewing-booked", "before the reminder"); err != nil {
		t.Fatal(err)
	}
	route(keying.Inbound{Channel: "slack", Account: "acme", ChatType: "channel", ChatID: "C0OPS"},
		m("user", "U123", "Is it going to rain in Rotterdam for the team lunch?", ago(3*time.Hour)),
		m("assistant", "", "Light showers until 12:00, dry from 12:30. The terrace should be fine after noon.", ago(3*time.Hour-time.Minute)))
	route(keying.Inbound{Channel: "telegram", ChatType: "group", ChatID: "-100777", SenderID: "bob"},
		m("user", "bob", "What did we decide about the cabin for Easter?", ago(26*time.Hour)),
		m("assistant", "", "You and Carla picked the cabin near Åre, 4 nights from Thursday.", ago(26*time.Hour-time.Minute)))
	route(keying.Inbound{Channel: "discord", ChatType: "channel", ChatID: "garden"},
		m("user", "dana", "When should I plant the tomatoes?", ago(4*24*time.Hour)),
		m("assistant", "", "After the last frost — mid-May where you are.", ago(4*24*time.Hour-time.Minute)))
	named, err := ts.w.Session(ctx, workspace.Target{Name: "tax-return-2026"})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := named.Append(ctx, m("user", "", "List the receipts I still need for the tax return.", ago(12*24*time.Hour)),
		workspace.Record{Type: workspace.TypeSummary, Through: 2, Text: "Receipts collected so far: rent, energy, two train tickets.", At: ago(12*24*time.Hour - time.Minute)}); err != nil {
		t.Fatal(err)
	}
	if _, err := named.Reset(ctx, ""); err != nil {
		t.Fatal(err)
	}
	for i := 0; i < 6; i++ {
		route(keying.Inbound{Channel: "whatsapp", ChatType: "direct", ChatID: fmt.Sprint("3161234", i), SenderID: fmt.Sprint("3161234", i)},
			m("user", "", fmt.Sprintf("Quick question %d about the shopping list", i+1), ago(time.Duration(30+i*20)*24*time.Hour)))
	}
	return flat
}

// TestScreenshots writes docs/screenshots/*.png with -update:
//
//	go test ./serve -run TestScreenshots -update
func TestScreenshots(t *testing.T) {
	if !*update {
		t.Skip("regenerate with: go test ./serve -run TestScreenshots -update")
	}
	now := time.Now()
	ts := newTestServer(t, &Options{Now: func() time.Time { return now }}, nil)
	flat := screenshotWorkspace(t, ts, now)
	dir := filepath.Join("..", "docs", "screenshots")
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	shot := func(ctx context.Context, name string) {
		b, err := chromedp.Run(ctx, chromedp.CaptureScreenshot())
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(dir, name), b, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	light := func(ctx context.Context) {
		if _, err := chromedp.Call(ctx, emulation.SetEmulatedMedia, emulation.SetEmulatedMediaParams{
			Features: []*emulation.MediaFeature{{Name: "prefers-color-scheme", Value: "light"}}}); err != nil {
			t.Fatal(err)
		}
	}
	open := fmt.Sprintf(`#list .item[data-id=%q]`, flat.ID())

	desk := tab(t, 1280, 800)
	light(desk)
	ts.open(t, desk)
	do(t, desk, chromedp.Click(chromedp.CSS(open)))
	waitJS(t, desk, `document.querySelectorAll('#items .rec').length > 5`, 10*time.Second)
	do(t, desk, chromedp.Evaluate[chromedp.Void](`document.querySelector('#items details').open = true`), chromedp.Sleep(300*time.Millisecond))
	shot(desk, "dashboard-desktop.png")

	do(t, desk, chromedp.SendKeys(chromedp.CSS("#search"), "berlin flat"))
	waitJS(t, desk, `document.querySelector('#hits mark') !== null`, 10*time.Second)
	do(t, desk, chromedp.Sleep(200*time.Millisecond))
	shot(desk, "dashboard-search.png")

	phone := tab(t, 390, 844)
	light(phone)
	ts.open(t, phone)
	shot(phone, "dashboard-phone.png")
	do(t, phone, chromedp.Click(chromedp.CSS(open)))
	waitJS(t, phone, `document.querySelectorAll('#items .rec').length > 5`, 10*time.Second)
	do(t, phone, chromedp.Sleep(300*time.Millisecond))
	shot(phone, "dashboard-phone-conversation.png")
}
