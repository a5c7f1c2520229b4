package summarize

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"
)

func gardenRequest() Request {
	return Request{
		Previous: "user: The user lives in Lisbon and grows tomatoes on a balcony.",
		Messages: []Input{
			{Seq: 2, Role: "user", Text: "Hi! How often should I water the tomatoes in August? Lisbon gets very hot."},
			{Seq: 3, Role: "assistant", Text: "Ok. In August water the tomatoes every morning, deeply. Mulch keeps the soil moist. Sure thing."},
			{Seq: 4, Role: "user", Text: "Thanks. Also, what about the basil next to the tomatoes?"},
			{Seq: 5, Role: "assistant", Text: "Basil likes the same schedule as the tomatoes but less water at the roots."},
			{Seq: 6, Role: "assistant", Tool: "weather", Text: "called weather({\"city\":\"Lisbon\"})"},
			{Seq: 7, Role: "tool", Tool: "weather", Text: "weather returned: Lisbon 34C sunny, no rain until 2026-08-20."},
			{Seq: 8, Role: "assistant", Text: "It will stay hot and dry in Lisbon until August 20, so keep watering daily."},
			{Seq: 9, Role: "user", Text: "ok"},
		},
		TargetTokens: 80,
	}
}

func TestExtractiveIsDeterministicWithinBudgetAndInOrder(t *testing.T) {
	c := tk(t)
	e := Extractive{Counter: c}
	req := gardenRequest()
	a, err := e.Summarize(context.Background(), req)
	if err != nil {
		t.Fatal(err)
	}
	for i := 0; i < 5; i++ {
		b, _ := e.Summarize(context.Background(), req)
		if b.Text != a.Text {
			t.Fatalf("not deterministic:\n%s\n---\n%s", a.Text, b.Text)
		}
	}
	if n := c.Count(a.Text); n > req.TargetTokens {
		t.Fatalf("summary has %d tokens, budget %d:\n%s", n, req.TargetTokens, a.Text)
	}
	if a.By != "extractive" {
		t.Fatalf("by %q", a.By)
	}
	// Lines keep the order of the conversation.
	last := -1
	for _, line := range strings.Split(a.Text, "\n") {
		i := strings.Index(fullText(req), strings.TrimPrefix(strings.SplitN(line, ": ", 2)[1], ""))
		if i < 0 {
			t.Fatalf("line not from the input: %q", line)
		}
		if i < last {
			t.Fatalf("out of order: %q\n%s", line, a.Text)
		}
		last = i
	}
	// Informative sentences win over filler.
	if strings.Contains(a.Text, "Sure thing") || strings.Contains(a.Text, "user: ok") {
		t.Fatalf("filler kept:\n%s", a.Text)
	}
	if !strings.Contains(a.Text, "Lisbon") || !strings.Contains(a.Text, "tomatoes") {
		t.Fatalf("topic words lost:\n%s", a.Text)
	}
	if !strings.Contains(a.Text, "The user lives in Lisbon") {
		t.Fatalf("previous summary not carried:\n%s", a.Text)
	}
}

func fullText(req Request) string {
	var b strings.Builder
	b.WriteString(req.Previous)
	for _, m := range req.Messages {
		b.WriteString("\n" + m.Text)
	}
	return b.String()
}

func TestExtractiveBudgetGrowsTheSummary(t *testing.T) {
	e := Extractive{}
	req := gardenRequest()
	prev := 0
	for _, budget := range []int{20, 60, 200} {
		req.TargetTokens = budget
		res, err := e.Summarize(context.Background(), req)
		if err != nil {
			t.Fatal(err)
		}
		n := (Estimate{}).Count(res.Text)
		if n > budget || n < prev {
			t.Fatalf("budget %d: %d tokens (previous %d)", budget, n, prev)
		}
		prev = n
	}
}

func TestExtractiveTinyBudgetCutsTheBestSentence(t *testing.T) {
	req := Request{Messages: []Input{{Seq: 2, Role: "user", Text: words(200)}}, TargetTokens: 10}
	res, err := Extractive{}.Summarize(context.Background(), req)
	if err != nil || res.Text == "" || (Estimate{}).Count(res.Text) > 10 {
		t.Fatalf("got %q, %v", res.Text, err)
	}
}

func TestExtractiveNothingToSay(t *testing.T) {
	_, err := Extractive{}.Summarize(context.Background(), Request{Messages: []Input{{Role: "user", Text: "  "}}})
	if !errors.Is(err, ErrEmptySummary) {
		t.Fatalf("got %v", err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if _, err := (Extractive{}).Summarize(ctx, gardenRequest()); !errors.Is(err, context.Canceled) {
		t.Fatalf("cancelled: %v", err)
	}
}

// conversation makes n condensed messages of varied, realistic text.
func conversation(n int) Request {
	topics := []string{"the Lisbon trip", "tomato watering", "the quarterly report", "Bob's birthday", "the VPN outage"}
	req := Request{Previous: "The user is planning several things at once.", TargetTokens: DefaultSummaryTokens}
	for i := 0; i < n; i++ {
		topic := topics[i%len(topics)]
		var m Input
		switch i % 4 {
		case 0:
			m = Input{Role: "user", Text: fmt.Sprintf("Can you check %s again? I need it by day %d. It matters a lot.", topic, i)}
		case 1:
			m = Input{Role: "assistant", Tool: "search", Text: fmt.Sprintf(`called search({"q":"%s"})`, topic)}
		case 2:
			m = Input{Role: "tool", Tool: "search", Text: fmt.Sprintf("search returned: %d notes mention %s; latest from 2026-04-%02d says it is on track.", i, topic, i%28+1)}
		default:
			m = Input{Role: "assistant", Text: fmt.Sprintf("I checked %s. It is on track for day %d. Nothing else changed, and I will remind you tomorrow.", topic, i)}
		}
		m.Seq = int64(i + 2)
		req.Messages = append(req.Messages, m)
	}
	return req
}

func BenchmarkExtractive200(b *testing.B) {
	req := conversation(200)
	for _, c := range []Counter{Estimate{}, tk(b)} {
		b.Run(c.Name(), func(b *testing.B) {
			e := Extractive{Counter: c}
			for b.Loop() {
				if _, err := e.Summarize(context.Background(), req); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
