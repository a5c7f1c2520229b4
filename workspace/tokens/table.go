package tokens

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"slices"
	"strings"
)

// A rank table maps the byte strings of a BPE vocabulary to their ranks.
// tiktoken's tables are base64 text of a few MB, and building a Go map from
// one takes a quarter of a second: more than a whole picosess command. The
// compact form here is a sorted table that is used where it lies (embedded
// in the binary, read-only): nothing is parsed or built at start, and a
// lookup is a binary search.
//
// Layout, little endian:
//
//	magic   "PSTOK1\n\x00"        8 bytes
//	n       uint32                 number of entries
//	offsets (n+1) × uint32         start of each key in keys; offsets[n] = len(keys)
//	ranks   n × uint32             rank of each key
//	keys    bytes                  the keys, concatenated, in bytewise order
type table struct {
	n       int
	offsets []byte // (n+1) × 4
	ranks   []byte // n × 4
	keys    []byte
}

const tableMagic = "PSTOK1\n\x00"

// parseTable checks b and returns the table it holds, without copying.
func parseTable(b []byte) (table, error) {
	if len(b) < len(tableMagic)+4 || string(b[:len(tableMagic)]) != tableMagic {
		return table{}, errors.New("tokens: not a rank table")
	}
	b = b[len(tableMagic):]
	n := int(binary.LittleEndian.Uint32(b))
	b = b[4:]
	if len(b) < 8*n+4 {
		return table{}, errors.New("tokens: rank table is truncated")
	}
	t := table{n: n, offsets: b[:4*(n+1)], ranks: b[4*(n+1) : 4*(n+1)+4*n], keys: b[8*n+4:]}
	if int(t.offset(n)) != len(t.keys) {
		return table{}, fmt.Errorf("tokens: rank table holds %d key bytes, its offsets say %d", len(t.keys), t.offset(n))
	}
	return t, nil
}

func (t table) offset(i int) uint32 { return binary.LittleEndian.Uint32(t.offsets[4*i:]) }

func (t table) key(i int) []byte { return t.keys[t.offset(i):t.offset(i+1)] }

// rank returns the rank of key, or -1 when it is not in the table.
func (t table) rank(key []byte) int {
	lo, hi := 0, t.n
	for lo < hi {
		m := int(uint(lo+hi) >> 1)
		if bytes.Compare(t.key(m), key) < 0 {
			lo = m + 1
		} else {
			hi = m
		}
	}
	if lo < t.n && bytes.Equal(t.key(lo), key) {
		return int(binary.LittleEndian.Uint32(t.ranks[4*lo:]))
	}
	return -1
}

// encodeTable writes ranks in the compact form.
func encodeTable(ranks map[string]int) []byte {
	keys := make([]string, 0, len(ranks))
	size := 0
	for k := range ranks {
		keys = append(keys, k)
		size += len(k)
	}
	slices.SortFunc(keys, strings.Compare)
	out := make([]byte, 0, len(tableMagic)+4+8*len(keys)+4+size)
	out = append(out, tableMagic...)
	out = binary.LittleEndian.AppendUint32(out, uint32(len(keys)))
	off := 0
	for _, k := range keys {
		out = binary.LittleEndian.AppendUint32(out, uint32(off))
		off += len(k)
	}
	out = binary.LittleEndian.AppendUint32(out, uint32(off))
	for _, k := range keys {
		out = binary.LittleEndian.AppendUint32(out, uint32(ranks[k]))
	}
	for _, k := range keys {
		out = append(out, k...)
	}
	return out
}
