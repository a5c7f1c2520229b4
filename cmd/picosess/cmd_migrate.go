package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/picosess/picosess/keying"
	"github.com/picosess/picosess/migrate"
	"github.com/picosess/picosess/workspace"
	"github.com/spf13/cobra"
)

// migrateOptions are the flags of migrate.
type migrateOptions struct {
	from      string
	source    string
	config    string
	dryRun    bool
	yes       bool
	verify    bool
	force     bool
	sourceTZ  string
	reportDir string
}

// MigrationsDir is where migrate writes its reports inside the workspace
// unless --report is given: migrations/<UTC stamp>-<system>/.
const MigrationsDir = "migrations"

// migratePlanOutput is the --json shape of migrate --dry-run, and of the
// plan printed before a refusal (docs/cli.md).
type migratePlanOutput struct {
	DryRun    bool                   `json:"dry_run"`
	Workspace string                 `json:"workspace"`
	Messages  int                    `json:"messages"`
	Actions   map[migrate.Action]int `json:"actions"`
	*migrate.Plan
}

// migrateApplyOutput is the --json shape of migrate (applied).
type migrateApplyOutput struct {
	Workspace string `json:"workspace"`
	ReportDir string `json:"report_dir"`
	*migrate.Report
}

// migrateVerifyOutput is the --json shape of migrate --verify.
type migrateVerifyOutput struct {
	From      string         `json:"from"`
	System    migrate.System `json:"system"`
	Workspace string         `json:"workspace"`
	OK        bool           `json:"ok"`
	*migrate.VerifyReport
}

