package main

import (
	"encoding/json"
	"fmt"
	"time"

	"github.com/picosess/picosess/workspace/index"
	"github.com/schollz/progressbar/v3"
	"github.com/spf13/cobra"
)

// reindexOutput is the --json result of reindex on stdout (docs/cli.md).
type reindexOutput struct {
	Sessions int     `json:"sessions"`
	Records  int64   `json:"records"`
	Messages int64   `json:"messages"`
	Bytes    int64   `json:"bytes"`
	Seconds  float64 `json:"seconds"`
}

func newReindexCmd(a *app) *cobra.Command {
	return &cobra.Command{
		Use:   "reindex",
		Short: "Rebuild the search index from every session file",
		Long: `Delete <workspace>/index/ and build it again from the session files.

The index is derived data: searches keep it current by themselves and
rebuild it when it is missing or damaged, so reindex is only needed to
start afresh (it is what repair does for a damaged index).

Progress goes to stderr: a progress bar on a terminal; with --json, one JSON
object per line ({"sessions":..,"sessions_done":..,"bytes":..,"bytes_done":..,
"records":..,"docs":..}). The result goes to stdout: a line of text, or with
--json one object (docs/cli.md).

EXIT STATUS
  0 rebuilt; 1 failure; 10 not a workspace; 11 the index is held by another
  process (named); 12 the index directory cannot be written here (named,
  with the reason); 130 interrupted.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			w, err := a.openWorkspace()
			if err != nil {
				return err
			}
			defer w.Close()
			indexMemoryLimit()
			x, err := index.Open(w, &index.Options{LockTimeout: a.lockTimeout, Logger: a.logger()})
			if err != nil {
				return err
			}
			defer x.Close()
			var progress func(index.Progress)
			var bar *progressbar.ProgressBar
			switch {
			case a.jsonOut:
				enc := json.NewEncoder(a.stderr)
				progress = func(p index.Progress) { _ = enc.Encode(p) }
			case isTerminal(a.stderr):
				progress = func(p index.Progress) {
					if bar == nil {
						bar = progressbar.NewOptions64(p.Bytes, progressbar.OptionSetWriter(a.stderr),
							progressbar.OptionSetDescription("indexing"), progressbar.OptionShowBytes(true),
							progressbar.OptionThrottle(100*time.Millisecond), progressbar.OptionClearOnFinish())
					}
					_ = bar.Set64(p.BytesDone)
				}
			}
			st, err := x.Rebuild(cmd.Context(), progress)
			if bar != nil {
				_ = bar.Finish()
			}
			if err != nil {
				return err
			}
			out := reindexOutput{Sessions: st.Sessions, Records: st.Records, Messages: st.Docs, Bytes: st.Bytes, Seconds: st.Took.Seconds()}
			if a.jsonOut {
				return a.writeJSON(out)
			}
			fmt.Fprintf(a.stdout, "indexed %d messages from %d sessions in %s\n", out.Messages, out.Sessions, st.Took.Round(time.Millisecond))
			return nil
		},
	}
}
