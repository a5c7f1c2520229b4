// Package redisstore keeps a workspace's sessions in Redis: the
// workspace.Store that lets the gateway processes of several machines
// share their sessions (docs/redis.md).
//
//	st, err := redisstore.Open(ctx, "redis://127.0.0.1:6379/0", nil)
//	w, err := workspace.Open(dir, &workspace.Options{Store: st}) // dir keeps config, cache, index
//
// # Keys (P is the prefix, "picosess:" by default)
//
//	P{<id>}:log                 string: the session's lines, byte for byte a session file
//	P{<id>}:meta                hash: size, seq (= the number of records), gen, mtime (µs),
//	                            created, updated (last message), name, scope, aliases,
//	                            title (not for sealed sessions)
//	P{<id>}:tok:<token>         string: the first seq an append call stored (expires)
//	P{<id>}:lease:<name>        string: a lease's holder and token (expires; lease.go)
//	P{<id>}:trash:<name>:log    a deleted session (and :meta), until purged
//	P{<id>}:trash:<name>:part   a trash entry being copied in (trashcopy.go)
//	Psessions                   sorted set: live session ids by last activity (ms)
//	Ptrash                      sorted set: trash names by deletion time (ms)
//	Pchanges                    pub/sub channel: the id of each session appended to
//
// One session's keys share the hash tag {<id>}, so they live in one slot
// of a Redis Cluster and an append is one Lua script on one node: it
// checks the caller's expected size and generation, appends the lines,
// updates the hash and stores the call's token, all or nothing. The
// sorted sets and the stream are indexes, written in the same round trip
// after the script; a reader that finds an entry without a session skips
// it.
package redisstore

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/url"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/picosess/picosess/workspace"
)

// Defaults of Options.
const (
	DefaultPrefix       = "picosess:"
	DefaultTokenTTL     = 24 * time.Hour
	DefaultDialTimeout  = 2 * time.Second
	DefaultReadTimeout  = 3 * time.Second
	DefaultWriteTimeout = 3 * time.Second
	DefaultPoolSize     = 16
	DefaultLockTTL      = 15 * time.Second
	DefaultWaitTimeout  = time.Second
)

// Options configure a Store; zero fields take the defaults, and the URL's
// query may set them too (dial_timeout, read_timeout, write_timeout,
// pool_size, min_idle_conns, pool_timeout, max_retries: go-redis's names;
// prefix, token_ttl, trash_ttl, cluster, lock_ttl, min_replicas,
// wait_timeout: ours). A redis+sentinel:// URL names Sentinels
// (sentinel.go).
type Options struct {
	Prefix   string
	TokenTTL time.Duration // how long a retried append is recognised
	TrashTTL time.Duration // > 0: Redis expires deleted sessions after this (cleanup's purge_after)
	// LockTTL is how long a lease (Session.TryLock) outlives its last
	// renewal; it is renewed every third of it while held.
	LockTTL time.Duration
	// MinReplicas > 0: an append is acknowledged only once that many
	// replicas have it (WAIT after the script, within WaitTimeout);
	// otherwise it fails with ErrNotReplicated.
	MinReplicas int
	WaitTimeout time.Duration
	// SentinelPassword authenticates to the Sentinels of a
	// redis+sentinel:// URL (the URL's own password is the servers').
	SentinelPassword string
	DialTimeout      time.Duration
	ReadTimeout      time.Duration
	WriteTimeout     time.Duration
	PoolSize         int
	// Cluster: the URL names nodes of a Redis Cluster (more with
	// ?addr=host:port).
	Cluster bool
}

// Store is a workspace.Store on Redis. Safe for concurrent use.
type Store struct {
	c       redis.UniversalClient
	addr    string
	prefix  string
	tokTTL  time.Duration
	trTTL   time.Duration
	cluster bool
	lockTTL time.Duration
	minRepl int
	waitFor time.Duration
}

var _ workspace.Store = (*Store)(nil)