func newMigrateCmd(a *app) *cobra.Command {
	var o migrateOptions
	cmd := &cobra.Command{
		Use:   "migrate --from DIR|URL [--source auto|picoclaw|openclaw|pocketpaw|redischat] [--config FILE] [--dry-run | --yes | --verify]",
		Short: "Bring the sessions of a PicoClaw, OpenClaw or PocketPaw install into the workspace",
		Long: `Read the sessions of an older assistant install (PicoClaw of every era,
OpenClaw and its earlier names, PocketPaw; the Redis chat CLI's named sessions
with --from redis://host:port/db) and write them into the workspace
(created if needed). The source is only read, never changed. docs/migration.md
says what is read and how keys map.

First a plan: for each legacy conversation, its key, the session id it
becomes, its messages, and the action: create, append (an interrupted
earlier migration), merge (the session exists with other content: the
history goes in as an earlier conversation), or skip (already migrated).
Keys map onto scopes under the workspace's config.json, or under --config
FILE (the source install's config.json, for example).

  --dry-run   print the plan; write nothing
  --yes       apply without asking; without it migrate asks on a terminal,
              and otherwise prints the plan and refuses
  --verify    re-read the source and check every message is in the
              workspace; write nothing

Applying writes through the workspace's locks (assistants may keep running),
shows progress, verifies, and writes a report (report.json, report.txt and
set-aside/ with the bytes of damaged input that could not be read) into
--report DIR, by default <workspace>/migrations/<UTC time>-<system>/.
Running it again changes nothing; an interrupted run completes when run again.

--json prints one object on stdout (docs/cli.md); while applying, one JSON
line per session goes to stderr as progress.

EXAMPLES
  picosess migrate --from ~/.picoclaw --dry-run
  picosess migrate --from ~/.openclaw --source openclaw --yes
  picosess migrate --from ~/.pocketpaw --source-tz Europe/Lisbon --yes
  picosess migrate --verify --from ~/.picoclaw
  picosess migrate --from redis://127.0.0.1:6379/0 --source redischat --yes

EXIT STATUS
  0 migrated (or planned, or verified); 1 bad flags, a directory that is no
  known install, several systems found without --source, no --yes without a
  terminal, the source changed while migrating, a failure; 3 partial: damaged
  input was set aside (see the report) or verify found messages missing
  after applying; 4 (--verify) messages of the source are missing from the
  workspace; 10 (--verify) not a workspace; 11 a session stayed locked;
  130 interrupted.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			return a.runMigrate(cmd.Context(), &o)
		},
	}
	f := cmd.Flags()
	f.StringVar(&o.from, "from", "", "the legacy directory: a home (~/.picoclaw) or a sessions directory (required)")
	f.StringVar(&o.source, "source", "auto", "auto, picoclaw, openclaw, pocketpaw or redischat")
	f.StringVar(&o.config, "config", "", "config.json whose session keying applies (default: the workspace's)")
	f.BoolVar(&o.dryRun, "dry-run", false, "print the plan; write nothing")
	f.BoolVarP(&o.yes, "yes", "y", false, "apply without asking")
	f.BoolVar(&o.verify, "verify", false, "check every source message is in the workspace; write nothing")
	f.BoolVar(&o.force, "force", false, "read an OpenClaw store even if its lock names a live process")
	f.StringVar(&o.sourceTZ, "source-tz", "", "time zone of the source host, for naive PocketPaw times (default: local)")
	f.StringVar(&o.reportDir, "report", "", "directory for the report (default <workspace>/migrations/<time>-<system>)")
	return cmd
}

func (a *app) runMigrate(ctx context.Context, o *migrateOptions) error {
	if o.from == "" {
		return usageErrorf("--from DIR is required: the legacy install to read")
	}
	switch {
	case o.verify && (o.dryRun || o.yes):
		return usageErrorf("--verify only reads: it cannot be combined with --dry-run or --yes")
	case o.dryRun && o.yes:
		return usageErrorf("--dry-run writes nothing: --yes has no effect with it")
	}
	sys, err := migrate.ParseSystem(o.source)
	if err != nil {
		return usageErrorf("--source %q: want auto, picoclaw, openclaw, pocketpaw or redischat", o.source)
	}
	ropts := migrate.Options{System: sys, Force: o.force}
	if o.sourceTZ != "" {
		loc, err := time.LoadLocation(o.sourceTZ)
		if err != nil {
			return usageErrorf("--source-tz %q: %v (want a zone like Europe/Lisbon or UTC)", o.sourceTZ, err)
		}
		ropts.Location = loc
	}
	pol, err := a.migratePolicy(o.config)
	if err != nil {
		return err
	}
	res, err := migrate.Read(ctx, o.from, ropts)
	if err != nil {
		return migrateReadError(err, o.from)
	}
	popts := migrate.PlanOptions{Read: ropts, Policy: &pol}
	root, err := a.root()
	if err != nil {
		return err
	}
	if o.verify {
		return a.runMigrateVerify(ctx, res, popts)
	}
	// Plan against the workspace if there is one; do not create it before
	// the user agrees.
	var w *workspace.Workspace
	if _, err := os.Stat(filepath.Join(root, workspace.SessionsDir)); err == nil {
		if w, err = a.openWorkspace(); err != nil {
			return err
		}
		defer w.Close()
	}
	plan, err := migrate.PlanResult(ctx, res, w, popts)
	if err != nil {
		return err
	}
	if o.dryRun {
		return a.printPlan(plan, root, true)
	}
	if !o.yes && !nothingToWrite(plan) {
		if !isTerminal(a.stdin) {
			if err := a.printPlan(plan, root, false); err != nil {
				return err
			}
			return usageErrorf("refusing to migrate without --yes: standard input is not a terminal to ask; the plan is above (nothing was written)")
		}
		if err := a.printPlan(plan, root, false); err != nil {
			return err
		}
		q := fmt.Sprintf("Migrate %d message(s) into %d session(s) of %s?", plan.Messages(), len(plan.Sessions), root)
		if !askYes(a.stdin, a.stderr, q) {
			fmt.Fprintln(a.stderr, "nothing done")
			return nil
		}
	}
	if w == nil {
		if w, err = a.createWorkspace(); err != nil {
			return err
		}
		defer w.Close()
		if plan, err = migrate.PlanResult(ctx, res, w, popts); err != nil {
			return err
		}
	}
	return a.applyMigration(ctx, w, plan, o.reportDir)
}

// migratePolicy is the keying policy ids are derived under: --config FILE
// if given, else the workspace's config.json.
func (a *app) migratePolicy(file string) (keying.Policy, error) {
	if file == "" {
		cfg, err := a.loadConfig()
		if err != nil {
			return keying.Policy{}, err
		}
		return cfg.Policy(), nil
	}
	b, err := os.ReadFile(file)
	if err != nil {
		return keying.Policy{}, usageErrorf("--config: %v", err)
	}
	cfg, warnings, err := workspace.ParseConfig(file, b)
	if err != nil {
		return keying.Policy{}, fmt.Errorf("--config: %w", err)
	}
	for _, w := range warnings {
		fmt.Fprintln(a.stderr, "warning:", w)
	}
	return cfg.Policy(), nil
}

// migrateReadError adds what to do next to the reader's errors.
func migrateReadError(err error, from string) error {
	switch {
	case errors.Is(err, migrate.ErrNotLegacy):
		return fmt.Errorf("%w\n  --from names the install's home (~/.picoclaw, ~/.openclaw, ~/.pocketpaw) or a sessions directory in it", err)
	case errors.Is(err, migrate.ErrAmbiguousSource):
		return fmt.Errorf("%w\n  add --source picoclaw, openclaw or pocketpaw", err)
	case errors.Is(err, migrate.ErrLiveWriter):
		return fmt.Errorf("%w\n  stop the assistant first, or pass --force if the lock belongs to another machine", err)
	case errors.Is(err, os.ErrNotExist):
		return fmt.Errorf("--from %s: %w", from, err)
	}
	return err
}

// nothingToWrite: every session is already migrated.
func nothingToWrite(p *migrate.Plan) bool {
	for _, s := range p.Sessions {
		if s.Action != migrate.ActionSkip {
			return false
		}
	}
	return true
}

func planActions(p *migrate.Plan) map[migrate.Action]int {
	n := map[migrate.Action]int{}
	for _, s := range p.Sessions {
		n[s.Action]++
	}
	return n
}

// printPlan prints the plan: JSON on stdout with --json, else a table.
func (a *app) printPlan(p *migrate.Plan, root string, dry bool) error {
	if a.jsonOut {
		if p.Sessions == nil {
			p.Sessions = []*migrate.PlannedSession{}
		}
		return a.writeJSON(migratePlanOutput{DryRun: dry, Workspace: root, Messages: p.Messages(), Actions: planActions(p), Plan: p})
	}
	bw := &errWriter{w: a.stdout}
	fmt.Fprintf(bw, "plan: %s (%s) into %s\n", p.From, p.System, root)
	tw := tabwriter.NewWriter(bw, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "LEGACY KEY\tSESSION\tMSGS\tACTION")
	for _, s := range p.Sessions {
		key := s.Keys[0]
		if len(s.Keys) > 1 {
			key += fmt.Sprintf(" (+%d key(s))", len(s.Keys)-1)
		}
		fmt.Fprintf(tw, "%s\t%s\t%d\t%s\n", key, s.ID, s.Messages, s.Action)
	}
	tw.Flush()
	for _, s := range p.Sessions {
		for _, w := range s.Warnings {
			fmt.Fprintf(bw, "warning: %s: %s\n", shortID(s.ID), w)
		}
	}
	for _, w := range p.Warnings {
		fmt.Fprintf(bw, "warning: %s\n", w)
	}
	files := map[migrate.Class]int{}
	for _, f := range p.Files {
		files[f.Class]++
		if f.Class == migrate.ClassUnknown || f.Class == migrate.ClassCorrupt {
			fmt.Fprintf(bw, "%s file: %s: %s\n", f.Class, f.Path, f.Reason)
		}
	}
	for _, s := range p.SetAside {
		fmt.Fprintf(bw, "damaged: %s line %d offset %d (%d bytes): %s: will be set aside\n", s.Path, s.Line, s.Offset, s.Length, s.Reason)
	}
	act := planActions(p)
	fmt.Fprintf(bw, "%d session(s), %d message(s): %d create, %d append, %d merge, %d skip; files: %s\n",
		len(p.Sessions), p.Messages(), act[migrate.ActionCreate], act[migrate.ActionAppend], act[migrate.ActionMerge], act[migrate.ActionSkip], classCounts(files))
	if dry {
		fmt.Fprintln(bw, "dry run: nothing written")
	}
	return bw.err
}

func classCounts(n map[migrate.Class]int) string {
	var parts []string
	for _, c := range []migrate.Class{migrate.ClassImported, migrate.ClassDuplicate, migrate.ClassGeneration, migrate.ClassIgnored, migrate.ClassCorrupt, migrate.ClassUnknown} {
		if n[c] > 0 {
			parts = append(parts, fmt.Sprintf("%d %s", n[c], c))
		}
	}
	if len(parts) == 0 {
		return "none"
	}
	return strings.Join(parts, ", ")
}

// applyMigration applies the plan with progress, writes the report and
// prints it. A partial migration exits 3.
func (a *app) applyMigration(ctx context.Context, w *workspace.Workspace, plan *migrate.Plan, reportDir string) error {
	if reportDir == "" {
		stamp := time.Now().UTC().Format("20060102T150405.000000000Z")
		reportDir = filepath.Join(w.Root(), MigrationsDir, stamp+"-"+string(plan.System))
	}
	bar := a.newProgress(len(plan.Sessions), "migrate")
	rep, err := migrate.Apply(ctx, w, plan, migrate.ApplyOptions{ReportDir: reportDir, Progress: func(p migrate.Progress) {
		bar.step(progressLine{Done: p.Index, Total: p.Total, ID: p.ID, Key: p.Key, Action: string(p.Action), Messages: p.Messages, Written: p.Appended})
	}})
	bar.finish()
	if rep != nil {
		if werr := rep.Write(reportDir); werr != nil && err == nil {
			err = werr
		}
	}
	if err != nil {
		if rep != nil {
			fmt.Fprintf(a.stderr, "migration stopped after %d of %d session(s); report so far in %s; run migrate again to complete it\n", len(rep.Sessions), len(plan.Sessions), reportDir)
		}
		return err
	}
	if a.jsonOut {
		if err := a.writeJSON(migrateApplyOutput{Workspace: w.Root(), ReportDir: reportDir, Report: rep}); err != nil {
			return err
		}
	} else {
		bw := &errWriter{w: a.stdout}
		rep.Summary(bw)
		fmt.Fprintf(bw, "report: %s (report.txt, report.json", reportDir)
		if len(rep.SetAside) > 0 {
			fmt.Fprintf(bw, ", set-aside/ with the %d damaged run(s) of bytes", len(rep.SetAside))
		}
		fmt.Fprintln(bw, ")")
		if bw.err != nil {
			return bw.err
		}
	}
	if rep.Partial {
		why := "damaged input was set aside"
		if rep.Verify != nil && !rep.Verify.OK() {
			why = fmt.Sprintf("%d message(s) missing after applying", len(rep.Verify.Missing))
		}
		return &exitError{code: exitRepairable, msg: fmt.Sprintf("partial migration: %s; see %s", why, reportDir)}
	}
	return nil
}

func (a *app) runMigrateVerify(ctx context.Context, res *migrate.Result, popts migrate.PlanOptions) error {
	w, err := a.openWorkspace()
	if err != nil {
		return err
	}
	defer w.Close()
	plan, err := migrate.PlanResult(ctx, res, w, popts)
	if err != nil {
		return err
	}
	v, err := migrate.Verify(ctx, w, plan)
	if err != nil {
		return err
	}
	if a.jsonOut {
		if err := a.writeJSON(migrateVerifyOutput{From: res.Root, System: res.System, Workspace: w.Root(), OK: v.OK(), VerifyReport: v}); err != nil {
			return err
		}
	} else if err := writeVerifyText(a.stdout, res, w.Root(), v); err != nil {
		return err
	}
	if !v.OK() {
		return &exitError{code: exitUnrepairabl, msg: fmt.Sprintf("%d of %d message(s) of %s are not in %s; migrate --from %s --yes adds what it can", len(v.Missing), v.Messages, res.Root, w.Root(), res.Root)}
	}
	return nil
}

func writeVerifyText(w io.Writer, res *migrate.Result, root string, v *migrate.VerifyReport) error {
	bw := &errWriter{w: w}
	if v.OK() {
		fmt.Fprintf(bw, "verified: all %d message(s) of %d session(s) from %s (%s) are in %s\n", v.Messages, v.Sessions, res.Root, res.System, root)
		return bw.err
	}
	fmt.Fprintf(bw, "MISSING: %d of %d message(s) from %s (%s) are not in %s\n", len(v.Missing), v.Messages, res.Root, res.System, root)
	for _, m := range v.Missing {
		where := m.Path
		if m.Line > 0 {
			where += fmt.Sprintf(":%d", m.Line)
		}
		if m.EntryID != "" {
			where += " entry " + m.EntryID
		}
		fmt.Fprintf(bw, "  %s  %s  %s: %s\n", shortID(m.ID), where, m.Role, clip(m.Content, 60))
	}
	return bw.err
}
