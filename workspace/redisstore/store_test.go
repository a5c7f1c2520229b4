package redisstore_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/picosess/picosess/keying"
	"github.com/picosess/picosess/workspace"
	"github.com/picosess/picosess/workspace/export"
	"github.com/picosess/picosess/workspace/redisstore"
	"github.com/picosess/picosess/workspace/redisstore/redistest"
)

func clock() func() time.Time {
	t := time.Date(2026, 11, 21, 9, 0, 0, 0, time.UTC)
	var mu sync.Mutex
	return func() time.Time {
		mu.Lock()
		defer mu.Unlock()
		t = t.Add(time.Second)
		return t
	}
}

func openWS(t testing.TB, st workspace.Store, now func() time.Time) *workspace.Workspace {
	t.Helper()
	o := &workspace.Options{Now: now, CountTokens: workspace.EstimateTokens, NoConfig: true}
	if st != nil {
		o.Store = st
	}
	w, err := workspace.Open(t.TempDir(), o)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { w.Close() })
	return w
}

// script runs the same lifecycle on a workspace: every record type.
func script(t *testing.T, w *workspace.Workspace) *workspace.Session {
	t.Helper()
	ctx := context.Background()
	s, err := w.Session(ctx, workspace.Target{Name: "kitchen"})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := s.AppendTurn(ctx, workspace.UserMessage("42", "what is in the fridge?"), workspace.AssistantMessage("m1", "milk and \"eggs\"\n")); err != nil {
		t.Fatal(err)
	}
	if _, err := s.SetTitle(ctx, "Fridge"); err != nil {
		t.Fatal(err)
	}
	if _, err := s.SaveCheckpoint(ctx, "before", "first answer"); err != nil {
		t.Fatal(err)
	}
	if _, err := s.AppendTurn(ctx, workspace.UserMessage("42", "and the freezer? ünïcødé ✓"), workspace.AssistantMessage("m1", "ice")); err != nil {
		t.Fatal(err)
	}
	if _, err := s.SetSummary(ctx, "asked about food", "test"); err != nil {
		t.Fatal(err)
	}
	if _, err := s.RestoreCheckpoint(ctx, "before"); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Reset(ctx, "manual"); err != nil {
		t.Fatal(err)
	}
	if _, err := s.AppendTurn(ctx, workspace.UserMessage("42", "hello again")); err != nil {
		t.Fatal(err)
	}
	return s
}