// Open connects to the Redis at rawURL (redis://, rediss://, unix://) and
// checks that it answers. The URL's password is never part of an error.
func Open(ctx context.Context, rawURL string, o *Options) (*Store, error) {
	var opt Options
	if o != nil {
		opt = *o
	}
	u, err := url.Parse(rawURL)
	if err != nil {
		return nil, fmt.Errorf("redisstore: store URL: %w", errors.New("not a URL"))
	}
	safe := Redact(rawURL)
	q := u.Query()
	take := func(k string) string {
		v := q.Get(k)
		q.Del(k)
		return v
	}
	if v := take("prefix"); v != "" {
		opt.Prefix = v
	}
	for _, d := range []struct {
		k   string
		dst *time.Duration
	}{{"token_ttl", &opt.TokenTTL}, {"trash_ttl", &opt.TrashTTL}, {"lock_ttl", &opt.LockTTL}, {"wait_timeout", &opt.WaitTimeout}} {
		if v := take(d.k); v != "" {
			if *d.dst, err = time.ParseDuration(v); err != nil {
				return nil, fmt.Errorf("redisstore: %s: %s=%q is not a duration (like 24h)", safe, d.k, v)
			}
		}
	}
	if v := take("min_replicas"); v != "" {
		if opt.MinReplicas, err = strconv.Atoi(v); err != nil || opt.MinReplicas < 0 {
			return nil, fmt.Errorf("redisstore: %s: min_replicas=%q is not a number of replicas (0 or more)", safe, v)
		}
	}
	if v := take("cluster"); v != "" {
		if opt.Cluster, err = strconv.ParseBool(v); err != nil {
			return nil, fmt.Errorf("redisstore: %s: cluster=%q is not true or false", safe, v)
		}
	}
	u.RawQuery = q.Encode()
	if opt.Prefix == "" {
		opt.Prefix = DefaultPrefix
	}
	if opt.TokenTTL <= 0 {
		opt.TokenTTL = DefaultTokenTTL
	}
	if opt.LockTTL <= 0 {
		opt.LockTTL = DefaultLockTTL
	}
	if opt.LockTTL < 100*time.Millisecond {
		return nil, fmt.Errorf("redisstore: %s: lock_ttl %s: want at least 100ms", safe, opt.LockTTL)
	}
	if opt.WaitTimeout <= 0 {
		opt.WaitTimeout = DefaultWaitTimeout
	}
	if opt.MinReplicas < 0 {
		return nil, fmt.Errorf("redisstore: %s: min_replicas %d: want 0 or more", safe, opt.MinReplicas)
	}
	s := &Store{addr: safe, prefix: opt.Prefix, tokTTL: opt.TokenTTL, trTTL: opt.TrashTTL, cluster: opt.Cluster,
		lockTTL: opt.LockTTL, minRepl: opt.MinReplicas, waitFor: opt.WaitTimeout}
	sentinel := isSentinel(u.Scheme)
	switch {
	case sentinel && opt.Cluster:
		return nil, fmt.Errorf("redisstore: %s: a Sentinel URL (redis+sentinel://) and cluster are exclusive", safe)
	case opt.Cluster && opt.MinReplicas > 0:
		return nil, fmt.Errorf("redisstore: %s: min_replicas is not supported on a Cluster (the indexes are written outside the script's slot)", safe)
	}
	if sentinel {
		fo, err := failoverOptions(u)
		if err != nil {
			return nil, fmt.Errorf("redisstore: %s: %s", safe, scrub(err, rawURL))
		}
		fo.DialTimeout = pick(opt.DialTimeout, fo.DialTimeout, DefaultDialTimeout)
		fo.ReadTimeout = waitReadTimeout(pick(opt.ReadTimeout, fo.ReadTimeout, DefaultReadTimeout), s.waitIf())
		fo.WriteTimeout = pick(opt.WriteTimeout, fo.WriteTimeout, DefaultWriteTimeout)
		fo.PoolSize = pickInt(opt.PoolSize, fo.PoolSize, DefaultPoolSize)
		fo.SentinelPassword = opt.SentinelPassword
		fo.DisableIdentity = true
		s.c = redis.NewFailoverClient(fo)
	} else if opt.Cluster {
		co, err := redis.ParseClusterURL(u.String())
		if err != nil {
			return nil, fmt.Errorf("redisstore: %s: %s", safe, scrub(err, rawURL))
		}
		co.DialTimeout = pick(opt.DialTimeout, co.DialTimeout, DefaultDialTimeout)
		co.ReadTimeout = pick(opt.ReadTimeout, co.ReadTimeout, DefaultReadTimeout)
		co.WriteTimeout = pick(opt.WriteTimeout, co.WriteTimeout, DefaultWriteTimeout)
		co.PoolSize = pickInt(opt.PoolSize, co.PoolSize, DefaultPoolSize)
		co.DisableIdentity = true
		s.c = redis.NewClusterClient(co)
	} else {
		ro, err := redis.ParseURL(u.String())
		if err != nil {
			return nil, fmt.Errorf("redisstore: %s: %s", safe, scrub(err, rawURL))
		}
		ro.DialTimeout = pick(opt.DialTimeout, ro.DialTimeout, DefaultDialTimeout)
		ro.ReadTimeout = waitReadTimeout(pick(opt.ReadTimeout, ro.ReadTimeout, DefaultReadTimeout), s.waitIf())
		ro.WriteTimeout = pick(opt.WriteTimeout, ro.WriteTimeout, DefaultWriteTimeout)
		ro.PoolSize = pickInt(opt.PoolSize, ro.PoolSize, DefaultPoolSize)
		ro.DisableIdentity = true
		s.c = redis.NewClient(ro)
	}
	if err := s.c.Ping(ctx).Err(); err != nil {
		s.c.Close()
		return nil, s.fail("connect", err)
	}
	return s, nil
}

