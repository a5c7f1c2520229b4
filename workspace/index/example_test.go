package index_test

import (
	"context"
	"fmt"
	"os"
	"time"

	"github.com/picosess/picosess/keying"
	"github.com/picosess/picosess/workspace"
	"github.com/picosess/picosess/workspace/index"
)

// Search every conversation of a workspace. The index lives in
// <root>/index/ and catches up with the session files on each call, so a
// message appended a moment ago is found; nothing has to be indexed by
// hand. Plain words are all required; field:value filters by role,
// sender, channel...
func Example() {
	ctx := context.Background()
	dir, err := os.MkdirTemp("", "picosess-example-")
	if err != nil {
		panic(err)
	}
	defer os.RemoveAll(dir)
	now := time.Date(2026, 2, 16, 8, 0, 0, 0, time.UTC)
	clock := func() time.Time { now = now.Add(time.Hour); return now } // an hour passes at each call
	w, err := workspace.Open(dir, &workspace.Options{Now: clock})
	if err != nil {
		panic(err)
	}
	defer w.Close()

	for _, c := range []struct{ chat, user, reply string }{
		{"42", "Remind me what time the dentist is on Friday", "The dentist is on Friday at 11:00."},
		{"43", "Is the dentist open on Saturday?", "No, only on weekdays."},
	} {
		s, err := w.SessionFor(ctx, "", keying.Inbound{Channel: "telegram", ChatType: "direct", ChatID: c.chat, SenderID: c.chat})
		if err != nil {
			panic(err)
		}
		for _, m := range []workspace.Record{workspace.UserMessage(c.chat, c.user), workspace.AssistantMessage("", c.reply)} {
			if _, err := s.AppendTurn(ctx, m); err != nil {
				panic(err)
			}
		}
	}

	x, err := index.Open(w, nil)
	if err != nil {
		panic(err)
	}
	defer x.Close()
	for _, q := range []string{"dentist friday", "dentist role:user", `dentist -friday`} {
		res, err := x.Search(ctx, index.Query{Text: q, Sort: index.SortTime}) // newest first (by the hour, then seq)
		if err != nil {
			panic(err)
		}
		fmt.Printf("%s: %d\n", q, res.Total)
		for _, h := range res.Hits {
			who := h.Role
			if h.Sender != "" {
				who += " " + h.Sender
			}
			fmt.Printf("  %s #%d %s: %s\n", h.Time.Format("15:04"), h.Seq, who, h.Snippet)
		}
	}
	// Output:
	// dentist friday: 2
	//   11:00 #3 assistant: The **dentist** is on **Friday** at 11:00.
	//   10:00 #2 user 42: Remind me what time the **dentist** is on **Friday**
	// dentist role:user: 2
	//   13:00 #2 user 43: Is the **dentist** open on Saturday?
	//   10:00 #2 user 42: Remind me what time the **dentist** is on Friday
	// dentist -friday: 1
	//   13:00 #2 user 43: Is the **dentist** open on Saturday?
}
