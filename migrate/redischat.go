package migrate

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"math"
	"net/url"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/picosess/picosess/keying"
	"github.com/picosess/picosess/workspace"
)

// SystemRedisChat is the Redis chat CLI: named sessions in Redis, each a
// list session:{name}:messages of JSON messages ({"role", "content",
// "timestamp"} and whatever else the CLI adds) and a hash
// session:{name}:metadata. Its pub/sub channel ai-chat:stream:{name} holds
// nothing to import. docs/migration.md describes the mapping.
const SystemRedisChat System = "redischat"

// IsRedisURL says whether a --from names a Redis server.
func IsRedisURL(s string) bool {
	for _, p := range []string{"redis://", "rediss://", "unix://"} {
		if strings.HasPrefix(s, p) {
			return true
		}
	}
	return false
}

// redisChatScanCount is the COUNT hint of the SCAN that finds sessions.
const redisChatScanCount = 1000

// ReadRedisChat reads every session of the Redis chat CLI at rawURL: only
// keys of its layout are read (session:<name>:messages lists and
// session:<name>:metadata hashes); every other key is left unread, and
// nothing is written. Each session becomes a named session (its name),
// its messages in list order, its title and times kept; fields of a
// message other than role, content and timestamp go to the record's
// origin (extras "redischat").
func ReadRedisChat(ctx context.Context, rawURL string) (*Result, error) {
	opt, err := redis.ParseURL(rawURL)
	if err != nil {
		return nil, fmt.Errorf("migrate: source %s: %s: %w", redactURL(rawURL), scrubURL(err.Error(), rawURL), ErrUsage)
	}
	opt.DisableIdentity = true
	c := redis.NewClient(opt)
	defer c.Close()
	src := redactURL(rawURL)
	if err := c.Ping(ctx).Err(); err != nil {
		return nil, fmt.Errorf("migrate: source %s: %w: %s", src, workspace.ErrStoreUnavailable, scrubURL(err.Error(), rawURL))
	}
	names, err := redisChatNames(ctx, c)
	if err != nil {
		return nil, fmt.Errorf("migrate: source %s: %w", src, err)
	}
	if len(names) == 0 {
		return nil, fmt.Errorf("migrate: %s holds no session:<name>:messages list of the Redis chat CLI: %w", src, ErrNotLegacy)
	}
	res := &Result{System: SystemRedisChat, Root: src, redisURL: rawURL}
	for _, name := range names {
		if err := ctx.Err(); err != nil {
			return nil, err
		}
		s, rep, err := readRedisChatSession(ctx, c, name)
		if err != nil {
			return nil, fmt.Errorf("migrate: source %s: session %q: %w", src, name, err)
		}
		res.Files = append(res.Files, rep...)
		if s != nil {
			res.Sources = append(res.Sources, s)
		}
	}
	res.finish()
	return res, nil
}

// redisChatUnchanged checks that every list read is still as it was (its
// items' SHA-256): the Redis chat CLI may have appended since the plan.
func redisChatUnchanged(res *Result) error {
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	opt, err := redis.ParseURL(res.redisURL)
	if err != nil {
		return err
	}
	opt.DisableIdentity = true
	c := redis.NewClient(opt)
	defer c.Close()
	for _, s := range res.Sources {
		for _, f := range s.Files {
			if !strings.HasSuffix(f.Path, ":messages") {
				continue
			}
			fi, _, err := redisChatList(ctx, c, f.Path)
			if err != nil {
				return fmt.Errorf("migrate: %s: %w: %w", f.Path, ErrSourceChanged, err)
			}
			if fi.SHA256 != f.SHA256 {
				return fmt.Errorf("migrate: %s (%d -> %d bytes): %w", f.Path, f.Size, fi.Size, ErrSourceChanged)
			}
		}
	}
	return nil
}

// redisChatList reads a list's items and their digest.
func redisChatList(ctx context.Context, c *redis.Client, key string) (FileInfo, []string, error) {
	var items []string
	for off := int64(0); ; off += redisChatBatch {
		part, err := c.LRange(ctx, key, off, off+redisChatBatch-1).Result()
		if err != nil {
			return FileInfo{}, nil, err
		}
		items = append(items, part...)
		if len(part) < redisChatBatch {
			break
		}
	}
	h := sha256.New()
	var size int64
	for _, it := range items {
		h.Write([]byte(it))
		h.Write([]byte{'\n'})
		size += int64(len(it)) + 1
	}
	return FileInfo{Path: key, Size: size, SHA256: hex.EncodeToString(h.Sum(nil))}, items, nil
}

