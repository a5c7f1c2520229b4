// Package keying decides which messages share one conversation: it builds a
// Scope from an inbound message and a Policy, derives the canonical
// signature and the opaque sk_v1_ session id (byte-compatible with
// PicoClaw v1), resolves identity links and dispatch rules, parses every
// legacy session-key shape and generates the legacy aliases of a route.
//
// It is pure: no I/O, no global state.
//
//	p := keying.Policy{Dimensions: []string{"chat"}}
//	r, err := keying.Resolve("main", keying.Inbound{Channel: "telegram", ChatType: "direct", ChatID: "42"}, p)
//	// r.ID == "sk_v1_..." names sessions/<id>.jsonl
package keying
