package workspace

import (
	"context"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"
)

// powerFS remembers, per session file, how many bytes a successful fsync
// has made durable (the size when the fsync began), so a test can cut
// every file back to that size: what a power loss may leave.
type powerFS struct {
	OSFS
	mu      sync.Mutex
	durable map[string]int64
	crashed bool
	acked   map[int64]string // seq -> content, recorded only before the crash
}

func (p *powerFS) OpenFile(name string, flag int, perm fs.FileMode) (File, error) {
	f, err := p.OSFS.OpenFile(name, flag, perm)
	if err != nil || !strings.HasSuffix(name, SessionExt) {
		return f, err
	}
	return &powerFile{File: f, fs: p, name: name}, nil
}

type powerFile struct {
	File
	fs   *powerFS
	name string
}

func (f *powerFile) Sync() error {
	fi, err := f.File.Stat()
	if err != nil {
		return err
	}
	if err := f.File.Sync(); err != nil {
		return err
	}
	f.fs.mu.Lock()
	if !f.fs.crashed && fi.Size() > f.fs.durable[f.name] {
		f.fs.durable[f.name] = fi.Size()
	}
	f.fs.mu.Unlock()
	return nil
}

func (f *powerFile) Truncate(size int64) error {
	f.fs.mu.Lock()
	if !f.fs.crashed && size < f.fs.durable[f.name] {
		f.fs.durable[f.name] = size
	}
	f.fs.mu.Unlock()
	return f.File.Truncate(size)
}

// Eight goroutines append while the power fails at a random moment: the
// files are cut back to what fsync had made durable. Every append that had
// returned before the failure is still there, for always and batch.
func TestNoAcknowledgedAppendLostOnPowerLoss(t *testing.T) {
	for _, d := range []Durability{DurabilityAlways, DurabilityBatch} {
		t.Run(string(d), func(t *testing.T) {
			ctx := context.Background()
			pfs := &powerFS{durable: map[string]int64{}, acked: map[int64]string{}}
			root := t.TempDir()
			w, err := Open(root, &Options{Durability: d, FS: pfs})
			if err != nil {
				t.Fatal(err)
			}
			s := namedSession(t, w, "power")
			stop := make(chan struct{})
			var wg sync.WaitGroup
			for g := 0; g < 8; g++ {
				wg.Add(1)
				go func() {
					defer wg.Done()
					for i := 0; ; i++ {
						select {
						case <-stop:
							return
						default:
						}
						c := fmt.Sprintf("g%d-%d", g, i)
						seqs, err := s.Append(ctx, msg(RoleUser, c))
						if err != nil {
							t.Error(err)
							return
						}
						pfs.mu.Lock()
						if !pfs.crashed {
							pfs.acked[seqs[0]] = c
						}
						pfs.mu.Unlock()
					}
				}()
			}
			time.Sleep(150 * time.Millisecond)
			pfs.mu.Lock()
			pfs.crashed = true
			cut := pfs.durable[s.Path()]
			pfs.mu.Unlock()
			close(stop)
			wg.Wait()

			// What the disk holds after the power loss: the durable prefix,
			// and (as ext4 or XFS may leave) a block of zeros after it.
			raw, err := os.ReadFile(s.Path())
			if err != nil {
				t.Fatal(err)
			}
			after := t.TempDir()
			w2, err := Open(after, nil)
			if err != nil {
				t.Fatal(err)
			}
			data := append(raw[:cut:cut], make([]byte, 4096)...)
			if err := os.WriteFile(filepath.Join(after, SessionsDir, filepath.Base(s.Path())), data, 0o644); err != nil {
				t.Fatal(err)
			}
			if _, err := w2.Repair(ctx, RepairOptions{}); err != nil {
				t.Fatal(err)
			}
			s2, err := w2.OpenID(s.ID())
			if err != nil {
				t.Fatal(err)
			}
			recs, err := s2.ReadAll(ctx)
			if err != nil {
				t.Fatal(err)
			}
			bySeq := map[int64]string{}
			for _, r := range recs {
				bySeq[r.Seq] = r.Content
			}
			for seq, c := range pfs.acked {
				if bySeq[seq] != c {
					t.Fatalf("acknowledged append %d (%q) lost by the power failure", seq, c)
				}
			}
			if len(pfs.acked) == 0 {
				t.Fatal("nothing was acknowledged")
			}
			t.Logf("%d appends acknowledged, %d records survive", len(pfs.acked), len(recs)-1)
		})
	}
}
