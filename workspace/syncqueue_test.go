package workspace

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"strings"
	"testing"
	"time"
)

// The group commit records of durability batch (syncqueue.go): an fsync
// covers a batch only under the same epoch and inode, up to where the file
// ended when the fsync began; a file cut back, new or replaced starts a
// new epoch, so nothing recorded before covers what is written after.
func TestSyncCoveredOnlyWithinAnEpoch(t *testing.T) {
	ctx := context.Background()
	w := openTest(t, &Options{Durability: DurabilityBatch})
	s := namedSession(t, w, "sync")
	mustAppend(t, s, msg(RoleUser, "one"))
	fi, err := os.Stat(s.Path())
	if err != nil {
		t.Fatal(err)
	}
	size := fi.Size()
	ino := identityOf(fi).Inode

	ticket := func(end int64, fresh bool) syncSlot {
		t.Helper()
		lk, err := w.lock(ctx, s.st)
		if err != nil {
			t.Fatal(err)
		}
		defer lk.unlock()
		tk, ok := s.st.syncTicket(ino, end, fresh)
		if !ok {
			t.Fatal("no ticket")
		}
		return tk
	}
	// An fsync recorded (as another writer's that covered this batch):
	// the batch is covered.
	s.st.recordSynced(syncSlot{epoch: ticket(size, false).epoch, ino: ino, end: size}, -1, size)
	if tk := ticket(size, false); !s.st.covered(tk) {
		t.Fatalf("a batch ending at %d, fsynced, is not covered", size)
	}
	// A batch written after that fsync began is not.
	if tk := ticket(size+10, false); s.st.covered(tk) {
		t.Fatal("a batch written after the last fsync is covered")
	}
	// Another inode (the file replaced): nothing is covered.
	lk, _ := w.lock(ctx, s.st)
	other, _ := s.st.syncTicket(ino+1, 1, false)
	lk.unlock()
	if s.st.covered(other) {
		t.Fatal("a batch of a replaced file is covered")
	}
	// The file cut back (a failed append, a torn tail, repair): a batch
	// that ends before the old synced size is not covered.
	lk, _ = w.lock(ctx, s.st)
	s.st.dropSyncEpoch()
	lk.unlock()
	if tk := ticket(size/2, false); s.st.covered(tk) {
		t.Fatal("after the file was cut back, a batch below the old synced size is covered")
	}
	// A new (or emptied) file: the same.
	s.st.recordSynced(syncSlot{epoch: ticket(size, false).epoch, ino: ino, end: size}, 0, size)
	if tk := ticket(size/2, true); s.st.covered(tk) {
		t.Fatal("a batch of a new file is covered by what was synced before")
	}
	// A lock file deleted and made again holds no record.
	if err := os.Remove(w.LockPath(s.ID())); err != nil {
		t.Fatal(err)
	}
	s.st.closeHolder()
	if tk := ticket(1, false); s.st.covered(tk) {
		t.Fatal("a new lock file covers a batch")
	}
}

// Batches from several processes under durability batch share fsyncs and
// every acknowledged record is in the file once, in order (also checked,
// with turns, by TestBatchTurnsFromSeveralProcesses); here each process
// appends alone to one session, so the shared path runs across processes.
func TestBatchAcrossProcessesKeepsEveryRecord(t *testing.T) {
	dir := t.TempDir()
	const procs, n = 4, 50
	var cmds []*exec.Cmd
	for p := 0; p < procs; p++ {
		cmd := exec.Command(os.Args[0], "-test.run=^$")
		cmd.Env = append(cmd.Environ(), helperEnv+"="+fmt.Sprintf("batchbench %s shared %d %s", dir, n, DurabilityBatch))
		cmd.Stdin = strings.NewReader("") // go at once
		cmd.Stderr = os.Stderr
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		cmds = append(cmds, cmd)
	}
	for _, c := range cmds {
		if err := c.Wait(); err != nil {
			t.Fatal(err)
		}
	}
	w, err := Open(dir, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer w.Close()
	s := namedSession(t, w, "shared")
	h, err := s.History(context.Background(), 0)
	if err != nil {
		t.Fatal(err)
	}
	if len(h.Messages) != procs*n {
		t.Fatalf("%d messages, want %d", len(h.Messages), procs*n)
	}
	for i, m := range h.Messages {
		if m.Seq != int64(i+2) {
			t.Fatalf("message %d has seq %d", i, m.Seq)
		}
	}
}

// A writer alone on its session (each batch starts where its last fsync
// ended, and nothing follows it) does not write the lock file's synced
// slot: nobody waits for it. A batch that follows another writer's bytes
// does, and covers them.
func TestSyncAloneWritesNoRecord(t *testing.T) {
	w := openTest(t, &Options{Durability: DurabilityBatch})
	if w.Store() != nil {
		t.Skip("the files' group commit")
	}
	s := namedSession(t, w, "alone")
	// Records with a time of their own are checked against the file, so
	// they are not combined (combine.go): they take the fsync queue.
	msg := func(role, text string) Record {
		r := msg(role, text)
		r.At = time.Now()
		return r
	}
	mustAppend(t, s, msg(RoleUser, "one"))
	slot := func() syncSlot {
		t.Helper()
		f, err := os.Open(w.LockPath(s.ID()))
		if err != nil {
			t.Fatal(err)
		}
		defer f.Close()
		sl, _ := readSyncSlot(int(f.Fd()), syncSyncedOffset)
		return sl
	}
	before := slot()
	for i := 0; i < 5; i++ {
		mustAppend(t, s, msg(RoleUser, "more"))
	}
	if after := slot(); after != before {
		t.Fatalf("the synced slot was written by a writer alone: %+v, then %+v", before, after)
	}
	// Another writer (another Workspace: another process's state) appends;
	// this one's next batch starts after those bytes, and its fsync covers
	// them: it is recorded.
	w2, err := Open(w.Root(), &Options{Durability: DurabilityBatch, NoConfig: true})
	if err != nil {
		t.Fatal(err)
	}
	defer w2.Close()
	s2, err := w2.OpenID(s.ID())
	if err != nil {
		t.Fatal(err)
	}
	mustAppend(t, s2, msg(RoleUser, "from the other"))
	mustAppend(t, s, msg(RoleUser, "after it"))
	fi, err := os.Stat(s.Path())
	if err != nil {
		t.Fatal(err)
	}
	if got := slot(); got.end != fi.Size() {
		t.Fatalf("after another writer's bytes the synced slot says %d, the file holds %d", got.end, fi.Size())
	}
}
