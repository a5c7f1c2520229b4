package index

import (
	"time"

	"github.com/blevesearch/bleve/v2"
	"github.com/blevesearch/bleve/v2/index/scorch"
	zapv17 "github.com/blevesearch/zapx/v17"
)

// Scorch reads its segment files through mmap, and what a process has
// touched of a mapping counts in its resident memory until it is unmapped.
// Two things keep that small while a catch-up builds the index
// (docs/performance.md, "First search in bounded memory"):
//
//   - Merged segment files are written 64 KB at a time, not 1 MB. The page
//     cache keeps a file in folios as large as the writes that filled it
//     (ext4 with large folios), and a fault maps the whole folio (Linux
//     6.18): each byte a merge or a lookup read of a file written 1 MB at a
//     time made a whole MB resident. Set once, before any index is opened;
//     the value is this package's for the life of the process, as the
//     analyzer it registers.
//   - While a catch-up runs, the pages it touched are let go every
//     releaseInterval (releaseMapped).
func init() { zapv17.DefaultFileMergerBufferSize = mergeWriteSize }

// mergeWriteSize is the write size of merged segment files: the kernel's
// fault-around window, so a fault never maps more than it would anyway.
const mergeWriteSize = 64 << 10

// releaseInterval is how often a catch-up lets go of the segment pages it
// touched: a merge reads its sources at a few hundred MB/s, and a batch's
// lookups touch every segment.
const releaseInterval = 50 * time.Millisecond

// mappedData is a segment that scorch reads through mmap (zap's
// *Segment): Data is the mapping.
type mappedData interface{ Data() []byte }

// releaseMapped lets go of this process's pages of every segment file of
// bi's current snapshot (dropMapped). The snapshot, held meanwhile, keeps
// each segment open: none is unmapped under the call.
func releaseMapped(bi bleve.Index) {
	adv, err := bi.Advanced()
	if err != nil {
		return
	}
	s, ok := adv.(*scorch.Scorch)
	if !ok {
		return
	}
	r, err := s.Reader()
	if err != nil {
		return
	}
	defer r.Close()
	snap, ok := r.(*scorch.IndexSnapshot)
	if !ok {
		return
	}
	for _, ss := range snap.Segments() {
		if m, ok := ss.Segment().(mappedData); ok {
			dropMapped(m.Data())
		}
	}
}

// releaseEvery calls releaseMapped every d until the returned function is
// called; that function returns once the last call has ended.
func releaseEvery(bi bleve.Index, d time.Duration) (stop func()) {
	if !canDropMapped || bi == nil {
		return func() {}
	}
	done, exited := make(chan struct{}), make(chan struct{})
	go func() {
		defer close(exited)
		t := time.NewTicker(d)
		defer t.Stop()
		for {
			select {
			case <-done:
				return
			case <-t.C:
				releaseMapped(bi)
			}
		}
	}()
	return func() {
		close(done)
		<-exited
	}
}
