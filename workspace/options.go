package workspace

import (
	"fmt"
	"io"
	"log/slog"
	"time"
	"unicode/utf8"

	"github.com/picosess/picosess/workspace/config"
	"github.com/picosess/picosess/workspace/seal"
)

// Durability says when an append is on stable storage.
type Durability string

const (
	// DurabilityAlways fsyncs every append before it returns (the default).
	DurabilityAlways Durability = "always"
	// DurabilityBatch is group commit: appends to one session running at
	// the same time, in one process or several, share fsyncs; each append
	// still returns only after an fsync that covers its bytes
	// (docs/crash-safety.md, "Group commit").
	DurabilityBatch Durability = "batch"
	// DurabilityNever leaves flushing to the operating system: an append
	// survives a crash of the process, not of the machine.
	DurabilityNever Durability = "never"
)

// Defaults used where Options leaves a field zero.
const (
	DefaultDurability  = DurabilityAlways
	DefaultLockTimeout = 10 * time.Second
	// DefaultTitleRunes is the length of a default title (the first user
	// message, cut).
	DefaultTitleRunes = 60
	// DefaultMaxOpenLocks bounds the lock files one Workspace keeps open.
	DefaultMaxOpenLocks = 128
	// DefaultMaxRecordBytes is the largest record (one line, encoded,
	// without its newline) an append writes, and the most of one line a
	// reader holds: 8 MiB, the default request body limit of serve.
	DefaultMaxRecordBytes = 8 << 20
)

// Options configure a Workspace. The zero value, and a nil *Options, give
// the defaults.
type Options struct {
	// Durability of appends; "" means DefaultDurability.
	Durability Durability
	// LockTimeout bounds the wait for a session's lock; 0 means
	// DefaultLockTimeout, a negative value means try once.
	LockTimeout time.Duration
	// Logger receives warnings (corrupt lines skipped by readers, torn
	// tails set aside). nil discards.
	Logger *slog.Logger
	// CountTokens fills the tokens field of message and summary records
	// appended without one. nil means the counter config.json's summarize
	// block names (tiktoken o200k_base by default), as the CLI and
	// summarize's context builder count: a stored count is the same
	// whichever process wrote it.
	CountTokens func(Record) int
	// FS is the filesystem seam; nil means OSFS.
	FS FS
	// Now is the clock that stamps records; nil means time.Now. Tests use
	// it for golden files.
	Now func() time.Time
	// Config is the workspace configuration: the lifecycle policies that
	// AppendTurn, Policy, Active and cleanup apply (resets, triggers,
	// limits, send policy, expiry). nil means Open reads <root>/config.json
	// (a missing file gives the defaults; a broken one fails Open with an
	// error wrapping ErrConfig), unless NoConfig is set.
	Config *config.File
	// NoConfig makes Open ignore <root>/config.json when Config is nil:
	// the defaults apply (default triggers /new and /reset, no automatic
	// reset, no limits). check and repair use it, so that a broken config
	// does not stop them.
	NoConfig bool
	// NoCreate makes Open create nothing: a missing sessions/.trash or
	// locks/ reads as empty (a write that needs it fails, naming it).
	// check uses it, so that it changes nothing, also on a read-only disk.
	NoCreate bool
	// Location is the time zone of daily resets when the config names
	// none; nil means time.Local.
	Location *time.Location
	// MaxRecordBytes is the largest record an append writes: one whose
	// line (encoded, without its newline) is longer fails with an error
	// wrapping ErrTooLarge that names its size and the limit, on every
	// write path (Append, AppendTurn, Update, AppendIf, migrate). 0 means
	// DefaultMaxRecordBytes; a negative value means no limit. Readers of
	// this Workspace hold at most max(DefaultMaxRecordBytes,
	// MaxRecordBytes) bytes of one line (no bound when negative): a longer one
	// (written by hand, or by a version without the limit) is passed over
	// in bounded memory and reported (History.Skipped; Meta counts it
	// from its first and last bytes; Check warns, oversized_record).
	MaxRecordBytes int
	// readLimit is what readers hold of one line (scan.go), derived from
	// MaxRecordBytes when the options are resolved.
	readLimit int64
	// Key is the master key of an encrypted workspace (docs/encryption.md):
	// with it, records of encrypted sessions are opened on reading and
	// sealed on writing; nil means reading their content fails with
	// ErrKeyRequired, and so does writing to them. Config's
	// encryption.enabled decides whether new sessions are encrypted.
	Key *seal.Key
	// ListingRescan is how often a listing that follows the change
	// journal looks at every session file anyway (meta_trust.go); 0 means
	// DefaultListingRescan, a negative value means every listing does
	// (one stat per session, as before the journal).
	ListingRescan time.Duration
	// Store keeps the records in a store that several machines share
	// (workspace/redisstore) instead of the files of sessions/; nil means
	// the files. The directory still holds config.json, cache/, locks/
	// and the search index. Durability then is the server's (docs/redis.md).
	Store Store
}

// resolved returns a copy of o with every default filled in.
func (o *Options) resolved() (Options, error) {
	var r Options
	if o != nil {
		r = *o
	}
	switch r.Durability {
	case "":
		r.Durability = DefaultDurability
	case DurabilityAlways, DurabilityBatch, DurabilityNever:
	default:
		return r, fmt.Errorf("workspace: unknown durability %q (want always, batch or never)", r.Durability)
	}
	if r.LockTimeout == 0 {
		r.LockTimeout = DefaultLockTimeout
	}
	if r.MaxRecordBytes == 0 {
		r.MaxRecordBytes = DefaultMaxRecordBytes
	}
	r.readLimit = readLimitFor(r.MaxRecordBytes)
	if r.Logger == nil {
		r.Logger = slog.New(slog.NewTextHandler(io.Discard, nil))
	}
	if r.FS == nil {
		r.FS = OSFS{}
	}
	if r.Now == nil {
		r.Now = time.Now
	}
	return r, nil
}

// EstimateTokens is a crude token counter: about one token per four bytes
// of text (content, reasoning, tool calls, summary text), at least one for
// a record with any text. Tests use it where the count does not matter;
// the default counter is exact (see Options.CountTokens).
func EstimateTokens(r Record) int {
	n := len(r.Content) + len(r.ReasoningContent) + len(r.ToolCalls) + len(r.Text)
	if n == 0 {
		return 0
	}
	return (n + 3) / 4
}

// cutRunes returns s cut to at most n runes.
func cutRunes(s string, n int) string {
	if utf8.RuneCountInString(s) <= n {
		return s
	}
	i := 0
	for j := range s {
		if i == n {
			return s[:j]
		}
		i++
	}
	return s
}
