// Package workspace stores chat sessions as append-only JSON Lines files
// that several processes write at once, reads them back from the tail, and
// finds, lists, checks and repairs them.
//
//	w, err := workspace.Open(dir, nil) // reads dir/config.json; durability "always", lock timeout 10s
//	in := keying.Inbound{Channel: "telegram", ChatType: "direct", ChatID: "42", SenderID: "42"}
//	s, err := w.SessionFor(ctx, "", in) // routed by the config; sessions/<id>.jsonl made on first use
//	turn, err := s.AppendTurn(ctx, // one locked write; resets (/new, idle, daily) applied
//		workspace.UserMessage("42", "hi"),
//		workspace.AssistantMessage("gpt-5", "hello"))
//	h, err := s.History(ctx, 50) // the active history's last 50 messages, read from the tail
//	seqs, err := s.Update(ctx, func(h workspace.History) ([]workspace.Record, error) { ... }) // under the lock
//	s, err = w.Lookup(ctx, "sk_v1_67fe19a8") // id, prefix, id:seq, signature, alias, name or title
//
// # Files it owns (docs/format.md has every record type)
//
//	<root>/config.json                    read by Open (docs/config.md); never written
//	<root>/sessions/<id>.jsonl            one session: a header line, then records; append-only
//	<root>/sessions/<id>.jsonl.torn-<t>   bytes of a torn tail set aside (by an append or repair)
//	<root>/sessions/<id>.jsonl.corrupt-<t> corrupt lines set aside by repair
//	<root>/sessions/<id>.jsonl.repair     a repair's new file before its rename
//	<root>/sessions/<id>.jsonl.convert    Convert's (encrypt/decrypt/rekey) new file before its rename
//	<root>/encryption.json                encrypted workspaces: the key id, a passphrase's salt
//	<root>/sessions/.trash/<id>[.<t>].jsonl deleted sessions, until purged
//	<root>/locks/<id>.lock                flock target; first line names the holder; never deleted
//	<root>/cache/                         listing metadata (listing.log; meta/<id>.json per session
//	                                      read alone): derived, safe to delete
//
// # API by task
//
//   - Open, Close; Options (Durability, LockTimeout, Logger, CountTokens,
//     FS, Now, Config, NoConfig, Location); the zero value works.
//   - Routing: Route, SessionFor (the config's dimensions, dm_scope,
//     identity links and dispatch rules); SessionForRoute; Session(ctx,
//     Target) creates or opens by id, scope or name; OpenID.
//   - Finding: Lookup / LookupRef resolve a SESSION reference
//     deterministically (ErrAmbiguous with the candidates, ErrNotFound).
//   - Writing: AppendTurn (a turn, with the lifecycle policy); Append (records
//     as given: imports, tools); Update and AppendIf (decide under the
//     lock); message constructors UserMessage, AssistantMessage,
//     SystemMessage, ToolCallMessage, ToolResult (WithUsage: the token usage
//     the model reported); AddAliases; SetSummary,
//     KeepLast.
//   - Reading (no lock): History (active history, tail read), Summary,
//     Active (within the limits), Segments (all conversations), HistoryPage,
//     Records (streaming from a byte offset, with End offsets for an
//     indexer), ReadAll, Header, Meta, Identity.
//   - Lifecycle: SetTitle, Reset, Clear, SaveCheckpoint, Checkpoints,
//     RestoreCheckpoint, DeleteCheckpoint, Delete (to the trash),
//     Workspace.Trash, RestoreFromTrash, Purge; Policy and MaySend say what
//     the config's resets and send policy decide.
//   - Listing: Workspace.List (ListOptions: agent, channel, since, limit).
//   - Stores: Options.Store keeps the records in a Store shared by several
//     machines instead of sessions/ (workspace/redisstore; docs/redis.md):
//     every API above works on it; Repair and Convert refuse
//     (ErrStoreUnsupported); CopySession copies between two workspaces of
//     either kind; WithAppendToken makes a retried append land once.
//   - Health: Workspace.Check / Session.Check (read-only FileReports),
//     Workspace.Repair / Session.Repair (RepairOptions{DryRun}).
//   - Encryption (docs/encryption.md): Options.Key and the config's
//     encryption block seal each record's sensitive fields (package seal);
//     every read API opens them; Workspace.Convert encrypts, rekeys or
//     decrypts; ErrKeyRequired, ErrWrongKey, ErrTampered, *SealError.
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