// redisChatNames finds the session names: every list key
// session:<name>:messages (SCAN, so a big server is not blocked).
func redisChatNames(ctx context.Context, c *redis.Client) ([]string, error) {
	seen := map[string]bool{}
	it := c.ScanType(ctx, 0, "session:*:messages", redisChatScanCount, "list").Iterator()
	for it.Next(ctx) {
		k := it.Val()
		name := strings.TrimSuffix(strings.TrimPrefix(k, "session:"), ":messages")
		if name != "" {
			seen[name] = true
		}
	}
	if err := it.Err(); err != nil {
		return nil, err
	}
	out := make([]string, 0, len(seen))
	for n := range seen {
		out = append(out, n)
	}
	sort.Strings(out)
	return out, nil
}

// redisChatBatch is how many list items one LRANGE reads.
const redisChatBatch = 1000

func readRedisChatSession(ctx context.Context, c *redis.Client, name string) (*Source, []FileReport, error) {
	listKey, metaKey := "session:"+name+":messages", "session:"+name+":metadata"
	meta, err := c.HGetAll(ctx, metaKey).Result()
	if err != nil && !redis.HasErrorPrefix(err, "WRONGTYPE") {
		return nil, nil, err
	}
	fi, items, err := redisChatList(ctx, c, listKey)
	if err != nil {
		return nil, nil, err
	}
	key := keying.NormalizeName(name)
	if key == "" {
		return nil, []FileReport{{Path: listKey, Class: ClassIgnored, Reason: fmt.Sprintf("%q is not a usable session name", name)}}, nil
	}
	s := &Source{System: SystemRedisChat, Key: keying.NamedID(name), Name: name, Files: []FileInfo{fi}}
	s.RawKeys = []string{"redischat:" + name}
	if len(meta) > 0 {
		s.Meta = map[string]any{"metadata": meta}
		s.Files = append(s.Files, FileInfo{Path: metaKey})
	}
	var last time.Time
	for i, raw := range items {
		line := i + 1
		r, extra, why := redisChatMessage(raw)
		if why != "" {
			s.SetAside = append(s.SetAside, SetAside{Path: listKey, Line: line, Offset: int64(i), Length: int64(len(raw)), Reason: why, Data: []byte(raw)})
			s.warnf("%s item %d: %s: set aside", listKey, line, why)
			continue
		}
		if r.At.IsZero() {
			// No time: the one before (or the metadata's creation time).
			s.ApproxTimes = true
			r.At = last
			if r.At.IsZero() {
				r.At = metaTime(meta, "created_at", "created", "createdAt", "start_time")
			}
		}
		if !last.IsZero() && r.At.Before(last) {
			s.warnf("%s item %d: time %s before the previous message's: kept in order, dated %s", listKey, line, r.At.Format(time.RFC3339), last.Format(time.RFC3339))
			r.At = last
			s.ApproxTimes = true
		}
		last = r.At
		r.Seq = int64(len(s.Records)) + 2
		pv := Provenance{Path: listKey, Line: line}
		if len(extra) > 0 {
			pv.Extra = mustJSON(map[string]any{"redischat": extra})
		}
		s.Records = append(s.Records, r)
		s.Provenance = append(s.Provenance, pv)
	}
	if t := firstString(anyMap(meta), "title", "name", "topic"); t != "" && t != name {
		at := last
		if at.IsZero() {
			at = metaTime(meta, "updated_at", "updated", "updatedAt", "created_at")
		}
		s.Records = append(s.Records, workspace.Record{Type: workspace.TypeTitle, Seq: int64(len(s.Records)) + 2, At: at, Text: t})
		s.Provenance = append(s.Provenance, Provenance{Path: metaKey, EntryID: "title"})
	}
	if len(s.Records) == 0 && len(s.SetAside) == 0 {
		return nil, []FileReport{{Path: listKey, Class: ClassIgnored, Reason: "empty list"}}, nil
	}
	rep := []FileReport{{Path: listKey, Class: ClassImported, Key: s.Key, Records: s.Messages()}}
	if len(meta) > 0 {
		rep = append(rep, FileReport{Path: metaKey, Class: ClassImported, Key: s.Key})
	}
	return s, rep, nil
}

