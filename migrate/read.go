package migrate

import (
	"bytes"
	"context"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"time"
)

// Options controls Read. The zero value detects the system and reads naive
// times in the local zone.
type Options struct {
	// System is the legacy system to read; "" or SystemAuto detects it.
	System System
	// Location is the zone of the source host, for naive local times
	// (PocketPaw). nil means time.Local.
	Location *time.Location
	// Force reads an OpenClaw store even when a lock file names a live pid.
	Force bool
	// Password opens Clodds' encrypted session contexts (Clodds'
	// CLODDS_SESSION_KEY). Empty: they are reported, not read. It is never
	// written anywhere.
	Password string `json:"-"`
	// ExtraDirs are more sessions directories to read, outside dir: where
	// the install's config moved its store (SourceConfig.StoreDirs). Their
	// files are reported by paths relative to dir.
	ExtraDirs []string
}

// maxDepth bounds the search for sessions directories below the root, so
// that pointing at a home directory does not walk a whole disk.
const maxDepth = 5

// Read reads every legacy session below dir. The directory may be a
// sessions directory itself or a home above it (~/.picoclaw, ~/.openclaw,
// ~/.pocketpaw). Nothing is written; files are opened read-only.
func Read(ctx context.Context, dir string, opts Options) (*Result, error) {
	if opts.System == SystemRedisChat || IsRedisURL(dir) {
		if !IsRedisURL(dir) {
			return nil, fmt.Errorf("migrate: --source redischat reads a Redis server: want --from redis://host:port/db, got %s: %w", dir, ErrUsage)
		}
		return ReadRedisChat(ctx, dir) // redischat.go
	}
	st, err := os.Stat(dir)
	if err != nil {
		return nil, fmt.Errorf("migrate: source %s: %w", dir, err)
	}
	if !st.IsDir() {
		return nil, fmt.Errorf("migrate: source %s is not a directory: %w", dir, ErrNotLegacy)
	}
	// ~/.clawdbot may be a symlink to ~/.moltbot: walk the real directory
	if real, err := filepath.EvalSymlinks(dir); err == nil {
		dir = real
	}
	// the origin names the install by its absolute path, so that a later
	// run given it another way (relative, with a trailing slash) knows
	// its own earlier import
	if abs, err := filepath.Abs(dir); err == nil {
		dir = abs
	}
	sys := opts.System
	if sys == "" {
		sys = SystemAuto
	}
	found, err := findSessionDirs(ctx, dir)
	if err != nil {
		return nil, err
	}
	found = addExtraDirs(dir, found, opts.ExtraDirs)
	if sys == SystemAuto {
		sys, err = pickSystem(dir, found)
		if err != nil {
			return nil, err
		}
	}
	var dirs []sessionDir
	for _, d := range found {
		if d.systems[sys] {
			dirs = append(dirs, d)
		}
	}
	if len(dirs) == 0 {
		return nil, fmt.Errorf("migrate: %s: no %s sessions directory found: %w", dir, sys, ErrNotLegacy)
	}
	res := &Result{System: sys, Root: dir}
	loc := opts.Location
	if loc == nil {
		loc = time.Local
	}
	switch sys {
	case SystemPicoClaw:
		err = readPicoClaw(ctx, res, dirs)
	case SystemOpenClaw:
		err = readOpenClaw(ctx, res, dirs, opts.Force)
	case SystemPocketPaw:
		err = readPocketPaw(ctx, res, dirs, loc)
	case SystemClodds:
		err = readClodds(ctx, res, dirs, opts.Password)
	default:
		err = fmt.Errorf("migrate: cannot read system %q: %w", sys, ErrUsage)
	}
	if err != nil {
		return nil, err
	}
	res.finish()
	return res, nil
}

// Detect says which legacy system dir holds.
func Detect(ctx context.Context, dir string) (System, error) {
	if real, err := filepath.EvalSymlinks(dir); err == nil {
		dir = real
	}
	found, err := findSessionDirs(ctx, dir)
	if err != nil {
		return "", err
	}
	return pickSystem(dir, found)
}

type sessionDir struct {
	rel     string
	systems map[System]bool
	whole   bool // list files recursively
}

