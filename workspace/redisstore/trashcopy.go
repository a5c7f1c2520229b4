package redisstore

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/binary"
	"fmt"

	"github.com/redis/go-redis/v9"

	"github.com/picosess/picosess/workspace"
)

// putChunk is how many bytes of a trash entry one call of PutTrash writes.
const putChunk = 1 << 20

// putPartScript appends a piece of a trash entry being copied to its
// part key, if the part is still end bytes long. KEYS: part. ARGV: end,
// bytes.
var putPartScript = redis.NewScript(`
if redis.call('STRLEN', KEYS[1]) ~= tonumber(ARGV[1]) then return -1 end
return redis.call('APPEND', KEYS[1], ARGV[2])
`)

// putTrashScript makes a copied trash entry whole and visible: the part
// becomes its log and its hash is written, unless it is there already.
// KEYS: part, log, meta. ARGV: size, gen, mtime (µs), seq, deleted (ms),
// then meta field/value pairs ("+aliases" merged as in appendScript).
var putTrashScript = redis.NewScript(`
if redis.call('EXISTS', KEYS[3]) == 1 then return 'had' end
if redis.call('STRLEN', KEYS[1]) ~= tonumber(ARGV[1]) then return 'short' end
if tonumber(ARGV[1]) > 0 then redis.call('RENAME', KEYS[1], KEYS[2]) end
local h = {'size', ARGV[1], 'gen', ARGV[2], 'mtime', ARGV[3], 'seq', ARGV[4], 'deleted', ARGV[5]}
local aliases = {}
for i = 6, #ARGV, 2 do
  if ARGV[i] == '+aliases' or ARGV[i] == 'aliases' then
    for _, a in ipairs(cjson.decode(ARGV[i+1])) do table.insert(aliases, a) end
  else
    table.insert(h, ARGV[i]); table.insert(h, ARGV[i+1])
  end
end
if #aliases > 0 then
  local have, list = {}, {}
  for _, a in ipairs(aliases) do
    if not have[a] then table.insert(list, a); have[a] = true end
  end
  table.insert(h, 'aliases'); table.insert(h, cjson.encode(list))
end
redis.call('HSET', KEYS[3], unpack(h))
return 'ok'
`)

// PutTrash stores data as trash entry t (workspace.Store): in pieces
// appended to a part key that no reader sees, then in one script made the
// entry's log and hash. An entry already there is left alone (had); a
// part left by an interrupted copy is continued after checking that it is
// the start of data.
func (s *Store) PutTrash(ctx context.Context, t workspace.Trashed, data []byte, lastSeq int64, meta map[string]string) (bool, error) {
	id := t.ID
	part, log, mkey := s.trashKey(id, t.Name, "part"), s.trashKey(id, t.Name, "log"), s.trashKey(id, t.Name, "meta")
	index := func() error {
		if err := s.c.ZAdd(ctx, s.trashIndex(), redis.Z{Score: float64(t.Deleted.UnixMilli()), Member: t.Name}).Err(); err != nil {
			return s.fail("copy "+t.Name+" to the trash of", err)
		}
		return nil
	}
	n, err := s.c.Exists(ctx, mkey).Result()
	if err != nil {
		return false, s.fail("copy "+t.Name+" to the trash of", err)
	}
	if n == 1 {
		return true, index() // an interrupted copy may not have indexed it
	}
	have, err := s.c.StrLen(ctx, part).Result()
	if err != nil {
		return false, s.fail("copy "+t.Name+" to the trash of", err)
	}
	if have > int64(len(data)) {
		return false, fmt.Errorf("%w: trash entry %s: a copy in %s holds %d bytes, the source %d", workspace.ErrCopyDiffers, t.Name, s.addr, have, len(data))
	}
	for off := int64(0); off < have; off += putChunk {
		end := min(off+putChunk, have)
		b, err := s.c.GetRange(ctx, part, off, end-1).Bytes()
		if err != nil {
			return false, s.fail("copy "+t.Name+" to the trash of", err)
		}
		if !bytes.Equal(b, data[off:end]) {
			return false, fmt.Errorf("%w: trash entry %s: what an earlier copy wrote in %s is not the start of the source", workspace.ErrCopyDiffers, t.Name, s.addr)
		}
	}
	for off := have; off < int64(len(data)); off += putChunk {
		end := min(off+putChunk, int64(len(data)))
		r, err := putPartScript.Run(ctx, s.c, []string{part}, off, data[off:end]).Int64()
		if err != nil {
			return false, s.fail("copy "+t.Name+" to the trash of", err)
		}
		if r < 0 {
			return false, fmt.Errorf("%w: trash entry %s: another copy is writing it in %s", workspace.ErrCopyDiffers, t.Name, s.addr)
		}
	}
	var g [8]byte
	_, _ = rand.Read(g[:])
	gen := max(binary.LittleEndian.Uint64(g[:])>>1, 1)
	mtime := t.Deleted
	args := []any{len(data), gen, mtime.UnixMicro(), lastSeq, t.Deleted.UnixMilli()}
	for k, v := range meta {
		args = append(args, k, v)
	}
	r, err := putTrashScript.Run(ctx, s.c, []string{part, log, mkey}, args...).Text()
	if err != nil {
		return false, s.fail("copy "+t.Name+" to the trash of", err)
	}
	switch r {
	case "short":
		return false, fmt.Errorf("%w: trash entry %s: another copy changed it in %s", workspace.ErrCopyDiffers, t.Name, s.addr)
	case "had":
		return true, index()
	}
	return false, index()
}
