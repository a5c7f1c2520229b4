// Package keying decides which messages share one conversation: it builds a
// Scope from an inbound message and a Policy, derives the canonical
// signature and the opaque sk_v1_ session id (byte-compatible with
// PicoClaw v1), resolves identity links and dispatch rules, parses every
// legacy session-key shape and generates the legacy aliases of a route.
//
//	res, err := keying.NewResolver(keying.Policy{Dimensions: []string{"chat"}}) // once; safe for concurrent use
//	in := keying.Inbound{Channel: "telegram", ChatType: "direct", ChatID: "123456789", SenderID: "123456789"}
//	r, err := res.Resolve("main", in)
//	// r.Signature == "v=1|agent=main|channel=telegram|account=default|chat=direct:123456789"
//	// r.ID == "sk_v1_67fe19a8…" names sessions/<id>.jsonl; r.Aliases are its legacy keys
//	lk, err := keying.ParseLegacy("agent:main:telegram:direct:123456789") // what an old key says
//
// An assistant normally routes through workspace.Workspace.SessionFor,
// which applies the workspace config's policy; docs/keys.md has the rules
// and the golden vectors.
//
// It is pure: no I/O, no global state, and it owns no files on disk.
package keying