func pickSystem(root string, found []sessionDir) (System, error) {
	seen := map[System][]string{}
	for _, d := range found {
		for s := range d.systems {
			seen[s] = append(seen[s], d.rel)
		}
	}
	switch len(seen) {
	case 0:
		return "", fmt.Errorf("migrate: %s holds no PicoClaw, OpenClaw, PocketPaw or Clodds sessions (looked for sessions dirs up to %d levels down): %w", root, maxDepth, ErrNotLegacy)
	case 1:
		for s := range seen {
			return s, nil
		}
	}
	var parts []string
	for _, s := range []System{SystemPicoClaw, SystemOpenClaw, SystemPocketPaw, SystemClodds} {
		if d := seen[s]; len(d) > 0 {
			parts = append(parts, fmt.Sprintf("%s in %s", s, strings.Join(d, ", ")))
		}
	}
	return "", fmt.Errorf("migrate: %s: %s; choose one with --source: %w", root, strings.Join(parts, "; "), ErrAmbiguousSource)
}

// addExtraDirs adds the sessions directories outside root that hold
// sessions, each once by real path.
func addExtraDirs(root string, found []sessionDir, extra []string) []sessionDir {
	if len(extra) == 0 {
		return found
	}
	seen := map[string]bool{}
	for _, d := range found {
		p := filepath.Join(root, filepath.FromSlash(d.rel))
		if real, err := filepath.EvalSymlinks(p); err == nil {
			p = real
		}
		seen[p] = true
	}
	for _, x := range extra {
		p := x
		if real, err := filepath.EvalSymlinks(p); err == nil {
			p = real
		}
		if seen[p] {
			continue
		}
		seen[p] = true
		sys := sniffDir(p)
		if len(sys) == 0 {
			continue
		}
		rel, err := filepath.Rel(root, p)
		if err != nil {
			continue
		}
		found = append(found, sessionDir{rel: filepath.ToSlash(rel), systems: sys, whole: filepath.Base(p) == "sessions"})
	}
	sort.Slice(found, func(i, j int) bool { return found[i].rel < found[j].rel })
	return found
}

// findSessionDirs returns the directories below root that hold sessions of
// some system, sorted, each once by real path (.clawdbot may be a symlink
// to .moltbot).
func findSessionDirs(ctx context.Context, root string) ([]sessionDir, error) {
	var out []sessionDir
	seen := map[string]bool{}
	err := filepath.WalkDir(root, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			if p == root {
				return err
			}
			return nil // unreadable subtree: reported by the readers if it matters
		}
		if err := ctx.Err(); err != nil {
			return err
		}
		if !d.IsDir() {
			return nil
		}
		rel, _ := filepath.Rel(root, p)
		depth := 0
		if rel != "." {
			depth = strings.Count(rel, string(filepath.Separator)) + 1
		}
		name := d.Name()
		if depth > maxDepth || (rel != "." && (name == ".git" || name == "node_modules" || name == ".trash")) {
			return filepath.SkipDir
		}
		sys := sniffDir(p)
		if len(sys) == 0 {
			return nil
		}
		real, err := filepath.EvalSymlinks(p)
		if err != nil {
			real = p
		}
		if seen[real] {
			return filepath.SkipDir
		}
		seen[real] = true
		// A directory named sessions is read whole (with subdirectories such
		// as OpenClaw's session-sqlite-import-archive); any other directory
		// holding session files (the root given directly) only for its own
		// files, and the walk goes on below it.
		whole := name == "sessions"
		out = append(out, sessionDir{rel: filepath.ToSlash(rel), systems: sys, whole: whole})
		if whole {
			return filepath.SkipDir
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("migrate: walk %s: %w", root, err)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].rel < out[j].rel })
	return out, nil
}

