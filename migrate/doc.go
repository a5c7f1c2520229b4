// Package migrate reads the session stores of older assistants (PicoClaw
// of every era, OpenClaw and its earlier names Clawdbot, Moltbot and
// Clawdis, PocketPaw) and brings them into a picosess workspace.
//
//	res, err := migrate.Read(ctx, "/home/alice/.picoclaw", migrate.Options{}) // detects the system
//	for _, s := range res.Sources { // one legacy conversation each, records in order
//		fmt.Println(s.Key, s.Messages(), len(s.SetAside))
//	}
//	for _, f := range res.Files { // every file walked, in exactly one class
//		fmt.Println(f.Path, f.Class, f.Reason)
//	}
//	plan, err := migrate.NewPlan(ctx, dir, ws, migrate.PlanOptions{})          // ids, actions; nothing written
//	rep, err := migrate.Apply(ctx, ws, plan, migrate.ApplyOptions{ReportDir: rd}) // locked appends, then Verify
//	_ = rep.Write(rd)                                                          // report.json, report.txt
//
// # What it reads (docs/migration.md has the details)
//
//   - PicoClaw: <raw key>.json (P0-P3), <stem>.jsonl + <stem>.meta.json
//     (P4, P5), .json.migrated and .meta.json.migrated copies, session-*.tmp
//     and .tmp-<pid>-<nanos> temp files, sk_v1_ sessions with their scope and
//     aliases; every sessions dir below the root (sessions/,
//     workspace/sessions/, workspace-<agent>/sessions/).
//   - OpenClaw: sessions.json stores (JSON5-ish; .bak and .tmp snapshots too),
//     pi-mono transcripts v1/v2/v3 (active branch; side branches apart),
//     .reset./.deleted. archives, checkpoint and repair copies, orphans
//     (linked to their key by their envelopes' channel and peer and by
//     time, else kept as archived sessions).
//   - PocketPaw: memory/sessions/<safe>.json arrays, _index.json titles,
//     _aliases.json (/new generations), <safe>_compaction.json summaries.
//
// # Guarantees
//
// Sources are opened read-only and never changed. The copies of one
// conversation (JSON-era files and their leftovers, JSONL, promoted
// copies, checkpoint and repair copies) become one timeline: an
// order-preserving alignment anchored on messages unique in each copy,
// the older copy's own messages before the newer's in each gap unless
// times say otherwise, and a warning where the order was not decided. Damaged input is
// salvaged line by line (glued and torn lines, truncated arrays, stray
// bytes): what parses is kept and the rest is returned as SetAside, with
// path, line, offset and the bytes themselves. Results are deterministic:
// everything whose order came from a directory listing or a map is sorted.
// Times are UTC; naive PocketPaw times are read in Options.Location.
//
// # Files it owns
//
// None in the workspace: Apply writes sessions only through the workspace
// API (locked appends). In the report directory it is given:
//
//	<report dir>/set-aside/<path, / as __>@<offset>.bin   bytes of damaged input (Apply)
//	<report dir>/report.json, report.txt                  the report (Report.Write)
package migrate