func pick(set, fromURL, def time.Duration) time.Duration {
	switch {
	case set > 0:
		return set
	case fromURL > 0:
		return fromURL
	}
	return def
}

func pickInt(set, fromURL, def int) int {
	switch {
	case set > 0:
		return set
	case fromURL > 0:
		return fromURL
	}
	return def
}

// Redact returns rawURL without its password.
func Redact(rawURL string) string {
	u, err := url.Parse(rawURL)
	if err != nil {
		return "redis://(unparsable URL)"
	}
	if _, ok := u.User.Password(); ok {
		u.User = url.UserPassword(u.User.Username(), "xxxxx")
	}
	return u.Redacted()
}

// scrub keeps a URL's password out of an error text.
func scrub(err error, rawURL string) string {
	msg := err.Error()
	if u, perr := url.Parse(rawURL); perr == nil {
		if p, ok := u.User.Password(); ok && p != "" {
			msg = strings.ReplaceAll(msg, p, "xxxxx")
		}
	}
	return msg
}

// SetTrashTTL makes Redis expire sessions moved to the trash from now on
// after d (cleanup.purge_after); 0: they stay until purged.
func (s *Store) SetTrashTTL(d time.Duration) { s.trTTL = d }

// Close closes the connections.
func (s *Store) Close() error { return s.c.Close() }

// Client is the go-redis client (tests, check, migrate).
func (s *Store) Client() redis.UniversalClient { return s.c }

// Kind is "redis".
func (s *Store) Kind() string { return "redis" }

// Addr is the URL without its password.
func (s *Store) Addr() string { return s.addr }

// Prefix is the prefix of every key.
func (s *Store) Prefix() string { return s.prefix }

func (s *Store) key(id, k string) string { return s.prefix + "{" + id + "}:" + k }
func (s *Store) trashKey(id, name, k string) string {
	return s.prefix + "{" + id + "}:trash:" + name + ":" + k
}
func (s *Store) sessionsKey() string { return s.prefix + "sessions" }
func (s *Store) trashIndex() string  { return s.prefix + "trash" }

// movedIndex is the sorted set of sessions moved to or from the trash, by
// the time of the move (ms): what ChangedSince reads beside the activity
// set. Entries older than movedKeep are dropped as new ones come.
func (s *Store) movedIndex() string { return s.prefix + "moved" }

// movedKeep is how long movedIndex remembers a move: far longer than a
// search index waits between two looks (it looks at every session when it
// has not looked for this long: its full rescan is every few minutes).
const movedKeep = 24 * time.Hour

// noteMoved adds id's move at to the moved set in pipe, dropping moves
// older than movedKeep.
func (s *Store) noteMoved(ctx context.Context, pipe redis.Pipeliner, id string, at time.Time) {
	pipe.ZAdd(ctx, s.movedIndex(), redis.Z{Score: float64(at.UnixMilli()), Member: id})
	pipe.ZRemRangeByScore(ctx, s.movedIndex(), "-inf", "("+strconv.FormatInt(at.Add(-movedKeep).UnixMilli(), 10))
}

