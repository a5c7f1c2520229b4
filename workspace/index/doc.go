// Package index is the full-text search index of a workspace: a bleve index
// in <root>/index/, derived from the session files and disposable.
//
//	x, err := index.Open(ws, nil) // lock timeout: the workspace's
//	defer x.Close()
//	res, err := x.Search(ctx, index.Query{Text: `"berlin flat" -sold`,
//		Filter: index.Filter{Sender: "alice", Since: time.Now().AddDate(0, -1, 0)}})
//	for _, h := range res.Hits { fmt.Println(h.ID, h.Title, h.Snippet) }
//	hits, err := x.Recall(ctx, index.Filter{Sender: "alice"}, "where does she live", 5)
//	rep, err := index.Check(ctx, ws)              // read-only: damaged? behind?
//	st, err := index.Rebuild(ctx, ws, progressFn) // what repair and reindex do
//
// # Files it owns
//
//	<root>/index/                          bleve (scorch) index; delete it at will
//	<root>/index/picosess-verified.json    segment files whose checksum was verified
//	<root>/index/picosess-state.bolt       watermarks, one key per session; session numbers; the change state
//	<root>/locks/index.lock                flock: one owner of index/ at a time
//
// It reads <root>/cache/changes, the change journal that appends write
// (workspace/journal.go), and empties it when it grows past 1 MB.
//
// # How it stays current
//
// Every operation takes locks/index.lock (bounded by the lock timeout; a
// *workspace.LockedError names the holder), opens the index and first
// catches up with the session files that changed: those named by the
// change journal since its cursor, those the sessions directory's names and
// inodes show created, deleted or replaced, and every file at a periodic
// full rescan (changes.go). Each is read from its watermark (offset, file
// identity, title, segment), stored in picosess-state.bolt after the batch
// of documents it accounts for. A file that shrank or was replaced is read
// again whole; a deleted one has its documents removed. So a search finds
// every record appended before it began without a stat per session, and
// appending never touches the index. A damaged index (a segment whose checksum fails, a bolt file that
// will not open, a panic while reading) is deleted and rebuilt.
//
// # Queries
//
// Query.Text is a search box's language, parsed by ParseQuery into bleve
// queries: every word required, word OR word, -excluded, "a phrase",
// prefix*, field:value on the keyword fields (FieldNames); Query.Any makes
// the words alternatives. A malformed text is a *QueryError naming the
// column.
//
// docs/search.md describes the mapping, the analyzer, the query syntax and
// the recovery rules. The analyzer is registered with bleve's registry at
// init, so that a stored mapping naming it can be opened.
package index
