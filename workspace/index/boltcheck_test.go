package index

import (
	"errors"
	"os"
	"path/filepath"
	"testing"

	bolt "go.etcd.io/bbolt"
)

// A bolt file cut anywhere after its meta pages is found before bbolt
// maps it (whose freelist read past the end would be a SIGBUS); a whole
// one passes.
func TestCheckBoltSizeFindsACutFile(t *testing.T) {
	path := filepath.Join(t.TempDir(), "x.bolt")
	db, err := bolt.Open(path, 0o600, nil)
	if err != nil {
		t.Fatal(err)
	}
	for i := range 1500 {
		if err := db.Update(func(tx *bolt.Tx) error {
			b, err := tx.CreateBucketIfNotExists([]byte{byte(i % 7)})
			if err != nil {
				return err
			}
			return b.Put([]byte{byte(i), byte(i >> 8)}, make([]byte, 900))
		}); err != nil {
			t.Fatal(err)
		}
	}
	if err := db.Close(); err != nil {
		t.Fatal(err)
	}
	if err := checkBoltSize(path); err != nil {
		t.Fatalf("whole file: %v", err)
	}
	fi, _ := os.Stat(path)
	for _, keep := range []int64{fi.Size() / 2, 3 * 4096} {
		if err := os.Truncate(path, keep); err != nil {
			t.Fatal(err)
		}
		if err := checkBoltSize(path); !errors.Is(err, errBoltTruncated) {
			t.Fatalf("cut to %d of %d bytes: %v", keep, fi.Size(), err)
		}
	}
}