// ChangedSince returns the sessions appended to since (the activity set
// moves at most a second behind the last append; callers allow for it and
// for the machines' clocks) and those moved to or from the trash since.
func (s *Store) ChangedSince(ctx context.Context, since time.Time) ([]string, error) {
	min := strconv.FormatInt(since.UnixMilli(), 10)
	pipe := s.c.Pipeline()
	active := pipe.ZRangeByScore(ctx, s.sessionsKey(), &redis.ZRangeBy{Min: min, Max: "+inf"})
	moved := pipe.ZRangeByScore(ctx, s.movedIndex(), &redis.ZRangeBy{Min: min, Max: "+inf"})
	if _, err := pipe.Exec(ctx); err != nil {
		return nil, s.fail("changes at", err)
	}
	ids := active.Val()
	return append(ids, moved.Val()...), nil
}
func (s *Store) changesKey() string { return s.prefix + "changes" }

// unavailable tells a server that cannot be reached, or that answered
// that it cannot serve now, from an error of the call itself.
func unavailable(err error) bool {
	if err == nil {
		return false
	}
	var ne net.Error
	var oe *net.OpError
	switch {
	case errors.As(err, &ne), errors.As(err, &oe),
		errors.Is(err, io.EOF), errors.Is(err, io.ErrUnexpectedEOF),
		errors.Is(err, syscall.ECONNREFUSED), errors.Is(err, syscall.ECONNRESET), errors.Is(err, syscall.EPIPE),
		errors.Is(err, redis.ErrClosed), errors.Is(err, redis.ErrPoolTimeout),
		errors.Is(err, context.DeadlineExceeded):
		return true
	}
	msg := err.Error()
	for _, p := range []string{"LOADING", "READONLY", "MASTERDOWN", "CLUSTERDOWN", "TRYAGAIN", "BUSY ", "connection refused", "connection reset", "broken pipe", "i/o timeout"} {
		if strings.HasPrefix(msg, p) || strings.Contains(msg, p) {
			return true
		}
	}
	return false
}

// fail wraps an error of a call: workspace.ErrStoreUnavailable when the
// server could not be reached or serve.
func (s *Store) fail(op string, err error) error {
	if errors.Is(err, context.Canceled) {
		return fmt.Errorf("redisstore: %s %s: %w", op, s.addr, err)
	}
	if unavailable(err) {
		return fmt.Errorf("redisstore: %s %s: %w: %w", op, s.addr, workspace.ErrStoreUnavailable, err)
	}
	return fmt.Errorf("redisstore: %s %s: %w", op, s.addr, err)
}

// appendScript is Store.Append's one atomic step.
// KEYS: log, meta, token; on a single server also the sessions sorted set
// and the changes stream (on a Cluster they are in other slots: written
// after the script, in the same round trip).
// ARGV: end, gen, data, first, last, token ttl (s), id, time (µs; the
// caller's clock: the session's mtime), then meta field/value pairs
// ("+aliases": merge into the JSON list).
// The token is set first (SET NX GET: one call tells a retry and stores
// the token) and removed again when the size check fails.
var appendScript = redis.NewScript(`
local t = redis.call('SET', KEYS[3], ARGV[4], 'NX', 'GET', 'EX', ARGV[6])
local m = redis.call('HMGET', KEYS[2], 'size', 'gen', 'mtime', 'seq', 'zat')
if t then
  return {'dup', t, m[1] or '0', m[2] or '0', m[3] or '0', m[4] or '0'}
end
if (m[1] or '0') ~= ARGV[1] or (m[1] and m[2] ~= ARGV[2]) then
  redis.call('DEL', KEYS[3])
  return {'conflict', '', m[1] or '0', m[2] or '0', m[3] or '0', m[4] or '0'}
end
local n = redis.call('APPEND', KEYS[1], ARGV[3])
local mt = ARGV[8]
local h = {'size', n, 'gen', ARGV[2], 'mtime', mt, 'seq', ARGV[5]}
for i = 9, #ARGV, 2 do
  if ARGV[i] == '+aliases' then
    local cur = redis.call('HGET', KEYS[2], 'aliases')
    local have, list = {}, {}
    if cur then list = cjson.decode(cur) end
    for _, a in ipairs(list) do have[a] = true end
    for _, a in ipairs(cjson.decode(ARGV[i+1])) do
      if not have[a] then table.insert(list, a); have[a] = true end
    end
    table.insert(h, 'aliases'); table.insert(h, cjson.encode(list))
  else
    table.insert(h, ARGV[i]); table.insert(h, ARGV[i+1])
  end
end
-- Activity for listing and for other machines' search indexes
-- (ChangedSince), at one-second resolution: the session's score moves at
-- most once a second, and is never more than a second behind its last
-- append (zat: when it last moved).
local moved = KEYS[4] and (not m[5] or tonumber(mt) - tonumber(m[5]) >= 1000000)
if moved then table.insert(h, 'zat'); table.insert(h, mt) end
redis.call('HSET', KEYS[2], unpack(h))
if KEYS[4] then
  if moved then
    redis.call('ZADD', KEYS[4], math.floor(tonumber(mt) / 1000), ARGV[7])
  end
  redis.call('PUBLISH', KEYS[5], ARGV[7])
end
return {'ok', '', n, ARGV[2], mt, ARGV[5]}
`)

