package index

import (
	"encoding/binary"
	"errors"
	"fmt"
	"hash/fnv"
	"io"
	"os"
)

// errBoltTruncated: a bolt file is shorter than its own meta page says.
var errBoltTruncated = errors.New("bolt file cut short")

// checkBoltSize reads the two meta pages of a bolt file (bbolt's layout:
// pages 0 and 1, each a 16-byte page header then magic, version, page
// size, flags, root bucket, freelist page, high-water page id, txid and an
// FNV-64a checksum of the fields before it) and checks that the file
// holds every page the newer valid meta counts. bbolt maps the file and
// reads its freelist page without checking that it lies inside the file:
// on a file cut short that read is a SIGBUS, which kills the process
// instead of returning an error. So a cut file is found here first and
// answered as damage (a rebuild).
func checkBoltSize(path string) error {
	f, err := os.Open(path)
	if err != nil {
		return err
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil {
		return err
	}
	const hdr, metaLen = 16, 64
	var best struct {
		ok         bool
		txid, hwm  uint64
		pageSize   uint32
		freelistID uint64
	}
	buf := make([]byte, hdr+metaLen)
	// The first meta is at 0; the second one page further, at the page
	// size the first one names (or 4096, bbolt's usual one, when the
	// first is unreadable).
	offsets := []int64{0}
	if _, err := f.ReadAt(buf, 0); err == nil {
		if ps := binary.LittleEndian.Uint32(buf[hdr+8:]); ps >= 512 && ps <= 1<<20 {
			offsets = append(offsets, int64(ps))
		}
	}
	if len(offsets) == 1 {
		offsets = append(offsets, 4096)
	}
	for _, off := range offsets {
		if _, err := f.ReadAt(buf, off); err != nil && !errors.Is(err, io.EOF) {
			return fmt.Errorf("%s: %w", path, err)
		}
		m := buf[hdr:]
		if binary.LittleEndian.Uint32(m[0:]) != 0xED0CDAED || binary.LittleEndian.Uint32(m[4:]) != 2 {
			continue
		}
		h := fnv.New64a()
		h.Write(m[:56])
		if h.Sum64() != binary.LittleEndian.Uint64(m[56:]) {
			continue
		}
		if txid := binary.LittleEndian.Uint64(m[48:]); !best.ok || txid > best.txid {
			best.ok, best.txid = true, txid
			best.pageSize = binary.LittleEndian.Uint32(m[8:])
			best.freelistID = binary.LittleEndian.Uint64(m[32:])
			best.hwm = binary.LittleEndian.Uint64(m[40:])
		}
	}
	if !best.ok {
		return nil // no valid meta: bbolt refuses it with an error of its own
	}
	need := int64(best.hwm) * int64(best.pageSize)
	if fl := int64(best.freelistID+1) * int64(best.pageSize); best.freelistID != ^uint64(0) && fl > need {
		need = fl
	}
	if fi.Size() < need {
		return fmt.Errorf("%w: %s is %d bytes, its meta page counts %d", errBoltTruncated, path, fi.Size(), need)
	}
	return nil
}
