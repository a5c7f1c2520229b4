package index

import (
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"time"

	"github.com/picosess/picosess/workspace"
	bolt "go.etcd.io/bbolt"
)

// StoreName is the watermarks' file inside the index directory.
//
// Watermarks used to be bleve internal keys, written in the same batch as
// the documents. But scorch writes every internal key again with every
// batch and loads them all at every open: with 100 000 sessions each
// batch rewrote 100 000 watermarks and each search loaded them. They now
// live in a bolt file beside the index, one key per session, written after
// the bleve batches that they account for are on disk. A crash between the
// two leaves a watermark behind its documents, never ahead: the next
// catch-up reads those records again, and as a document's id is the
// session's number and the seq (docKey; the number is kept in the
// watermark and never given to another session), indexing it again
// replaces it. A catch-up marks the store dirty before its first
// batch and clean with its last: a dirty store makes the next catch-up a
// full rescan (it finds documents whose watermark was never written).
const StoreName = "picosess-state.bolt"

var (
	bucketWM     = []byte("wm")     // session id → encoded Watermark
	bucketResets = []byte("resets") // session id → segment, for sessions with a reset
	bucketState  = []byte("state")  // keyChanges → changeState, keyNums → next number
	bucketNums   = []byte("nums")   // session number (8 bytes, big endian) → session id
	keyChanges   = []byte("changes")
	keyNums      = []byte("nums")
	buckets      = [][]byte{bucketWM, bucketResets, bucketState, bucketNums}
)

// numBlock is how many session numbers a catch-up reserves at a time
// (one fsynced write): numbers are reserved before the documents that
// carry them are sent, so that a crash can never give a number used by
// documents on disk to another session. A crash wastes the rest of a
// block.
const numBlock = 1 << 16

// changeState is what the index owner knows of the workspace's changes:
// the journal it read and how far, the sessions directory as it was when
// nothing in it was left unread, and the last full rescan.
type changeState struct {
	Journal workspace.Identity `json:"journal"` // the journal read (Size unused)
	Cursor  int64              `json:"cursor"`  // read up to here
	// Tail is the CRC of the journal's bytes before Cursor: a journal
	// emptied by another reader (a listing rotates it too) and written
	// past Cursor again is told apart (workspace.ChangeCursor).
	Tail uint32 `json:"tail,omitempty"`
	// Dir is the sessions directory's identity after the last look at
	// every name in it; zero when that look was too close to the
	// directory's last change to trust its time.
	Dir   workspace.DirState `json:"dir"`
	Full  time.Time          `json:"full"`            // last full rescan
	Boot  string             `json:"boot,omitempty"`  // boot id at that rescan
	Dirty bool               `json:"dirty,omitempty"` // a catch-up began and did not end
	// StoreSeen (a workspace with a store): when the owner last asked the
	// store what changed; the next catch-up asks from a little before it.
	StoreSeen time.Time `json:"store_seen,omitzero"`
	Searches  int       `json:"-"` // operations since the full rescan (this process)
}

// store is the open watermark store.
type store struct{ db *bolt.DB }

// openStore opens <dir>/picosess-state.bolt, creating it unless readOnly.
// A read-only open of a missing store returns (nil, nil).
func openStore(dir string, readOnly bool) (*store, error) {
	path := filepath.Join(dir, StoreName)
	if readOnly {
		if _, err := os.Stat(path); errors.Is(err, os.ErrNotExist) {
			return nil, nil
		}
	}
	if err := checkBoltSize(path); err != nil && !errors.Is(err, os.ErrNotExist) {
		return nil, err
	}
	db, err := bolt.Open(path, 0o644, &bolt.Options{Timeout: time.Second, ReadOnly: readOnly})
	if err != nil {
		return nil, err
	}
	missing := false
	_ = db.View(func(tx *bolt.Tx) error {
		for _, b := range buckets {
			missing = missing || tx.Bucket(b) == nil
		}
		return nil
	})
	if !readOnly && missing {
		// Only when new: a write transaction costs an fsync.
		err = db.Update(func(tx *bolt.Tx) error {
			for _, b := range buckets {
				if _, err := tx.CreateBucketIfNotExists(b); err != nil {
					return err
				}
			}
			return nil
		})
		if err != nil {
			db.Close()
			return nil, err
		}
	}
	return &store{db: db}, nil
}

func (s *store) close() error {
	if s == nil {
		return nil
	}
	return s.db.Close()
}

