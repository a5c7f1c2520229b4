// Package policy holds the lifecycle decisions of picosess as pure
// functions: which reset settings apply to a session (the cascade of
// config.json), whether an arriving message starts a new conversation and
// why, and whether an assistant may send into a session. Nothing here
// reads a file or a clock: callers pass the session's state and the time,
// so tests call the decisions directly and every caller (append, the
// policy command, serve) asks the same question the same way.
//
//	eff := policy.Resolve(cfg, policy.Target{Agent: "main", Channel: "telegram", ChatType: "direct"})
//	d := policy.Evaluate(eff, policy.State{LastMessage: last}, policy.Arrival{Role: "user", Text: "hi", At: now})
//	if d.Reset { ... write a reset record with d.Reason and d.Rule before the message ... }
//
// # Files it owns
//
// None: it reads nothing and writes nothing; the workspace applies its
// decisions when it appends.
package policy
