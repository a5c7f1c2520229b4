package index

import (
	"context"
	"fmt"
	"strconv"
	"strings"
	"syscall"
	"testing"

	"github.com/picosess/picosess/workspace"
)

// A rebuild killed after a batch that ended inside a session file, before
// the batch with the rest of that file: the watermark committed with the
// first batch covers part of the file, and the next search reads the rest.
// (It named the file's whole size, so the next catch-up took the file for
// unchanged and never indexed the rest of it.)
func TestKilledBetweenBatchesOfOneFile(t *testing.T) {
	if testing.Short() {
		t.Skip("multi-process")
	}
	dir := t.TempDir()
	ws := openWS(t, dir)
	const sessions, per = 3, 200
	for i := 0; i < sessions; i++ {
		s := chatSession(t, ws, "main", strconv.Itoa(i))
		recs := make([]workspace.Record, per)
		for j := range recs {
			recs[j] = workspace.Record{Type: workspace.TypeMessage, Role: workspace.RoleUser, Content: fmt.Sprintf("pear %d in crate %d", j, i)}
		}
		if _, err := s.Append(context.Background(), recs...); err != nil {
			t.Fatal(err)
		}
	}
	// Batches of 150: the first ends at the 150th message of the first
	// file; the helper reports the first file read (its last 50 documents
	// still in the next, unwritten batch) and is killed while it waits.
	cmd, lines, _ := helper(t, dir, "reindex", "150")
	for l := range lines {
		if strings.HasPrefix(l, "progress") {
			break
		}
		if l == "done" {
			t.Fatal("rebuild finished before it could be killed")
		}
	}
	if err := cmd.Process.Signal(syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	_ = cmd.Wait()
	x := openIndex(t, ws, nil)
	res := mustSearch(t, x, Query{Text: "pear", Limit: sessions * per})
	if res.Total != sessions*per {
		t.Fatalf("after the kill: %d messages found, want %d", res.Total, sessions*per)
	}
	seen := map[string]bool{}
	for _, h := range res.Hits {
		if seen[h.ID] {
			t.Fatalf("%s found twice", h.ID)
		}
		seen[h.ID] = true
	}
}