// get returns the watermark of id, nil when there is none.
func (s *store) get(id string) (*Watermark, error) {
	var wm *Watermark
	err := s.db.View(func(tx *bolt.Tx) error {
		b := tx.Bucket(bucketWM)
		if b == nil {
			return nil
		}
		v := b.Get([]byte(id))
		if v == nil {
			return nil
		}
		var err error
		wm, err = decodeWM(v)
		return err
	})
	if err != nil {
		return nil, fmt.Errorf("%w: watermark of %s: %v", ErrDamaged, id, err)
	}
	return wm, nil
}

// each calls fn with every watermark.
func (s *store) each(fn func(id string, wm *Watermark)) error {
	err := s.db.View(func(tx *bolt.Tx) error {
		b := tx.Bucket(bucketWM)
		if b == nil {
			return nil
		}
		return b.ForEach(func(k, v []byte) error {
			wm, err := decodeWM(v)
			if err != nil {
				return fmt.Errorf("watermark of %s: %v", k, err)
			}
			fn(string(k), wm)
			return nil
		})
	})
	if err != nil {
		return fmt.Errorf("%w: %v", ErrDamaged, err)
	}
	return nil
}

// inodes calls fn with the file inode of every watermark, without decoding
// the rest.
func (s *store) inodes(fn func(id string, ino uint64)) error {
	err := s.db.View(func(tx *bolt.Tx) error {
		return tx.Bucket(bucketWM).ForEach(func(k, v []byte) error {
			if len(v) < 8 {
				return fmt.Errorf("watermark of %s: %d bytes", k, len(v))
			}
			fn(string(k), binary.LittleEndian.Uint64(v))
			return nil
		})
	})
	if err != nil {
		return fmt.Errorf("%w: %v", ErrDamaged, err)
	}
	return nil
}

// resets returns the segment of every session that had a reset.
func (s *store) resets() (map[string]int, error) {
	m := map[string]int{}
	err := s.db.View(func(tx *bolt.Tx) error {
		return tx.Bucket(bucketResets).ForEach(func(k, v []byte) error {
			n, _ := binary.Uvarint(v)
			m[string(k)] = int(n)
			return nil
		})
	})
	if err != nil {
		return nil, fmt.Errorf("%w: %v", ErrDamaged, err)
	}
	return m, nil
}

// state reads the change state; the zero state when none was written.
func (s *store) state() (changeState, error) {
	var cs changeState
	err := s.db.View(func(tx *bolt.Tx) error {
		b := tx.Bucket(bucketState)
		if b == nil {
			return nil
		}
		if v := b.Get(keyChanges); v != nil {
			return json.Unmarshal(v, &cs)
		}
		return nil
	})
	if err != nil {
		return changeState{}, fmt.Errorf("%w: change state: %v", ErrDamaged, err)
	}
	return cs, nil
}

// reserve reserves the next numBlock session numbers and returns the
// first (numbers start at 1), in a transaction of its own (fsynced).
func (s *store) reserve() (uint64, error) {
	var first uint64
	err := s.db.Update(func(tx *bolt.Tx) error {
		b := tx.Bucket(bucketState)
		first = 1
		if v := b.Get(keyNums); len(v) == 8 {
			first = binary.BigEndian.Uint64(v)
		}
		return b.Put(keyNums, binary.BigEndian.AppendUint64(nil, first+numBlock))
	})
	return first, err
}