// Append stores a.Data at the end of the session if it is still as the
// caller saw it (workspace.Store).
func (s *Store) Append(ctx context.Context, a workspace.StoreAppend) (workspace.StoreResult, error) {
	args := make([]any, 0, 8+2*len(a.Meta))
	now := a.Now
	if now.IsZero() {
		now = time.Now()
	}
	args = append(args, a.End, a.Gen, a.Data, a.First, a.LastSeq, int64(s.tokTTL/time.Second), a.ID, now.UnixMicro())
	for k, v := range a.Meta {
		args = append(args, k, v)
	}
	keys := []string{s.key(a.ID, "log"), s.key(a.ID, "meta"), s.key(a.ID, "tok:"+a.Token)}
	var run *redis.Cmd
	var wait *redis.Cmd
	switch {
	case !s.cluster && s.minRepl == 0:
		// One command: the indexes are written by the script too.
		keys = append(keys, s.sessionsKey(), s.changesKey())
		run = appendScript.Run(ctx, s.c, keys, args...)
	case !s.cluster:
		// The script, then WAIT for the replicas, in one round trip on
		// one connection (sentinel.go).
		keys = append(keys, s.sessionsKey(), s.changesKey())
		for i := 0; i < 2; i++ {
			pipe := s.c.Pipeline()
			if i == 0 {
				run = appendScript.EvalSha(ctx, pipe, keys, args...)
			} else {
				run = appendScript.Eval(ctx, pipe, keys, args...)
			}
			wait = s.waitReplicas(ctx, pipe)
			_, _ = pipe.Exec(ctx)
			if !redis.HasErrorPrefix(run.Err(), "NOSCRIPT") {
				break
			}
		}
	default:
		pipe := s.c.Pipeline()
		run = appendScript.EvalSha(ctx, pipe, keys, args...)
		pipe.ZAdd(ctx, s.sessionsKey(), redis.Z{Score: float64(a.Now.UnixMilli()), Member: a.ID})
		pipe.Publish(ctx, s.changesKey(), a.ID)
		_, _ = pipe.Exec(ctx)
		if redis.HasErrorPrefix(run.Err(), "NOSCRIPT") {
			// A restarted server forgot the script: once more, with its text.
			if run = appendScript.Eval(ctx, s.c, keys, args...); run.Err() == nil {
				s.c.ZAdd(ctx, s.sessionsKey(), redis.Z{Score: float64(a.Now.UnixMilli()), Member: a.ID})
				s.c.Publish(ctx, s.changesKey(), a.ID)
			}
		}
		// An error of the index writes alone (the script ran) is not an
		// error of the append: the next append writes them again.
	}
	if err := run.Err(); err != nil {
		return workspace.StoreResult{}, s.fail("append to "+a.ID+" at", err)
	}
	res, err := run.Slice()
	if err != nil || len(res) != 6 {
		return workspace.StoreResult{}, fmt.Errorf("redisstore: append to %s at %s: unexpected reply %v (%v)", a.ID, s.addr, res, err)
	}
	st, err := statOf(a.ID, res[2], res[3], res[4], res[5])
	if err != nil {
		return workspace.StoreResult{}, fmt.Errorf("redisstore: append to %s at %s: %w", a.ID, s.addr, err)
	}
	if wait != nil && res[0] != "conflict" {
		// Stored (now or by an earlier attempt of this call): acknowledged
		// only once enough replicas have it.
		if err := s.replicated(a.ID, wait); err != nil {
			return workspace.StoreResult{}, err
		}
	}
	switch res[0] {
	case "ok":
		return workspace.StoreResult{Stat: st}, nil
	case "dup":
		first, _ := strconv.ParseInt(fmt.Sprint(res[1]), 10, 64)
		return workspace.StoreResult{Stat: st, Dup: true, First: first}, nil
	}
	return workspace.StoreResult{}, &workspace.ConflictError{ID: a.ID, Now: st, Missing: st.Size == 0}
}