// The records in Redis are the bytes of the session file, and everything
// read above the store (history, metadata, export) is the same.
func TestSameRecordsAsFiles(t *testing.T) {
	ctx := context.Background()
	st := redistest.Open(t)
	fw := openWS(t, nil, clock())
	rw := openWS(t, st, clock())
	fs := script(t, fw)
	rs := script(t, rw)
	want, err := os.ReadFile(fs.Path())
	if err != nil {
		t.Fatal(err)
	}
	got, err := st.Client().Get(ctx, st.Prefix()+"{"+rs.ID()+"}:log").Bytes()
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(got, want) {
		t.Fatalf("redis bytes differ from the file:\nredis:\n%s\nfile:\n%s", got, want)
	}
	for _, all := range []bool{false, true} {
		for _, f := range export.Formats {
			var a, b bytes.Buffer
			if err := export.Write(ctx, &a, fs, export.Options{Format: f, All: all}); err != nil {
				t.Fatal(err)
			}
			if err := export.Write(ctx, &b, rs, export.Options{Format: f, All: all}); err != nil {
				t.Fatal(err)
			}
			if a.String() != b.String() {
				t.Errorf("export %s (all %v) differs:\nfiles:\n%s\nredis:\n%s", f, all, a.String(), b.String())
			}
		}
	}
	fm, err := fs.Meta(ctx)
	if err != nil {
		t.Fatal(err)
	}
	rm, err := rs.Meta(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if fm.Title != rm.Title || fm.Messages != rm.Messages || fm.LastSeq != rm.LastSeq || fm.Size != rm.Size || fm.ActiveMessages != rm.ActiveMessages || !fm.Updated.Equal(rm.Updated) {
		t.Errorf("meta differs:\nfiles %+v\nredis %+v", fm, rm)
	}
	list, err := rw.List(ctx, workspace.ListOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if len(list) != 1 || list[0].ID != rs.ID() || list[0].Title != "Fridge" {
		t.Fatalf("list on redis: %+v", list)
	}
	// The hash keeps the listing fields.
	h, err := st.Client().HGetAll(ctx, st.Prefix()+"{"+rs.ID()+"}:meta").Result()
	if err != nil {
		t.Fatal(err)
	}
	if h["title"] != "Fridge" || h["name"] != "kitchen" || h["updated"] != "2026-11-21T09:00:10Z" || h["seq"] != "11" {
		t.Errorf("meta hash: %v", h)
	}
	// Lookup by name, title and prefix, and records from an offset.
	for _, ref := range []string{"kitchen", "Fridge", rs.ID()[:16]} {
		got, err := rw.Lookup(ctx, ref)
		if err != nil || got.ID() != rs.ID() {
			t.Errorf("Lookup(%q) = %v, %v", ref, got, err)
		}
	}
	n := 0
	for e, err := range rs.Records(ctx, 0) {
		if err != nil {
			t.Fatal(err)
		}
		n++
		if e.Seq != int64(n) {
			t.Fatalf("record %d has seq %d", n, e.Seq)
		}
	}
	if n != 11 {
		t.Fatalf("%d records, want 11", n)
	}
}

func TestTrashRestorePurge(t *testing.T) {
	ctx := context.Background()
	st := redistest.Open(t)
	w := openWS(t, st, nil)
	s, err := w.Session(ctx, workspace.Target{Name: "a"})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := s.Append(ctx, workspace.UserMessage("u", "one")); err != nil {
		t.Fatal(err)
	}
	old, err := w.OpenID(s.ID()) // a handle that does not create
	if err != nil {
		t.Fatal(err)
	}
	name, err := s.Delete(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := w.OpenID(s.ID()); !errors.Is(err, workspace.ErrNotFound) {
		t.Fatalf("after delete: %v", err)
	}
	if l, _ := w.List(ctx, workspace.ListOptions{}); len(l) != 0 {
		t.Fatalf("listed after delete: %+v", l)
	}
	tr, err := w.Trash(ctx)
	if err != nil || len(tr) != 1 || tr[0].Name != name || tr[0].ID != s.ID() || tr[0].Size == 0 {
		t.Fatalf("trash: %+v %v", tr, err)
	}
	// An append to a deleted session refuses (it was not created anew).
	if _, err := old.Append(ctx, workspace.UserMessage("u", "lost?")); !errors.Is(err, workspace.ErrTrashed) {
		t.Fatalf("append to a trashed session: %v", err)
	}
	r, err := w.RestoreFromTrash(ctx, name)
	if err != nil {
		t.Fatal(err)
	}
	h, err := r.History(ctx, 0)
	if err != nil || len(h.Messages) != 1 || h.Messages[0].Content != "one" {
		t.Fatalf("restored history: %+v %v", h, err)
	}
	if _, err := r.Append(ctx, workspace.UserMessage("u", "two")); err != nil {
		t.Fatal(err)
	}
	// Delete twice: two trash names; purge all.
	if _, err := r.Delete(ctx); err != nil {
		t.Fatal(err)
	}
	s2, _ := w.Session(ctx, workspace.Target{Name: "a"})
	if _, err := s2.Delete(ctx); err != nil {
		t.Fatal(err)
	}
	tr, _ = w.Trash(ctx)
	if len(tr) != 2 {
		t.Fatalf("trash: %+v", tr)
	}
	done, err := w.Purge(ctx, workspace.PurgeOptions{All: true})
	if err != nil || len(done) != 2 {
		t.Fatalf("purge: %+v %v", done, err)
	}
	if tr, _ = w.Trash(ctx); len(tr) != 0 {
		t.Fatalf("trash after purge: %+v", tr)
	}
	keys, _ := st.Client().Keys(ctx, st.Prefix()+"{*").Result()
	for _, k := range keys {
		if !bytes.Contains([]byte(k), []byte(":tok:")) {
			t.Errorf("key left after purge: %s", k)
		}
	}
}

// Two workspaces (two directories: two machines) on one store: each sees
// the other's appends, and seqs stay contiguous although neither holds a
// lock the other knows of.
func TestTwoMachinesInterleave(t *testing.T) {
	ctx := context.Background()
	st := redistest.Open(t)
	a := openWS(t, st, nil)
	b := openWS(t, st, nil)
	sa, err := a.Session(ctx, workspace.Target{Name: "shared"})
	if err != nil {
		t.Fatal(err)
	}
	sb, err := b.Session(ctx, workspace.Target{Name: "shared"})
	if err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	const n = 50
	errs := make(chan error, 2*n)
	for _, s := range []*workspace.Session{sa, sb} {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; i < n; i++ {
				if _, err := s.Append(ctx, workspace.UserMessage("u", "q"), workspace.AssistantMessage("m", "a")); err != nil {
					errs <- err
				}
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}
	recs, err := sb.ReadAll(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if len(recs) != 1+4*n {
		t.Fatalf("%d records, want %d", len(recs), 1+4*n)
	}
	for i, r := range recs {
		if r.Seq != int64(i+1) {
			t.Fatalf("record %d has seq %d", i+1, r.Seq)
		}
		// A call's two records are together: user then assistant.
		if i > 0 && (i%2 == 1) != (r.Role == "user") {
			t.Fatalf("record %d (%s) interleaved", r.Seq, r.Role)
		}
	}
	// Update decides on the history as it is in the store.
	seqs, err := sa.Update(ctx, func(h workspace.History) ([]workspace.Record, error) {
		if last := h.Messages[len(h.Messages)-1]; last.Seq != 1+4*n {
			return nil, errors.New("stale history")
		}
		return []workspace.Record{workspace.SystemMessage("seen")}, nil
	})
	if err != nil || seqs[0] != int64(2+4*n) {
		t.Fatalf("update: %v %v", seqs, err)
	}
}

// A retried call (same token) is stored once.
func TestTokenStoresOnce(t *testing.T) {
	ctx := context.Background()
	st := redistest.Open(t)
	id := keying.NamedID("tok")
	line := []byte(`{"type":"session","seq":1,"at":"2026-01-01T00:00:00Z","v":1,"id":"` + id + `"}` + "\n")
	a := workspace.StoreAppend{ID: id, End: 0, Gen: 7, Data: line, First: 1, LastSeq: 1, Records: 1, Token: "t1", Now: time.Now()}
	r1, err := st.Append(ctx, a)
	if err != nil || r1.Dup || r1.Stat.Size != int64(len(line)) {
		t.Fatalf("first: %+v %v", r1, err)
	}
	r2, err := st.Append(ctx, a)
	if err != nil || !r2.Dup || r2.First != 1 || r2.Stat.Size != int64(len(line)) {
		t.Fatalf("retry: %+v %v", r2, err)
	}
	a.Token = "t2"
	_, err = st.Append(ctx, a)
	var ce *workspace.ConflictError
	if !errors.As(err, &ce) || ce.Now.Size != int64(len(line)) || ce.Now.LastSeq != 1 {
		t.Fatalf("stale append: %v", err)
	}
	if n, _ := st.Client().StrLen(ctx, st.Prefix()+"{"+id+"}:log").Result(); n != int64(len(line)) {
		t.Fatalf("stored %d bytes", n)
	}
}

func TestWatchAcrossMachines(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	st := redistest.Open(t)
	a := openWS(t, st, nil)
	b := openWS(t, st, nil)
	ready := make(chan struct{})
	got := make(chan workspace.Entry, 10)
	wctx, stop := context.WithCancel(ctx)
	done := make(chan error, 1)
	go func() {
		done <- a.WatchReady(wctx, workspace.WatchOptions{Poll: time.Hour}, func() { close(ready) }, func(id string, e workspace.Entry) error {
			got <- e
			return nil
		})
	}()
	<-ready
	s, err := b.Session(ctx, workspace.Target{Name: "w"})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := s.Append(ctx, workspace.UserMessage("u", "live")); err != nil {
		t.Fatal(err)
	}
	var seen []string
	for len(seen) < 2 {
		select {
		case e := <-got:
			seen = append(seen, e.Type)
		case <-ctx.Done():
			t.Fatalf("watch saw %v within the timeout (poll is an hour: the stream must wake it)", seen)
		}
	}
	if seen[0] != workspace.TypeSession || seen[1] != workspace.TypeMessage {
		t.Fatalf("watch saw %v", seen)
	}
	stop()
	if err := <-done; err != nil {
		t.Fatal(err)
	}
}

func TestRefusedOnStore(t *testing.T) {
	ctx := context.Background()
	st := redistest.Open(t)
	w := openWS(t, st, nil)
	s, err := w.Session(ctx, workspace.Target{Name: "r"})
	if err != nil {
		t.Fatal(err)
	}
	_, err = s.Repair(ctx, workspace.RepairOptions{})
	if !errors.Is(err, workspace.ErrStoreUnsupported) {
		t.Fatalf("repair on redis: %v", err)
	}
	if _, err = w.Convert(ctx, workspace.ConvertOptions{}); !errors.Is(err, workspace.ErrStoreUnsupported) {
		t.Fatalf("convert on redis: %v", err)
	}
	if _, err := os.Stat(filepath.Join(w.Root(), "sessions", s.ID()+".jsonl")); !os.IsNotExist(err) {
		t.Fatalf("a session file on disk: %v", err)
	}
}

func TestOpenErrors(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	_, err := redisstore.Open(ctx, "redis://user:s3cret@127.0.0.1:1/0", &redisstore.Options{DialTimeout: time.Second})
	if !errors.Is(err, workspace.ErrStoreUnavailable) {
		t.Fatalf("closed port: %v", err)
	}
	if bytes.Contains([]byte(err.Error()), []byte("s3cret")) {
		t.Fatalf("password in the error: %v", err)
	}
	if _, err := redisstore.Open(ctx, "redis://127.0.0.1:1/0?token_ttl=soon", nil); err == nil {
		t.Fatal("bad token_ttl accepted")
	}
}

// A trash TTL (cleanup.purge_after) makes Redis expire deleted sessions.
func TestTrashTTL(t *testing.T) {
	ctx := context.Background()
	st := redistest.Open(t)
	st.SetTrashTTL(time.Hour)
	w := openWS(t, st, nil)
	s, err := w.Session(ctx, workspace.Target{Name: "ttl"})
	if err != nil {
		t.Fatal(err)
	}
	name, err := s.Delete(ctx)
	if err != nil {
		t.Fatal(err)
	}
	for _, k := range []string{"log", "meta"} {
		ttl, err := st.Client().PTTL(ctx, st.Prefix()+"{"+s.ID()+"}:trash:"+name+":"+k).Result()
		if err != nil || ttl <= 59*time.Minute || ttl > time.Hour {
			t.Fatalf("%s: ttl %v %v", k, ttl, err)
		}
	}
	if _, err := w.RestoreFromTrash(ctx, name); err != nil {
		t.Fatal(err)
	}
	if ttl, _ := st.Client().PTTL(ctx, st.Prefix()+"{"+s.ID()+"}:log").Result(); ttl != -1 {
		t.Fatalf("restored session still expires: %v", ttl)
	}
}

// A session appended to every 400 ms for 4 s (by the appender's clock)
// moves in the activity set at most once a second and is never more than
// a second behind its last append: ChangedSince a second before the last
// append names it. (It moved only after a pause of a second, before: a
// chatty session kept the time its burst began.)
func TestActivityFollowsBursts(t *testing.T) {
	ctx := context.Background()
	st := redistest.Open(t)
	id := keying.NamedID("burst")
	at := time.Date(2026, 12, 7, 9, 0, 0, 0, time.UTC)
	end, seq := int64(0), int64(0)
	moves := 0
	var score float64
	for i := 0; i < 11; i++ {
		seq++
		line := []byte(fmt.Sprintf(`{"type":"message","seq":%d,"at":"%s","role":"user","content":"m"}`+"\n", seq, at.Format(time.RFC3339Nano)))
		if i == 0 {
			line = []byte(`{"type":"session","seq":1,"at":"` + at.Format(time.RFC3339) + `","v":1,"id":"` + id + `"}` + "\n")
		}
		r, err := st.Append(ctx, workspace.StoreAppend{ID: id, End: end, Gen: 1, Data: line, First: seq, LastSeq: seq, Records: 1,
			Token: fmt.Sprint("b", i), Now: at})
		if err != nil {
			t.Fatal(err)
		}
		end = r.Stat.Size
		s, err := st.Client().ZScore(ctx, st.Prefix()+"sessions", id).Result()
		if err != nil {
			t.Fatal(err)
		}
		if s != score {
			moves++
			score = s
		}
		if behind := at.Sub(time.UnixMilli(int64(score))); behind > time.Second {
			t.Fatalf("append %d at %v: the activity set says %v, %v behind", i, at, time.UnixMilli(int64(score)).UTC(), behind)
		}
		at = at.Add(400 * time.Millisecond)
	}
	if moves > 5 {
		t.Fatalf("the session moved %d times in 4 s of appends", moves)
	}
	last := at.Add(-400 * time.Millisecond)
	ids, err := st.ChangedSince(ctx, last.Add(-time.Second))
	if err != nil || !slices.Contains(ids, id) {
		t.Fatalf("ChangedSince a second before the last append: %v %v", ids, err)
	}
	if ids, err := st.ChangedSince(ctx, last.Add(time.Minute)); err != nil || slices.Contains(ids, id) {
		t.Fatalf("ChangedSince a minute after it: %v %v", ids, err)
	}
}