// sessions returns the session id of each session number, "" for a
// number that no session has.
func (s *store) sessions(nums []uint64) ([]string, error) {
	ids := make([]string, len(nums))
	err := s.db.View(func(tx *bolt.Tx) error {
		b := tx.Bucket(bucketNums)
		for i, n := range nums {
			ids[i] = string(b.Get(binary.BigEndian.AppendUint64(nil, n)))
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("%w: session numbers: %v", ErrDamaged, err)
	}
	return ids, nil
}

// commit writes watermarks, deletes others and, when cs is not nil,
// writes the change state, in one transaction (fsynced).
func (s *store) commit(put map[string]*Watermark, del map[string]bool, cs *changeState) error {
	return s.db.Update(func(tx *bolt.Tx) error {
		wb, rb, nb := tx.Bucket(bucketWM), tx.Bucket(bucketResets), tx.Bucket(bucketNums)
		// In key order: bolt inserts sorted keys with one walk down the tree.
		for _, id := range slices.Sorted(maps.Keys(put)) {
			wm := put[id]
			// The number's entry is written when the session gets it
			// (a new session, or one whose number changed), not again.
			numbered := false
			if old := wb.Get([]byte(id)); old != nil {
				if w, err := decodeWM(old); err == nil {
					if numbered = w.Num == wm.Num; !numbered {
						if err := nb.Delete(binary.BigEndian.AppendUint64(nil, w.Num)); err != nil {
							return err
						}
					}
				}
			}
			if err := wb.Put([]byte(id), encodeWM(wm)); err != nil {
				return err
			}
			if !numbered {
				if err := nb.Put(binary.BigEndian.AppendUint64(nil, wm.Num), []byte(id)); err != nil {
					return err
				}
			}
			if wm.Segment > 0 {
				if err := rb.Put([]byte(id), binary.AppendUvarint(nil, uint64(wm.Segment))); err != nil {
					return err
				}
			} else if err := rb.Delete([]byte(id)); err != nil {
				return err
			}
		}
		for id := range del {
			if old := wb.Get([]byte(id)); old != nil {
				if w, err := decodeWM(old); err == nil {
					if err := nb.Delete(binary.BigEndian.AppendUint64(nil, w.Num)); err != nil {
						return err
					}
				}
			}
			if err := wb.Delete([]byte(id)); err != nil {
				return err
			}
			if err := rb.Delete([]byte(id)); err != nil {
				return err
			}
		}
		if cs == nil {
			return nil
		}
		b, err := json.Marshal(cs)
		if err != nil {
			return err
		}
		return tx.Bucket(bucketState).Put(keyChanges, b)
	})
}

// wmVersion is the first byte after the inode of an encoded watermark
// (2: the session number after the document count).
const wmVersion = 2

// encodeWM encodes a watermark: the file's inode (8 bytes, little
// endian, so that the directory check reads it alone), a version byte,
// the numbers as varints, then the strings, each after its length.
func encodeWM(w *Watermark) []byte {
	b := make([]byte, 8, 96+len(w.Title)+len(w.FirstUser))
	binary.LittleEndian.PutUint64(b, w.File.Inode)
	b = append(b, wmVersion)
	b = binary.AppendVarint(b, w.Offset)
	b = binary.AppendVarint(b, w.File.Size)
	b = binary.AppendUvarint(b, w.File.Dev)
	b = binary.AppendVarint(b, w.File.ModTime.UnixNano())
	b = binary.AppendVarint(b, w.LastSeq)
	b = binary.AppendVarint(b, int64(w.Segment))
	b = binary.AppendVarint(b, w.Docs)
	b = binary.AppendUvarint(b, w.Num)
	for _, s := range [...]string{w.Title, w.FirstUser, w.Agent, w.Channel, w.Account, w.Chat, w.Topic, w.Sender} {
		b = binary.AppendUvarint(b, uint64(len(s)))
		b = append(b, s...)
	}
	return b
}

var errWMEncoding = errors.New("bad encoding")

func decodeWM(b []byte) (*Watermark, error) {
	if len(b) < 9 || b[8] != wmVersion {
		return nil, errWMEncoding
	}
	w := &Watermark{}
	w.File.Inode = binary.LittleEndian.Uint64(b)
	b = b[9:]
	bad := false
	vi := func() int64 {
		v, n := binary.Varint(b)
		if n <= 0 {
			bad = true
			return 0
		}
		b = b[n:]
		return v
	}
	w.Offset = vi()
	w.File.Size = vi()
	dev, n := binary.Uvarint(b)
	if n <= 0 {
		return nil, errWMEncoding
	}
	b = b[n:]
	w.File.Dev = dev
	w.File.ModTime = time.Unix(0, vi()).UTC()
	w.LastSeq = vi()
	w.Segment = int(vi())
	w.Docs = vi()
	num, n := binary.Uvarint(b)
	if n <= 0 {
		return nil, errWMEncoding
	}
	b = b[n:]
	w.Num = num
	for _, p := range [...]*string{&w.Title, &w.FirstUser, &w.Agent, &w.Channel, &w.Account, &w.Chat, &w.Topic, &w.Sender} {
		l, n := binary.Uvarint(b)
		if n <= 0 || uint64(len(b)-n) < l {
			return nil, errWMEncoding
		}
		*p = string(b[n : n+int(l)])
		b = b[n+int(l):]
	}
	if bad {
		return nil, errWMEncoding
	}
	return w, nil
}
