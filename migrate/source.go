package migrate

import (
	"encoding/json"
	"errors"
	"fmt"
	"sort"
	"time"

	"github.com/picosess/picosess/keying"
	"github.com/picosess/picosess/workspace"
)

// System names a legacy assistant whose sessions can be read.
type System string

// The systems Read understands. SystemAuto asks Read to detect one.
const (
	SystemAuto      System = "auto"
	SystemPicoClaw  System = "picoclaw"
	SystemOpenClaw  System = "openclaw"
	SystemPocketPaw System = "pocketpaw"
	SystemClodds    System = "clodds"
)

// ParseSystem maps a --source value to a System.
func ParseSystem(s string) (System, error) {
	switch System(s) {
	case SystemAuto, "":
		return SystemAuto, nil
	case SystemPicoClaw, SystemOpenClaw, SystemPocketPaw, SystemClodds, SystemRedisChat:
		return System(s), nil
	case "clawdbot", "moltbot", "clawdis":
		return SystemOpenClaw, nil
	case "pocketclaw":
		return SystemPocketPaw, nil
	}
	return "", fmt.Errorf("migrate: unknown source system %q (want auto, picoclaw, openclaw, pocketpaw, clodds or redischat): %w", s, ErrUsage)
}

// Errors of the package; match with errors.Is.
var (
	// ErrNotLegacy: the directory holds no session store of any known system.
	ErrNotLegacy = errors.New("migrate: not a legacy session directory")
	// ErrAmbiguousSource: auto-detection found several systems; name one.
	ErrAmbiguousSource = errors.New("migrate: several legacy systems found")
	// ErrLiveWriter: a lock file names a live process; pass Force to read anyway.
	ErrLiveWriter = errors.New("migrate: a legacy writer is live")
	// ErrUsage: bad options.
	ErrUsage = errors.New("migrate: bad usage")
)

// Class is what became of one file of a legacy sessions directory. Every
// file walked is reported in exactly one class.
type Class string

// File classes.
const (
	ClassImported   Class = "imported"   // its records are in a Source
	ClassDuplicate  Class = "duplicate"  // same content as another source, imported once
	ClassGeneration Class = "generation" // an older generation, imported before a reset
	ClassIgnored    Class = "ignored"    // not conversation data (index, lock, temp…), see Reason
	ClassCorrupt    Class = "corrupt"    // nothing in it could be read; bytes set aside
	ClassUnknown    Class = "unknown"    // a name no reader recognises
)

// FileInfo identifies one source file as it was read.
type FileInfo struct {
	Path    string    `json:"path"` // slash path relative to the read root
	Size    int64     `json:"size"`
	ModTime time.Time `json:"mtime"`
	SHA256  string    `json:"sha256"`
}

// FileReport says what happened to one file.
type FileReport struct {
	Path    string `json:"path"`
	Class   Class  `json:"class"`
	Key     string `json:"key,omitempty"`     // raw key of the Source it went to
	Records int    `json:"records,omitempty"` // messages read from it
	Reason  string `json:"reason,omitempty"`
}

// SetAside is a run of bytes that could not be read. Data holds a copy of
// the bytes so the evidence survives even if the source later changes.
type SetAside struct {
	Path   string `json:"path"`
	Line   int    `json:"line,omitempty"` // 1-based, 0 when not line-oriented
	Offset int64  `json:"offset"`
	Length int64  `json:"length"`
	Reason string `json:"reason"`
	Data   []byte `json:"-"`
}

// Provenance says where one record came from: a file and line, or an entry
// id, plus source facts that have no field in a workspace record (tool
// name, error flag, provider, usage, reasoning signature, metadata).
type Provenance struct {
	Path    string          `json:"path"`
	Line    int             `json:"line,omitempty"`
	EntryID string          `json:"entry_id,omitempty"`
	Extra   json.RawMessage `json:"extra,omitempty"`
	// Also names the other copies (older snapshots, leftovers of an
	// upgrade) that hold the same record; they were aligned onto this one.
	Also []Provenance `json:"also,omitempty"`
}