// statOf decodes the size, gen, mtime (µs) and seq of a session.
func statOf(id string, size, gen, mtime, seq any) (workspace.StoreStat, error) {
	st := workspace.StoreStat{ID: id}
	var err error
	num := func(v any) (int64, error) {
		switch x := v.(type) {
		case nil:
			return 0, nil
		case int64:
			return x, nil
		case string:
			if x == "" {
				return 0, nil
			}
			return strconv.ParseInt(x, 10, 64)
		}
		return 0, fmt.Errorf("unexpected %T", v)
	}
	if st.Size, err = num(size); err != nil {
		return st, fmt.Errorf("size: %w", err)
	}
	g, err := num(gen)
	if err != nil || g < 0 {
		return st, fmt.Errorf("gen: %v %w", gen, err)
	}
	st.Gen = uint64(g)
	us, err := num(mtime)
	if err != nil {
		return st, fmt.Errorf("mtime: %w", err)
	}
	if us > 0 {
		st.ModTime = time.UnixMicro(us).UTC()
	}
	if st.LastSeq, err = num(seq); err != nil {
		return st, fmt.Errorf("seq: %w", err)
	}
	return st, nil
}

// Stat returns the session's size, generation, time and last seq.
func (s *Store) Stat(ctx context.Context, id string) (workspace.StoreStat, error) {
	v, err := s.c.HMGet(ctx, s.key(id, "meta"), "size", "gen", "mtime", "seq").Result()
	if err != nil {
		return workspace.StoreStat{}, s.fail("stat "+id+" at", err)
	}
	if v[0] == nil {
		return workspace.StoreStat{}, fmt.Errorf("%w: session %s in %s", workspace.ErrNotFound, id, s.addr)
	}
	st, err := statOf(id, v[0], v[1], v[2], v[3])
	if err != nil {
		return st, fmt.Errorf("redisstore: stat %s at %s: %w", id, s.addr, err)
	}
	return st, nil
}

// ReadAt reads the session's bytes at off (GETRANGE).
func (s *Store) ReadAt(ctx context.Context, id string, p []byte, off int64) (int, error) {
	if len(p) == 0 {
		return 0, nil
	}
	b, err := s.c.GetRange(ctx, s.key(id, "log"), off, off+int64(len(p))-1).Bytes()
	if err != nil {
		return 0, s.fail("read "+id+" at", err)
	}
	return copy(p, b), nil
}

// listBatch is how many sessions one pipelined round trip stats.
const listBatch = 1000

// List returns every live session, most recently active first.
func (s *Store) List(ctx context.Context) ([]workspace.StoreStat, error) {
	ids, err := s.c.ZRevRange(ctx, s.sessionsKey(), 0, -1).Result()
	if err != nil {
		return nil, s.fail("list sessions at", err)
	}
	out := make([]workspace.StoreStat, 0, len(ids))
	for i := 0; i < len(ids); i += listBatch {
		part := ids[i:min(i+listBatch, len(ids))]
		pipe := s.c.Pipeline()
		cmds := make([]*redis.SliceCmd, len(part))
		for k, id := range part {
			cmds[k] = pipe.HMGet(ctx, s.key(id, "meta"), "size", "gen", "mtime", "seq")
		}
		if _, err := pipe.Exec(ctx); err != nil {
			return nil, s.fail("list sessions at", err)
		}
		for k, c := range cmds {
			v := c.Val()
			if len(v) != 4 || v[0] == nil {
				continue // trashed meanwhile
			}
			st, err := statOf(part[k], v[0], v[1], v[2], v[3])
			if err != nil {
				return nil, fmt.Errorf("redisstore: list sessions at %s: %s: %w", s.addr, part[k], err)
			}
			out = append(out, st)
		}
	}
	return out, nil
}

