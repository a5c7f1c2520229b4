// Package export writes a session out as a document: Markdown or plain
// text for people, JSON or JSON Lines for programs. picosess export and the HTTP API's
// export route both write through it, so they give the same bytes.
//
//	err := export.Write(ctx, os.Stdout, s, export.Options{Format: export.Markdown})
//	err = export.Write(ctx, f, s, export.Options{Format: export.JSONL, All: true}) // streams any size
//
// It reads the session through the workspace package and writes nothing
// to disk. Markdown and text show control characters escaped (ESC as
// \x1b, termtext.Escape), fence tool results and escape message lines
// that Markdown would read as headings; JSON and JSON Lines carry the
// records as stored.
package export
