package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/picosess/picosess/keying"
	"github.com/picosess/picosess/migrate"
	"github.com/picosess/picosess/workspace"
	"github.com/spf13/cobra"
	"golang.org/x/term"
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
	// writeConfig writes the target config proposed from the source
	// install's own config to <workspace>/config.json.
	writeConfig bool
	// keyFile holds the password of Clodds' encrypted contexts.
	keyFile string
}

// CloddsKeyEnv is the environment variable Clodds itself reads the
// password of its encrypted session contexts from; migrate reads it too.
const CloddsKeyEnv = "CLODDS_SESSION_KEY"

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
		Use:   "migrate --from DIR|URL [--source auto|picoclaw|openclaw|pocketpaw|clodds|redischat] [--config FILE | --write-config] [--dry-run | --yes | --verify]",
		Short: "Bring the sessions of a PicoClaw, OpenClaw, PocketPaw or Clodds install, or of the Redis chat CLI, into the workspace",
		Long: `Read the sessions of an older assistant install (PicoClaw of every era,
OpenClaw and its earlier names, PocketPaw, Clodds; the Redis chat CLI's named
sessions with --from redis://host:port/db) and write them into the
workspace (created if needed). The source is only read, never changed.
docs/migration.md says what is read and how old keys map to sessions.

First a plan, one screen: per era of the source, how many sessions and
messages, how many go to derived scopes (where the assistant routes the
chat's next message), keep their own id, or stay under their old key and
why; the target config; the actions (create, append, merge, rebuild, skip); and
every problem. --verbose adds the table of every session; the report of an
applied migration holds it too.

The target config decides the session ids. migrate reads the source
install's own config (PicoClaw config.json; OpenClaw openclaw.json,
moltbot.json or clawdbot.json; Clodds clodds.json; JSON5 accepted) and
proposes one that keys sessions as the install did. The ids follow --config
FILE if given, else the workspace's config.json if it has one, else the
proposal; --write-config writes the proposal to the workspace's config.json
(never over a config that keys sessions differently: it refuses). Into an
existing config.json it inserts the session settings and changes nothing
else (the plan shows the diff); a config.json it cannot edit in place
safely (a symbolic link, other hard links) is left alone and the merged
config written beside it, as config.merged.json.

Run again after upgrading picosess, migrate places what the newer version
places differently (an OpenClaw orphan it now links, ids under the install's
own config): an untouched session is written again in order (rebuild), one
written to since gets the missing part as an earlier conversation (merge),
and an earlier import under another id is moved to the trash once its
messages are verified where they go now (kept, and not imported twice, if
it was written to since).

  --dry-run   print the plan; write nothing
  --yes       apply without asking; without it migrate asks on a terminal,
              and otherwise prints the plan and refuses
  --verify    re-read the source and check every message is in the
              workspace; write nothing

Clodds can encrypt its session contexts (summary, checkpoint): give the
password in a file (--source-key-file) or in $CLODDS_SESSION_KEY, as Clodds
reads it; without it they are reported and every message is still imported.

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
  picosess migrate --from ~/.openclaw --dry-run --verbose
  picosess migrate --from ~/.picoclaw --write-config --yes
  CLODDS_SESSION_KEY=... picosess migrate --from ~/.clodds --yes
  picosess migrate --verify --from ~/.picoclaw
  picosess migrate --from redis://127.0.0.1:6379/0 --source redischat --yes

EXIT STATUS
  0 migrated (or planned, or verified); 1 bad flags, a directory that is no
  known install, several systems found without --source, a source config
  that cannot be read (without --config), --write-config over a config.json
  that keys sessions differently, no --yes without a terminal, the source
  changed while migrating, a failure; 3 partial: damaged
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
	f.StringVar(&o.source, "source", "auto", "auto, picoclaw, openclaw, pocketpaw, clodds or redischat")
	f.StringVar(&o.config, "config", "", "config.json whose session keying applies (default: the workspace's, else the one proposed from the source's)")
	f.BoolVar(&o.writeConfig, "write-config", false, "write the config proposed from the source install's to the workspace's config.json")
	f.StringVar(&o.keyFile, "source-key-file", "", "file holding the password of Clodds' encrypted contexts (default $"+CloddsKeyEnv+")")
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
	case o.writeConfig && o.config != "":
		return usageErrorf("--write-config writes the config proposed from the source install's; with --config FILE, copy FILE to the workspace yourself")
	case o.writeConfig && o.verify:
		return usageErrorf("--verify only reads: it cannot be combined with --write-config")
	}
	sys, err := migrate.ParseSystem(o.source)
	if err != nil {
		return usageErrorf("--source %q: want auto, picoclaw, openclaw, pocketpaw, clodds or redischat", o.source)
	}
	ropts := migrate.Options{System: sys, Force: o.force}
	if o.sourceTZ != "" {
		loc, err := time.LoadLocation(o.sourceTZ)
		if err != nil {
			return usageErrorf("--source-tz %q: %v (want a zone like Europe/Lisbon or UTC)", o.sourceTZ, err)
		}
		ropts.Location = loc
	}
	if ropts.Password, err = a.sourcePassword(o.keyFile); err != nil {
		return err
	}
	res, srcCfg, err := migrate.ReadInstall(ctx, o.from, ropts)
	switch {
	case err != nil && errors.Is(err, migrate.ErrSourceConfig) && res != nil && o.config != "":
		fmt.Fprintf(a.stderr, "warning: %v (--config is used instead)\n", err)
	case err != nil && errors.Is(err, migrate.ErrSourceConfig):
		return fmt.Errorf("%w\n  fix that file, or pass --config FILE to choose how sessions are keyed", err)
	case err != nil:
		return migrateReadError(err, o.from)
	}
	root, err := a.root()
	if err != nil {
		return err
	}
	pol, tc, err := a.migrateTarget(root, o, srcCfg)
	if err != nil {
		return err
	}
	popts := migrate.PlanOptions{Read: ropts, Policy: &pol}
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
	plan.Config = tc
	if o.dryRun {
		if err := a.printPlan(plan, root, true); err != nil {
			return err
		}
		if o.reportDir != "" {
			return writePlanFiles(plan, o.reportDir)
		}
		return nil
	}
	if !o.yes && !(nothingToWrite(plan) && !o.writeConfig) {
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
		plan.Config = tc
	}
	if o.writeConfig && srcCfg != nil {
		edit, err := migrate.ProposedConfigEdit(w.Root(), srcCfg.Proposal)
		if err == nil {
			err = edit.Write()
		}
		if err != nil {
			return err
		}
		tc.Write = configEditWords(edit, filepath.Join(w.Root(), workspace.ConfigFile), false)
		if !a.jsonOut {
			fmt.Fprintf(a.stderr, "config: %s\n", tc.Write)
		}
	}
	return a.applyMigration(ctx, w, plan, o.reportDir)
}

// sourcePassword reads the password of Clodds' encrypted contexts from
// --source-key-file (first line, trailing newline dropped) or
// $CLODDS_SESSION_KEY. It is never printed or logged.
func (a *app) sourcePassword(file string) (string, error) {
	if file == "" {
		return a.getenv(CloddsKeyEnv), nil
	}
	b, err := os.ReadFile(file)
	if err != nil {
		return "", usageErrorf("--source-key-file: %v", err)
	}
	pw := strings.TrimRight(string(b), "\r\n")
	if pw == "" {
		return "", usageErrorf("--source-key-file %s is empty", file)
	}
	return pw, nil
}

// migrateTarget chooses the keying policy ids are derived under and says
// so: --config FILE, else the workspace's config.json, else the config
// proposed from the source install's own (--write-config writes it).
func (a *app) migrateTarget(root string, o *migrateOptions, src *migrate.SourceConfig) (keying.Policy, *migrate.TargetConfig, error) {
	tc := &migrate.TargetConfig{}
	var prop keying.Policy
	if src != nil {
		tc.ProposedFrom, tc.Proposal, tc.Settings = src.Path, src.Proposal, src.Settings
		prop = src.Policy()
		tc.Problems = append(tc.Problems, src.Warnings...)
	}
	if o.config != "" {
		pol, err := a.migratePolicy(o.config)
		if err != nil {
			return pol, nil, err
		}
		tc.Used = "--config " + o.config
		if src != nil && !migrate.SameKeying(pol, prop) {
			tc.Problems = append(tc.Problems, fmt.Sprintf("--config %s keys sessions differently from the source install (proposed: %s)", o.config, proposalWords(src)))
		}
		return pol, tc, nil
	}
	cfgPath := filepath.Join(root, workspace.ConfigFile)
	if _, err := os.Stat(cfgPath); err == nil {
		cfg, err := a.loadConfig()
		if err != nil {
			return keying.Policy{}, nil, err
		}
		pol := cfg.Policy()
		same := src == nil || migrate.SameKeying(pol, prop)
		switch {
		case same:
			tc.Used = "the workspace's config.json (it keys sessions as the source install did)"
			if o.writeConfig {
				tc.Write = configChangeWords(migrate.ConfigUnchanged, cfgPath, o.dryRun)
			}
		case o.writeConfig:
			edit, err := migrate.ProposedConfigEdit(root, src.Proposal)
			if err != nil {
				return pol, nil, err // ErrConfigConflict: nothing written
			}
			tc.Used = "the workspace's config.json with the source install's session settings added (--write-config)"
			tc.Write = configEditWords(edit, cfgPath, o.dryRun)
			tc.Diff = edit.Diff
			if edit.Change == migrate.ConfigBeside {
				tc.Problems = append(tc.Problems, fmt.Sprintf("%s cannot be edited in place safely (%s): the merged config goes to %s; put it in place of config.json (or merge it by hand) before the assistant runs, or its next messages are keyed otherwise", cfgPath, edit.Why, edit.Path))
			}
			return prop, tc, nil
		default:
			tc.Used = "the workspace's config.json"
			tc.Problems = append(tc.Problems, fmt.Sprintf("the workspace's config.json keys sessions differently from the source install (proposed: %s): ids follow config.json; sessions the assistant keyed otherwise will not continue", proposalWords(src)))
		}
		return pol, tc, nil
	}
	if src == nil {
		tc.Used = "picosess's defaults"
		return keying.Policy{}, tc, nil
	}
	tc.Used = "the proposed config"
	if len(src.Settings) == 0 {
		tc.Used = "picosess's defaults (the source install's config sets no session keying)"
		if src.Path == "" {
			tc.Used = "picosess's defaults (the source install has no config file)"
		}
	}
	if o.writeConfig {
		tc.Write = configChangeWords(migrate.ConfigWritten, cfgPath, o.dryRun)
	} else if !migrate.SameKeying(prop, keying.Policy{}) {
		tc.Problems = append(tc.Problems, "ids follow the proposed config, which the workspace lacks: pass --write-config")
	}
	return prop, tc, nil
}

func proposalWords(src *migrate.SourceConfig) string {
	if len(src.Settings) == 0 {
		return "picosess's defaults"
	}
	return strings.Join(src.Settings, "; ")
}

// configEditWords says what --write-config does (dry: would do).
func configEditWords(e *migrate.ConfigEdit, path string, dry bool) string {
	if e.Change != migrate.ConfigBeside {
		return configChangeWords(e.Change, path, dry)
	}
	if dry {
		return fmt.Sprintf("would write the merged config to %s: %s is left as it is (%s)", e.Path, path, e.Why)
	}
	return fmt.Sprintf("wrote the merged config to %s: %s is left as it is (%s)", e.Path, path, e.Why)
}

func configChangeWords(c migrate.ConfigChange, path string, dry bool) string {
	switch c {
	case migrate.ConfigWritten:
		if dry {
			return "would write " + path
		}
		return "wrote " + path
	case migrate.ConfigMerged:
		if dry {
			return "would add the session settings to " + path + " (the rest of the file kept as it is)"
		}
		return "added the session settings to " + path + " (the rest of the file kept as it is)"
	}
	return path + " already keys sessions this way: left as it is"
}

// termHeight is the height of the terminal w is, 24 when unknown.
func termHeight(w io.Writer) int {
	if f, ok := w.(interface{ Fd() uintptr }); ok {
		if _, rows, err := term.GetSize(int(f.Fd())); err == nil && rows > 0 {
			return rows
		}
	}
	return 24
}

// writePlanFiles writes plan.txt (summary and the table of every session)
// and plan.json into dir (--dry-run --report DIR).
func writePlanFiles(p *migrate.Plan, dir string) error {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return fmt.Errorf("--report: %w", err)
	}
	var sb strings.Builder
	if err := p.WriteSummary(&sb, 0, 0); err != nil {
		return err
	}
	sb.WriteString("\n")
	if err := p.WriteTable(&sb); err != nil {
		return err
	}
	if err := os.WriteFile(filepath.Join(dir, "plan.txt"), []byte(sb.String()), 0o644); err != nil {
		return fmt.Errorf("--report: %w", err)
	}
	b, err := json.MarshalIndent(p, "", "  ")
	if err != nil {
		return err
	}
	if err := os.WriteFile(filepath.Join(dir, "plan.json"), append(b, '\n'), 0o644); err != nil {
		return fmt.Errorf("--report: %w", err)
	}
	return nil
}

// migratePolicy is the keying policy of --config FILE.
func (a *app) migratePolicy(file string) (keying.Policy, error) {
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

// printPlan prints the plan: JSON on stdout with --json, else the summary
// (one screen) and, with --verbose, the table of every session.
func (a *app) printPlan(p *migrate.Plan, root string, dry bool) error {
	if a.jsonOut {
		if p.Sessions == nil {
			p.Sessions = []*migrate.PlannedSession{}
		}
		return a.writeJSON(migratePlanOutput{DryRun: dry, Workspace: root, Messages: p.Messages(), Actions: planActions(p), Plan: p})
	}
	bw := &errWriter{w: a.stdout}
	width, height := 0, 0
	if t := a.term(); t.tty {
		width, height = t.width, termHeight(a.stdout)
	}
	fmt.Fprintf(bw, "plan: into %s\n", root)
	if height > 0 {
		height-- // the line above
	}
	if err := p.WriteSummary(bw, width, height); err != nil {
		return err
	}
	if a.verbose {
		fmt.Fprintln(bw)
		if err := p.WriteTable(bw); err != nil {
			return err
		}
	}
	switch {
	case dry && a.verbose:
		fmt.Fprintln(bw, "dry run: nothing written")
	case dry:
		fmt.Fprintln(bw, "dry run: nothing written; --verbose lists every session")
	}
	return bw.err
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