// trashScript moves a session's keys to the trash.
// KEYS: log, meta, trash log, trash meta. ARGV: deleted (ms), ttl (ms, 0
// none), the size it must have (-1: any).
var trashScript = redis.NewScript(`
if redis.call('EXISTS', KEYS[2]) == 0 then return 'missing' end
if redis.call('EXISTS', KEYS[4]) == 1 then return 'exists' end
if tonumber(ARGV[3]) >= 0 and tonumber(redis.call('HGET', KEYS[2], 'size') or '0') ~= tonumber(ARGV[3]) then return 'changed' end
if redis.call('EXISTS', KEYS[1]) == 1 then redis.call('RENAME', KEYS[1], KEYS[3]) end
redis.call('RENAME', KEYS[2], KEYS[4])
redis.call('HSET', KEYS[4], 'deleted', ARGV[1])
if tonumber(ARGV[2]) > 0 then
  redis.call('PEXPIRE', KEYS[4], ARGV[2])
  if redis.call('EXISTS', KEYS[3]) == 1 then redis.call('PEXPIRE', KEYS[3], ARGV[2]) end
end
return 'ok'
`)

// Trash moves session id to the trash as name; with ifSize >= 0 only if
// it still holds that many bytes.
func (s *Store) Trash(ctx context.Context, id, name string, at time.Time, ifSize int64) error {
	keys := []string{s.key(id, "log"), s.key(id, "meta"), s.trashKey(id, name, "log"), s.trashKey(id, name, "meta")}
	r, err := trashScript.Run(ctx, s.c, keys, at.UnixMilli(), s.trTTL.Milliseconds(), ifSize).Text()
	if err != nil {
		return s.fail("trash "+id+" at", err)
	}
	switch r {
	case "missing":
		return fmt.Errorf("%w: session %s in %s", workspace.ErrNotFound, id, s.addr)
	case "exists":
		return fmt.Errorf("%w: %s in the trash of %s", workspace.ErrExists, name, s.addr)
	case "changed":
		return fmt.Errorf("%w: session %s in %s no longer holds %d bytes: left live", workspace.ErrChanged, id, s.addr, ifSize)
	}
	pipe := s.c.Pipeline()
	pipe.ZAdd(ctx, s.trashIndex(), redis.Z{Score: float64(at.UnixMilli()), Member: name})
	pipe.ZRem(ctx, s.sessionsKey(), id)
	s.noteMoved(ctx, pipe, id, time.Now())
	if _, err := pipe.Exec(ctx); err != nil {
		return s.fail("trash "+id+" at", err)
	}
	return nil
}

// ListTrash lists the deleted sessions, sorted by name.
func (s *Store) ListTrash(ctx context.Context) ([]workspace.Trashed, error) {
	names, err := s.c.ZRange(ctx, s.trashIndex(), 0, -1).Result()
	if err != nil {
		return nil, s.fail("list trash at", err)
	}
	var out []workspace.Trashed
	for i := 0; i < len(names); i += listBatch {
		part := names[i:min(i+listBatch, len(names))]
		pipe := s.c.Pipeline()
		cmds := make([]*redis.SliceCmd, len(part))
		for k, n := range part {
			cmds[k] = pipe.HMGet(ctx, s.trashKey(trashID(n), n, "meta"), "size", "deleted")
		}
		if _, err := pipe.Exec(ctx); err != nil {
			return nil, s.fail("list trash at", err)
		}
		for k, c := range cmds {
			v := c.Val()
			if len(v) != 2 || v[0] == nil {
				continue // purged, or expired (trash_ttl)
			}
			size, _ := strconv.ParseInt(fmt.Sprint(v[0]), 10, 64)
			ms, _ := strconv.ParseInt(fmt.Sprint(v[1]), 10, 64)
			out = append(out, workspace.Trashed{Name: part[k], ID: trashID(part[k]), Deleted: time.UnixMilli(ms).UTC(), Size: size})
		}
	}
	return out, nil
}

