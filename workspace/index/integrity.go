package index

import (
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"hash/crc32"
	"io"
	"maps"
	"os"
	"path/filepath"
	"time"

	bolt "go.etcd.io/bbolt"
)

// verifiedFile is the list of segment files whose checksum was verified,
// kept in the index directory so that each immutable segment file is read
// in full once, not at every open.
const verifiedFile = "picosess-verified.json"

// fileStamp identifies one version of a file.
type fileStamp struct {
	Size    int64     `json:"size"`
	ModTime time.Time `json:"mtime"`
	// Ctime is the inode change time: a file written over and given its
	// old modification time back (or damaged by a tool that keeps times)
	// has a new one, so it is checked again.
	Ctime time.Time `json:"ctime"`
}

func (a fileStamp) same(b fileStamp) bool {
	return a.Size == b.Size && a.ModTime.Equal(b.ModTime) && a.Ctime.Equal(b.Ctime)
}

// verifySegments checks the files the index is made of before bleve opens
// them: root.bolt must open and name its segment files, and every segment
// file it names must exist and match the CRC-32 in its footer. Bleve reads
// segments through mmap without checking that CRC, and a damaged segment
// can make a background merge panic, which no recover can catch; so damage
// is looked for here, in the caller's goroutine, and answered by a rebuild.
// Files already verified at the same size, mtime and inode change time are
// not read again.
func verifySegments(dir string, save bool) error {
	store := filepath.Join(dir, "store") // where scorch keeps root.bolt and the segments
	live, err := liveSegments(filepath.Join(store, "root.bolt"))
	if err != nil {
		return err
	}
	known := map[string]fileStamp{}
	if b, err := os.ReadFile(filepath.Join(dir, verifiedFile)); err == nil {
		_ = json.Unmarshal(b, &known) // a bad list only means more reading
	}
	next := make(map[string]fileStamp, len(live))
	for _, name := range live {
		fi, err := os.Stat(filepath.Join(store, name))
		if err != nil {
			return fmt.Errorf("segment %s: %w", name, err)
		}
		st := fileStamp{Size: fi.Size(), ModTime: fi.ModTime().UTC(), Ctime: changeTime(fi)}
		if k, ok := known[name]; !ok || !k.same(st) {
			if err := checkSegmentCRC(filepath.Join(store, name)); err != nil {
				return err
			}
		}
		next[name] = st
	}
	if maps.EqualFunc(known, next, fileStamp.same) {
		return nil // nothing new verified: no write (a search that changed nothing writes nothing here)
	}
	if b, err := json.Marshal(next); save && err == nil {
		tmp := filepath.Join(dir, verifiedFile+".tmp")
		if os.WriteFile(tmp, b, 0o644) == nil {
			_ = os.Rename(tmp, filepath.Join(dir, verifiedFile))
		}
	}
	return nil
}

// liveSegments lists the segment files named by the snapshots in
// root.bolt (scorch's layout: bucket "s", one bucket per snapshot, one per
// segment, its file under key "p").
func liveSegments(path string) (names []string, err error) {
	if err := checkBoltSize(path); err != nil {
		return nil, err
	}
	db, err := bolt.Open(path, 0o600, &bolt.Options{ReadOnly: true, Timeout: time.Second})
	if err != nil {
		return nil, fmt.Errorf("root.bolt: %w", err)
	}
	defer db.Close()
	defer func() {
		if r := recover(); r != nil {
			err = fmt.Errorf("root.bolt: damaged: %v", r)
		}
	}()
	seen := map[string]bool{}
	err = db.View(func(tx *bolt.Tx) error {
		snaps := tx.Bucket([]byte{'s'})
		if snaps == nil {
			return nil
		}
		return snaps.ForEach(func(k, _ []byte) error {
			snap := snaps.Bucket(k)
			if snap == nil {
				return nil
			}
			return snap.ForEach(func(sk, _ []byte) error {
				if len(sk) == 0 || sk[0] == 'i' {
					return nil
				}
				seg := snap.Bucket(sk)
				if seg == nil {
					return nil
				}
				if p := seg.Get([]byte{'p'}); len(p) > 0 && !seen[string(p)] {
					seen[string(p)] = true
					names = append(names, string(p))
				}
				return nil
			})
		})
	})
	if err != nil {
		return nil, fmt.Errorf("root.bolt: %w", err)
	}
	return names, nil
}

// errBadChecksum: a segment file's bytes do not match its footer.
var errBadChecksum = errors.New("checksum mismatch")

// checkSegmentCRC compares the CRC-32 (IEEE) of a zap segment file's bytes
// with the one its last four bytes hold.
func checkSegmentCRC(path string) error {
	f, err := os.Open(path)
	if err != nil {
		return err
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil {
		return err
	}
	if fi.Size() < 4 {
		return fmt.Errorf("segment %s: %d bytes: %w", filepath.Base(path), fi.Size(), errBadChecksum)
	}
	h := crc32.NewIEEE()
	if _, err := io.Copy(h, io.NewSectionReader(f, 0, fi.Size()-4)); err != nil {
		return fmt.Errorf("segment %s: %w", filepath.Base(path), err)
	}
	var tail [4]byte
	if _, err := f.ReadAt(tail[:], fi.Size()-4); err != nil {
		return fmt.Errorf("segment %s: %w", filepath.Base(path), err)
	}
	if got, want := h.Sum32(), binary.BigEndian.Uint32(tail[:]); got != want {
		return fmt.Errorf("segment %s: crc %08x, footer says %08x: %w", filepath.Base(path), got, want, errBadChecksum)
	}
	return nil
}