// sniffDir looks at the names and first bytes of a directory's files and
// says which systems could have written them.
func sniffDir(dir string) map[System]bool {
	ents, err := os.ReadDir(dir)
	if err != nil {
		return nil
	}
	sys := map[System]bool{}
	for _, e := range ents {
		if e.IsDir() {
			continue
		}
		n := e.Name()
		switch {
		case n == cloddsDB:
			sys[SystemClodds] = true
		case n == "sessions.json" || strings.HasPrefix(n, "sessions.json."):
			sys[SystemOpenClaw] = true
		case n == "_index.json" || n == "_aliases.json" || strings.HasSuffix(n, "_compaction.json"):
			sys[SystemPocketPaw] = true
		case strings.HasSuffix(n, ".meta.json") || strings.HasSuffix(n, ".json.migrated") || strings.HasSuffix(n, ".meta.json.migrated"):
			sys[SystemPicoClaw] = true
		case strings.HasSuffix(n, ".jsonl") || strings.Contains(n, ".jsonl.reset.") || strings.Contains(n, ".jsonl.deleted."):
			head := fileHead(filepath.Join(dir, n), 512)
			switch {
			case bytes.Contains(head, []byte(`"type":"session"`)) || bytes.HasPrefix(head, []byte(`{"type":`)):
				sys[SystemOpenClaw] = true
			case bytes.HasPrefix(head, []byte(`{"role":`)):
				sys[SystemPicoClaw] = true
			}
		case strings.HasSuffix(n, ".json"):
			head := bytes.TrimSpace(fileHead(filepath.Join(dir, n), 512))
			switch {
			case bytes.HasPrefix(head, []byte("[")) && bytes.HasPrefix(bytes.TrimSpace(head[1:]), []byte("{")) &&
				(bytes.Contains(head, []byte(`"role"`)) || bytes.Contains(head, []byte(`"id"`))):
				sys[SystemPocketPaw] = true
			case bytes.HasPrefix(bytes.TrimSpace(bytes.TrimPrefix(head, []byte("{"))), []byte(`"key"`)):
				sys[SystemPicoClaw] = true
			case bytes.HasPrefix(head, []byte("{")) && bytes.Contains(head, []byte(`"export_version"`)) && strings.HasPrefix(n, "pocketpaw-session-"):
				sys[SystemPocketPaw] = true // a dashboard export
			}
		}
	}
	// Clodds' database decides: its state dir holds other JSON files
	if sys[SystemClodds] {
		return map[System]bool{SystemClodds: true}
	}
	// a store or an index decides: stray files of another shape beside it
	// (a fork's PicoClaw-style names) are reported by that system's reader
	if sys[SystemOpenClaw] && hasAny(ents, "sessions.json") {
		return map[System]bool{SystemOpenClaw: true}
	}
	if sys[SystemPocketPaw] && hasAny(ents, "_index.json", "_aliases.json") {
		return map[System]bool{SystemPocketPaw: true}
	}
	return sys
}

func hasAny(ents []os.DirEntry, names ...string) bool {
	for _, e := range ents {
		for _, n := range names {
			if e.Name() == n {
				return true
			}
		}
	}
	return false
}

func fileHead(p string, n int) []byte {
	f, err := os.Open(p)
	if err != nil {
		return nil
	}
	defer f.Close()
	b := make([]byte, n)
	k, _ := f.Read(b)
	return b[:k]
}

// listFiles returns every regular file below dir (a sessions directory),
// as slash paths relative to root, sorted. Symlinks and other non-regular
// entries are returned too, for the readers to report.
func listFiles(ctx context.Context, root string, dir sessionDir) ([]string, error) {
	var out []string
	base := filepath.Join(root, filepath.FromSlash(dir.rel))
	err := filepath.WalkDir(base, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if err := ctx.Err(); err != nil {
			return err
		}
		if d.IsDir() {
			if p != base && !dir.whole {
				return filepath.SkipDir
			}
			return nil
		}
		rel, _ := filepath.Rel(root, p)
		out = append(out, filepath.ToSlash(rel))
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("migrate: list %s: %w", base, err)
	}
	sort.Strings(out)
	return out, nil
}

// fileReports accumulates exactly one report per file.
type fileReports map[string]*FileReport

func (f fileReports) set(path string, c Class, key, reason string, records int) {
	f[path] = &FileReport{Path: path, Class: c, Key: key, Reason: reason, Records: records}
}

func (f fileReports) into(res *Result) {
	for _, r := range f {
		res.Files = append(res.Files, *r)
	}
}