// trashID is the id a trash name starts with (sk_v1_ and 64 hex digits).
func trashID(name string) string {
	if len(name) < 70 {
		return ""
	}
	return name[:70]
}

// restoreScript brings a trash entry back. KEYS: trash log, trash meta,
// log, meta.
var restoreScript = redis.NewScript(`
if redis.call('EXISTS', KEYS[4]) == 1 then return 'exists' end
if redis.call('EXISTS', KEYS[2]) == 0 then return 'missing' end
if redis.call('EXISTS', KEYS[1]) == 1 then
  redis.call('RENAME', KEYS[1], KEYS[3])
  redis.call('PERSIST', KEYS[3])
end
redis.call('RENAME', KEYS[2], KEYS[4])
redis.call('PERSIST', KEYS[4])
redis.call('HDEL', KEYS[4], 'deleted')
return redis.call('HGET', KEYS[4], 'mtime')
`)

// Restore brings trash entry name back as session id.
func (s *Store) Restore(ctx context.Context, name, id string) error {
	keys := []string{s.trashKey(id, name, "log"), s.trashKey(id, name, "meta"), s.key(id, "log"), s.key(id, "meta")}
	r, err := restoreScript.Run(ctx, s.c, keys).Text()
	if err != nil {
		return s.fail("restore "+name+" at", err)
	}
	switch r {
	case "exists":
		return fmt.Errorf("%w: session %s is live in %s", workspace.ErrExists, id, s.addr)
	case "missing":
		return fmt.Errorf("%w: %s in the trash of %s", workspace.ErrNotFound, name, s.addr)
	}
	us, _ := strconv.ParseInt(r, 10, 64)
	pipe := s.c.Pipeline()
	pipe.ZRem(ctx, s.trashIndex(), name)
	pipe.ZAdd(ctx, s.sessionsKey(), redis.Z{Score: float64(us / 1000), Member: id})
	s.noteMoved(ctx, pipe, id, time.Now())
	pipe.Publish(ctx, s.changesKey(), id)
	if _, err := pipe.Exec(ctx); err != nil {
		return s.fail("restore "+name+" at", err)
	}
	return nil
}

// Purge removes trash entry name for good.
func (s *Store) Purge(ctx context.Context, name string) error {
	id := trashID(name)
	if id == "" {
		return fmt.Errorf("%w: %q is not a trash name", workspace.ErrNotFound, name)
	}
	if err := s.c.Del(ctx, s.trashKey(id, name, "log"), s.trashKey(id, name, "meta")).Err(); err != nil {
		return s.fail("purge "+name+" at", err)
	}
	if err := s.c.ZRem(ctx, s.trashIndex(), name).Err(); err != nil {
		return s.fail("purge "+name+" at", err)
	}
	return nil
}

// ReadTrashAt reads the bytes of a deleted session.
func (s *Store) ReadTrashAt(ctx context.Context, name string, p []byte, off int64) (int, error) {
	if len(p) == 0 {
		return 0, nil
	}
	b, err := s.c.GetRange(ctx, s.trashKey(trashID(name), name, "log"), off, off+int64(len(p))-1).Bytes()
	if err != nil {
		return 0, s.fail("read "+name+" at", err)
	}
	return copy(p, b), nil
}

// Follow subscribes to the changes channel: the id of each session
// appended to.
func (s *Store) Follow(ctx context.Context) (<-chan string, error) {
	ps := s.c.Subscribe(ctx, s.changesKey())
	if _, err := ps.Receive(ctx); err != nil {
		ps.Close()
		return nil, s.fail("follow", err)
	}
	out := make(chan string, 64)
	go func() {
		defer close(out)
		defer ps.Close()
		ch := ps.Channel()
		for {
			select {
			case <-ctx.Done():
				return
			case m, ok := <-ch:
				if !ok {
					return
				}
				select {
				case out <- m.Payload:
				default: // a hint: the follower is scanning already
				}
			}
		}
	}()
	return out, nil
}
