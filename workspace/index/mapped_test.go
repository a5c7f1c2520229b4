package index

import (
	"cmp"
	"math"
	"math/rand/v2"
	"slices"
	"testing"
)

// Document keys sort as (session number, seq) do, whatever their digit
// counts, and read back as what made them.
func TestDocKeysSortAsNumbers(t *testing.T) {
	type key struct {
		num uint64
		seq int64
	}
	r := rand.New(rand.NewPCG(1, 2))
	keys := []key{{0, 0}, {1, 1}, {9, 35}, {35, 36}, {36, 35}, {1295, 1296}, {1296, 0},
		{math.MaxUint64, math.MaxInt64}, {math.MaxUint64 - 1, 1}}
	for range 2000 {
		// Numbers of every width: 1 to 13 base-36 digits.
		keys = append(keys, key{r.Uint64() >> r.IntN(64), r.Int64() >> r.IntN(63)})
	}
	for _, k := range keys {
		s := docKey(k.num, k.seq)
		num, seq, ok := parseKey(s)
		if !ok || num != k.num || seq != k.seq {
			t.Fatalf("parseKey(docKey(%d, %d) = %q) = %d, %d, %v", k.num, k.seq, s, num, seq, ok)
		}
	}
	byKey := slices.Clone(keys)
	slices.SortFunc(byKey, func(a, b key) int { return cmp.Compare(docKey(a.num, a.seq), docKey(b.num, b.seq)) })
	byNum := slices.Clone(keys)
	slices.SortFunc(byNum, func(a, b key) int { return cmp.Or(cmp.Compare(a.num, b.num), cmp.Compare(a.seq, b.seq)) })
	if !slices.Equal(byKey, byNum) {
		for i := range byKey {
			if byKey[i] != byNum[i] {
				t.Fatalf("at %d: keys order %v (%q), numbers order %v (%q)", i,
					byKey[i], docKey(byKey[i].num, byKey[i].seq), byNum[i], docKey(byNum[i].num, byNum[i].seq))
			}
		}
	}
	for _, bad := range []string{"", ":", "1", "1a", "1a:", ":1a", "2a:1b", "1a:2b", "1a:1b:1c", "0:1a", "1a:d" + "zzzzzzzzzzzzz", "1-:1a", "1a:1!"} {
		if num, seq, ok := parseKey(bad); ok {
			t.Errorf("parseKey(%q) = %d, %d, ok", bad, num, seq)
		}
	}
}
