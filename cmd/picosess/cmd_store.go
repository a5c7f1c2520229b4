package main

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"sort"

	"github.com/picosess/picosess/workspace"
	"github.com/picosess/picosess/workspace/config"
	"github.com/spf13/cobra"
)

// storeCopyOutput is the --json shape of store copy (docs/cli.md).
type storeCopyOutput struct {
	From     string                 `json:"from"`
	To       string                 `json:"to"`
	Sessions []workspace.CopyReport `json:"sessions"`
	Records  int                    `json:"records"`
	Copied   int                    `json:"copied"`
	// Trash: the deleted sessions, copied under their trash names.
	Trash        []workspace.TrashCopyReport `json:"trash"`
	TrashRecords int                         `json:"trash_records"`
	TrashCopied  int                         `json:"trash_copied"` // entries written now
	Failed       []storeCopyFailureOutput    `json:"failed"`
}

type storeCopyFailureOutput struct {
	ID    string `json:"id"`
	Trash string `json:"trash,omitempty"` // a trash entry's name
	Error string `json:"error"`
}

func newStoreCmd(a *app) *cobra.Command {
	c := &cobra.Command{
		Use:   "store",
		Short: "Move a workspace's sessions between the files and Redis",
	}
	var from, to string
	cp := &cobra.Command{
		Use:   "copy --from DIR|URL --to DIR|URL",
		Short: "Copy every session and the trash from one store to another, verified record by record",
		Long: `Copy every live session of a workspace from one store to another: a workspace
directory (the files) or a Redis URL (redis://host:port/db; docs/redis.md), in
either direction. Each session's lines are copied byte for byte, so a file
workspace and its copy in Redis export identically.

The copy is resumable and idempotent: a session the destination holds already
must hold the start of the source's records (else it is reported and left as
it is), and only the rest is written; run it again after an interruption and it
finishes, run it once more and it writes nothing. After writing, every record
of the destination is read back and compared with the source's.

The trash is copied too, each deleted session under its trash name, so that
rm --restore works on the destination; an entry there already must be byte
for byte the source's. A copy into files counts as deleted when it was
copied (cleanup.purge_after starts again). Not copied: config.json, the
search index (rebuild it with reindex) and encryption.json (copy it
yourself to a new workspace directory of an encrypted workspace).

EXIT STATUS
  0 every session copied and verified; 3 some sessions were not (listed);
  10 --from is not a workspace; 14 Redis cannot be reached.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if from == "" || to == "" {
				return usageErrorf("store copy needs --from and --to (a directory or redis://...)")
			}
			if from == to {
				return usageErrorf("--from and --to are the same: %s", from)
			}
			return a.storeCopy(cmd.Context(), from, to)
		},
	}
	cp.Flags().StringVar(&from, "from", "", "source: a workspace directory or redis://host:port/db")
	cp.Flags().StringVar(&to, "to", "", "destination: a workspace directory or redis://host:port/db")
	c.AddCommand(cp)
	return c
}

// openEnd opens one end of a copy: a directory, or a Redis URL (with a
// scratch directory for the workspace's local files).
func (a *app) openEnd(ctx context.Context, where string, source bool) (*workspace.Workspace, string, func(), error) {
	o := &workspace.Options{NoConfig: true, Logger: a.logger(), LockTimeout: a.lockTimeout}
	if !isStoreURL(where) {
		o.NoCreate = source
		w, err := workspace.Open(where, o)
		if err != nil {
			return nil, "", nil, err
		}
		if source {
			if _, err := os.Stat(where + "/" + workspace.SessionsDir); err != nil {
				w.Close()
				return nil, "", nil, fmt.Errorf("%w: %s has no %s/ directory", workspace.ErrNotWorkspace, where, workspace.SessionsDir)
			}
		}
		return w, w.Root(), func() { w.Close() }, nil
	}
	var cfg *config.File
	if c, err := a.loadConfig(); err == nil {
		cfg = c
	}
	spec := config.Store{Kind: config.StoreRedis, URL: where}
	if cfg != nil && cfg.Store.Kind == config.StoreRedis {
		spec = cfg.Store
		spec.URL = where
	}
	st, err := openStoreSpec(ctx, spec, map[bool]string{true: "--from", false: "--to"}[source], a.getenv)
	if err != nil {
		return nil, "", nil, err
	}
	dir, err := os.MkdirTemp("", "picosess-store-copy-")
	if err != nil {
		st.Close()
		return nil, "", nil, err
	}
	o.Store = st
	w, err := workspace.Open(dir, o)
	if err != nil {
		st.Close()
		os.RemoveAll(dir)
		return nil, "", nil, err
	}
	return w, st.Addr(), func() { w.Close(); st.Close(); os.RemoveAll(dir) }, nil
}

func (a *app) storeCopy(ctx context.Context, from, to string) error {
	src, srcName, closeSrc, err := a.openEnd(ctx, from, true)
	if err != nil {
		return err
	}
	defer closeSrc()
	dst, dstName, closeDst, err := a.openEnd(ctx, to, false)
	if err != nil {
		return err
	}
	defer closeDst()
	files, err := src.SessionFiles(ctx)
	if err != nil {
		return err
	}
	sort.Slice(files, func(i, j int) bool { return files[i].ID < files[j].ID })
	trash, err := src.Trash(ctx)
	if err != nil && !errors.Is(err, fs.ErrNotExist) {
		return err
	}
	out := storeCopyOutput{From: srcName, To: dstName, Sessions: []workspace.CopyReport{}, Trash: []workspace.TrashCopyReport{}, Failed: []storeCopyFailureOutput{}}
	for _, f := range files {
		if err := ctx.Err(); err != nil {
			return err
		}
		rep, err := workspace.CopySession(ctx, src, dst, f.ID)
		if err != nil {
			if _, code := classify(ctx, err); code == codeStoreUnavailable || code == codeInterrupted {
				return err // nothing more can be done now; run it again
			}
			out.Failed = append(out.Failed, storeCopyFailureOutput{ID: f.ID, Error: err.Error()})
			fmt.Fprintf(a.stderr, "%s: not copied: %v\n", shortID(f.ID), err)
			continue
		}
		out.Sessions = append(out.Sessions, rep)
		out.Records += rep.Records
		out.Copied += rep.Copied
	}
	for _, t := range trash {
		if err := ctx.Err(); err != nil {
			return err
		}
		rep, err := workspace.CopyTrashed(ctx, src, dst, t)
		if err != nil {
			if _, code := classify(ctx, err); code == codeStoreUnavailable || code == codeInterrupted {
				return err
			}
			out.Failed = append(out.Failed, storeCopyFailureOutput{ID: t.ID, Trash: t.Name, Error: err.Error()})
			fmt.Fprintf(a.stderr, "trash %s: not copied: %v\n", t.Name, err)
			continue
		}
		if rep.TornBytes > 0 {
			fmt.Fprintf(a.stderr, "trash %s: its last %d bytes are an unfinished line (a crash before the deletion): not copied\n", t.Name, rep.TornBytes)
		}
		out.Trash = append(out.Trash, rep)
		out.TrashRecords += rep.Records
		if rep.Copied {
			out.TrashCopied++
		}
	}
	if a.jsonOut {
		if err := a.writeJSON(out); err != nil {
			return err
		}
	} else {
		fmt.Fprintf(a.stdout, "%d sessions, %d records verified in %s (%d records written now)\n", len(out.Sessions), out.Records, dstName, out.Copied)
		fmt.Fprintf(a.stdout, "trash: %d deleted sessions, %d records verified (%d entries written now)\n", len(out.Trash), out.TrashRecords, out.TrashCopied)
	}
	if len(out.Failed) > 0 {
		return &exitError{code: exitRepairable, msg: fmt.Sprintf("%d of %d sessions and trash entries not copied", len(out.Failed), len(files)+len(trash))}
	}
	return nil
}