// Source is one legacy conversation: everything read for one raw key, in
// order. Records hold messages, summaries, titles, checkpoints and the
// resets between generations; their Seq numbers are what they would be in a
// fresh session file (the header is seq 1, so Records[i].Seq == i+2), and a
// summary's or checkpoint's Through refers to those numbers.
type Source struct {
	System System `json:"system"`
	// Key is the raw key (canonicalised as the legacy system itself would,
	// for OpenClaw flat keys); RawKeys lists every other raw key that named
	// this conversation (the original flat key, merged legacy keys, /new
	// generations, recorded P5 aliases), sorted.
	Key     string   `json:"key"`
	RawKeys []string `json:"raw_keys,omitempty"`
	// Agent is the legacy agent the conversation belongs to, when known.
	Agent string `json:"agent,omitempty"`
	// Scope is the scope the legacy system recorded (PicoClaw P5 metas).
	Scope *keying.Scope `json:"scope,omitempty"`
	// RecordedAliases are the aliases the legacy system recorded for this
	// conversation (PicoClaw P5 meta aliases), minus agent:<a>:main on any
	// session but main. Upstream resolved them by directory
	// order, so a plan must check each for competing claims.
	RecordedAliases []string `json:"recorded_aliases,omitempty"`
	// Route is the route the legacy store recorded beside the key (Clodds:
	// its channel, account, chat and user columns). When set, the id is
	// derived from it rather than from the key's shape.
	Route *keying.Inbound `json:"route,omitempty"`
	// Name makes the session a named one (header "name"; redischat).
	Name string `json:"name,omitempty"`
	// FormerKeys are keys an earlier version of the importer may have
	// kept part of this conversation under (an OpenClaw transcript it
	// could not link yet, archived as openclaw:<agent>:<session id>): a
	// live session imported from the same install under one of them is
	// superseded by this plan (docs/migration.md, "Migrating again").
	FormerKeys []string `json:"former_keys,omitempty"`
	// KeyInferred is set when the raw key was reconstructed, not read.
	KeyInferred bool `json:"key_inferred,omitempty"`
	// Meta holds what the legacy store knew about the route and settings
	// (OpenClaw entry fields, PocketPaw index entry): goes to origin.
	Meta map[string]any `json:"meta,omitempty"`

	Files       []FileInfo         `json:"files"`
	Records     []workspace.Record `json:"records"`
	Provenance  []Provenance       `json:"provenance"`
	Generations int                `json:"generations"`
	ApproxTimes bool               `json:"approx_times,omitempty"`
	Warnings    []string           `json:"warnings,omitempty"`
	SetAside    []SetAside         `json:"set_aside,omitempty"`
}

// Messages counts the message records of s.
func (s *Source) Messages() int {
	n := 0
	for i := range s.Records {
		if s.Records[i].Type == workspace.TypeMessage {
			n++
		}
	}
	return n
}

func (s *Source) warnf(format string, args ...any) {
	s.Warnings = append(s.Warnings, fmt.Sprintf(format, args...))
}

// Result is everything read from one legacy directory.
type Result struct {
	System   System       `json:"system"`
	Root     string       `json:"root"`
	Sources  []*Source    `json:"sources"`
	Files    []FileReport `json:"files"`
	Warnings []string     `json:"warnings,omitempty"`
	// SetAside lists damaged bytes of files that reached no Source.
	SetAside []SetAside `json:"set_aside,omitempty"`
	// redisURL is the server a redischat read came from (with its
	// password: never printed), to check it is unchanged before Apply.
	redisURL string
}

// Messages counts the message records of every source.
func (r *Result) Messages() int {
	n := 0
	for _, s := range r.Sources {
		n += s.Messages()
	}
	return n
}

// Partial reports whether something could not be read (set-aside bytes or
// corrupt files): a migration of r is partial.
func (r *Result) Partial() bool {
	if len(r.SetAside) > 0 {
		return true
	}
	for _, s := range r.Sources {
		if len(s.SetAside) > 0 {
			return true
		}
	}
	for _, f := range r.Files {
		if f.Class == ClassCorrupt {
			return true
		}
	}
	return false
}

// Source returns the source with raw key k, or nil.
func (r *Result) Source(k string) *Source {
	for _, s := range r.Sources {
		if s.Key == k {
			return s
		}
	}
	return nil
}

func (r *Result) warnf(format string, args ...any) {
	r.Warnings = append(r.Warnings, fmt.Sprintf(format, args...))
}

// finish sorts everything whose order came from the file system and numbers
// the records of each source.
func (r *Result) finish() {
	sort.Slice(r.Sources, func(i, j int) bool { return r.Sources[i].Key < r.Sources[j].Key })
	sort.Slice(r.Files, func(i, j int) bool { return r.Files[i].Path < r.Files[j].Path })
	for _, s := range r.Sources {
		sort.Strings(s.RawKeys)
		s.RawKeys = uniqStrings(s.RawKeys, s.Key)
		sort.Strings(s.RecordedAliases)
		s.RecordedAliases = uniqStrings(s.RecordedAliases, s.Key)
		sort.Slice(s.Files, func(i, j int) bool { return s.Files[i].Path < s.Files[j].Path })
		s.Files = uniqFiles(s.Files)
		if s.Generations == 0 && len(s.Records) > 0 {
			s.Generations = 1
		}
	}
}

func uniqStrings(in []string, drop string) []string {
	out := in[:0]
	for i, v := range in {
		if v == drop || v == "" || (i > 0 && in[i-1] == v) {
			continue
		}
		out = append(out, v)
	}
	if len(out) == 0 {
		return nil
	}
	return out
}

func uniqFiles(in []FileInfo) []FileInfo {
	out := in[:0]
	for i, f := range in {
		if i > 0 && in[i-1].Path == f.Path {
			continue
		}
		out = append(out, f)
	}
	return out
}
