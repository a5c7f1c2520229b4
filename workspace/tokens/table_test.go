package tokens

import (
	"bytes"
	"flag"
	"os"
	"testing"
)

var update = flag.Bool("update", false, "rewrite the embedded rank table from the offline tables")

// The embedded table is exactly the offline o200k_base ranks in compact
// form; -update regenerates it.
func TestEmbeddedTable(t *testing.T) {
	ranks, err := loadRanks(DefaultEncoding)
	if err != nil {
		t.Fatal(err)
	}
	want := encodeTable(ranks)
	if *update {
		if err := os.WriteFile(DefaultEncoding+".bin", want, 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	if !bytes.Equal(o200kTable, want) {
		t.Fatalf("%s.bin is stale (%d bytes, want %d): run go test ./workspace/tokens -run TestEmbeddedTable -update", DefaultEncoding, len(o200kTable), len(want))
	}
	tab, err := parseTable(o200kTable)
	if err != nil {
		t.Fatal(err)
	}
	if tab.n != len(ranks) {
		t.Fatalf("%d entries, want %d", tab.n, len(ranks))
	}
	for k, r := range ranks {
		if got := tab.rank([]byte(k)); got != r {
			t.Fatalf("rank(%q) = %d, want %d", k, got, r)
		}
	}
	for _, k := range []string{"", "\xff\xfe\xfd\xfc not a token", "zzzzzzzzzzzzzzzzzzzzzzzzzzzzzz"} {
		if got := tab.rank([]byte(k)); got != -1 {
			t.Fatalf("rank(%q) = %d, want -1", k, got)
		}
	}
}

func TestParseTableRejectsDamage(t *testing.T) {
	good := encodeTable(map[string]int{"a": 0, "b": 1, "ab": 2})
	for name, b := range map[string][]byte{
		"empty":     nil,
		"magic":     append([]byte("XXXXXXXX"), good[8:]...),
		"truncated": good[:len(good)-1],
		"cut":       good[:20],
	} {
		if _, err := parseTable(b); err == nil {
			t.Errorf("%s: accepted", name)
		}
	}
	tab, err := parseTable(good)
	if err != nil || tab.rank([]byte("ab")) != 2 || tab.rank([]byte("b")) != 1 || tab.rank([]byte("c")) != -1 {
		t.Fatalf("small table: %v", err)
	}
}
