// Package workspace stores chat sessions as append-only JSON Lines files
// that several processes write at once, reads them back from the tail, and
// finds, lists, checks and repairs them.
//
//	w, err := workspace.Open(dir, nil) // durability "always", lock timeout 10s
//	route, _ := keying.Resolve("main", in, policy)
//	s, err := w.SessionForRoute(ctx, route) // creates sessions/<id>.jsonl with its header
//	seqs, err := s.Append(ctx,
//		workspace.Record{Type: workspace.TypeMessage, Role: workspace.RoleUser, Sender: "alice", Content: "hi"},
//		workspace.Record{Type: workspace.TypeMessage, Role: workspace.RoleAssistant, Content: "hello"})
//	h, err := s.History(ctx, 50) // the active history's last 50 messages, read from the tail
//	list, err := w.List(ctx, workspace.ListOptions{Agent: "main"})
//	s, err = w.Lookup(ctx, "agent:main:telegram:direct:42") // id, prefix, signature, alias or name
//
// # Files it owns (docs/format.md has every record type)
//
//	<root>/sessions/<id>.jsonl            one session: a header line, then records; append-only
//	<root>/sessions/<id>.jsonl.torn-<t>   bytes of a torn tail set aside (by an append or repair)
//	<root>/sessions/<id>.jsonl.corrupt-<t> corrupt lines set aside by repair
//	<root>/sessions/<id>.jsonl.repair     a repair's new file before its rename
//	<root>/sessions/.trash/<id>[.<t>].jsonl deleted sessions, until purged
//	<root>/locks/<id>.lock                flock target; first line names the holder; never deleted
//	<root>/cache/sessions.json            listing metadata: derived, safe to delete
//
// # API by task
//
//   - Open, Close; Options (Durability, LockTimeout, Logger, CountTokens, FS, Now).
//   - Sessions: Session(ctx, Target) creates or opens; SessionForRoute; OpenID;
//     Lookup(ctx, ref) resolves a reference deterministically (ErrAmbiguous, ErrNotFound).
//   - Writing: Session.Append (one record or a whole turn, one write, consecutive seqs).
//   - Reading (no lock): History (active history, tail read), Segments (all
//     conversations), Records (streaming from a byte offset, with End offsets
//     for an indexer), ReadAll, Header, Identity (size, inode, mtime to detect
//     a file that shrank or was replaced).
//   - Lifecycle: SetTitle, Reset, Clear, SaveCheckpoint, Checkpoints,
//     RestoreCheckpoint, DeleteCheckpoint, Delete (to the trash),
//     Workspace.Trash, RestoreFromTrash, Purge.
//   - Listing: Workspace.List (ListOptions: agent, channel, since, limit), Session.Meta.
//   - Health: Workspace.Check / Session.Check (read-only FileReports),
//     Workspace.Repair / Session.Repair (RepairOptions{DryRun}).
//
// # Concurrency and crash safety
//
// An append takes the session's in-process semaphore, then an exclusive
// flock on locks/<id>.lock (bounded by LockTimeout; a *LockedError names the
// holder), sets a torn tail aside, writes all its records in one write and
// fsyncs per Durability (always; batch = group commit, queued appends share
// one write and one fsync; never). Readers take no lock and ignore a last
// line without its newline. docs/crash-safety.md walks through every crash
// window; docs/format.md describes every record type.
//
// The package builds on Linux and macOS (flock(2), /proc/locks where there
// is one).
//
// The package never imports bleve: search lives in workspace/index.
package workspace