// redisChatMessage decodes one list item: a JSON object with a role, a
// content and a timestamp (epoch seconds or milliseconds, or ISO 8601).
// Other fields come back in extra.
func redisChatMessage(raw string) (workspace.Record, map[string]any, string) {
	var m map[string]json.RawMessage
	if err := json.Unmarshal([]byte(raw), &m); err != nil {
		return workspace.Record{}, nil, "not a JSON object: " + err.Error()
	}
	r := workspace.Record{Type: workspace.TypeMessage}
	var role string
	if err := json.Unmarshal(m["role"], &role); err != nil || role == "" {
		return r, nil, `no "role" string`
	}
	switch strings.ToLower(role) {
	case "user", "human":
		r.Role = workspace.RoleUser
	case "assistant", "ai", "bot", "model":
		r.Role = workspace.RoleAssistant
	case "system":
		r.Role = workspace.RoleSystem
	case "tool", "function":
		r.Role = workspace.RoleTool
	default:
		return r, nil, fmt.Sprintf("role %q is not user, assistant, system or tool", role)
	}
	if c, ok := m["content"]; ok {
		var s string
		if err := json.Unmarshal(c, &s); err == nil {
			r.Content = s
		} else {
			r.Content = string(c) // structured content: kept as its JSON
		}
	}
	if ts, ok := m["timestamp"]; ok {
		t, err := parseChatTime(ts)
		if err != nil {
			return r, nil, "timestamp: " + err.Error()
		}
		r.At = t
	}
	var extra map[string]any
	for k, v := range m {
		if k == "role" || k == "content" || k == "timestamp" {
			continue
		}
		if extra == nil {
			extra = map[string]any{}
		}
		var x any
		_ = json.Unmarshal(v, &x)
		extra[k] = x
	}
	if r.Role != strings.ToLower(role) {
		if extra == nil {
			extra = map[string]any{}
		}
		extra["role"] = role
	}
	return r, extra, ""
}

// parseChatTime reads epoch seconds or milliseconds (a number or a string
// of digits) or an ISO 8601 / RFC 3339 time (naive: UTC).
func parseChatTime(raw json.RawMessage) (time.Time, error) {
	var f float64
	if err := json.Unmarshal(raw, &f); err == nil {
		return epochTime(f), nil
	}
	var s string
	if err := json.Unmarshal(raw, &s); err != nil {
		return time.Time{}, fmt.Errorf("want a number or a string, got %s", raw)
	}
	if f, err := strconv.ParseFloat(s, 64); err == nil {
		return epochTime(f), nil
	}
	for _, layout := range []string{time.RFC3339Nano, "2006-01-02T15:04:05.999999999", "2006-01-02 15:04:05.999999999Z07:00", "2006-01-02 15:04:05.999999999"} {
		if t, err := time.Parse(layout, s); err == nil {
			return t.UTC(), nil
		}
	}
	return time.Time{}, fmt.Errorf("%q is neither epoch seconds/milliseconds nor ISO 8601", s)
}

// epochTime: values over 1e11 are milliseconds (1e11 s is the year 5138).
func epochTime(f float64) time.Time {
	if math.Abs(f) >= 1e11 {
		return time.UnixMilli(int64(f)).UTC()
	}
	sec, frac := math.Modf(f)
	return time.Unix(int64(sec), int64(frac*1e9)).UTC()
}

func metaTime(meta map[string]string, keys ...string) time.Time {
	for _, k := range keys {
		if v, ok := meta[k]; ok && v != "" {
			if t, err := parseChatTime(json.RawMessage(strconv.Quote(v))); err == nil {
				return t
			}
		}
	}
	return time.Time{}
}

func anyMap(m map[string]string) map[string]any {
	out := make(map[string]any, len(m))
	for k, v := range m {
		out[k] = v
	}
	return out
}

func redactURL(raw string) string {
	u, err := url.Parse(raw)
	if err != nil {
		return "redis://(unparsable URL)"
	}
	return u.Redacted()
}

func scrubURL(msg, raw string) string {
	if u, err := url.Parse(raw); err == nil {
		if p, ok := u.User.Password(); ok && p != "" {
			msg = strings.ReplaceAll(msg, p, "xxxxx")
		}
	}
	return msg
}
