package keying

import (
	"fmt"
	"testing"
)

// benchPolicy: 3 dimensions, identity links for 50 people, 20 dispatch
// rules of which none matches the benchmark message until the last.
func benchPolicy() Policy {
	links := IdentityLinks{}
	for i := 0; i < 50; i++ {
		links[fmt.Sprintf("user%02d", i)] = []string{fmt.Sprintf("telegram:%d", 1000+i), fmt.Sprintf("slack:u%d", i)}
	}
	var rules []Rule
	for i := 0; i < 19; i++ {
		rules = append(rules, Rule{Name: fmt.Sprintf("r%d", i), When: When{Channel: "discord", Chat: fmt.Sprintf("group:%d", i)}, Agent: "a"})
	}
	rules = append(rules, Rule{Name: "last", When: When{Channel: "telegram", Sender: "user07"}, SessionDimensions: []string{"chat", "topic", "sender"}})
	return Policy{Dimensions: []string{"chat", "topic", "sender"}, IdentityLinks: links, Rules: rules}
}

var benchInbound = Inbound{Channel: "telegram", ChatType: "group", ChatID: "-1001234567890", TopicID: "42", SenderID: "1007"}

// BenchmarkResolve is the hot path of a gateway: one prepared Resolver,
// one route per inbound message.
func BenchmarkResolve(b *testing.B) {
	r, err := NewResolver(benchPolicy())
	if err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	for b.Loop() {
		rt, _ := r.Resolve("main", benchInbound)
		if rt.MatchedBy != "dispatch.rule:last" {
			b.Fatal(rt.MatchedBy)
		}
	}
}

// BenchmarkResolveUnprepared includes validating and compiling the policy
// on every call (keying.Resolve).
func BenchmarkResolveUnprepared(b *testing.B) {
	p := benchPolicy()
	b.ReportAllocs()
	for b.Loop() {
		if _, err := Resolve("main", benchInbound, p); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkOpaque(b *testing.B) {
	s := "v=1|agent=main|channel=telegram|account=default|chat=group:-1001234567890|topic=topic:42|sender=user07"
	b.ReportAllocs()
	for b.Loop() {
		_ = Opaque(s)
	}
}

func BenchmarkParseLegacy(b *testing.B) {
	b.ReportAllocs()
	for b.Loop() {
		if _, err := ParseLegacy("agent:main:telegram:group:-1001234567890/42"); err != nil {
			b.Fatal(err)
		}
	}
}
