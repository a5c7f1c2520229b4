package seal_test

import (
	"bufio"
	"bytes"
	"context"
	"crypto/aes"
	"crypto/cipher"
	"crypto/hkdf"
	"crypto/sha256"
	"encoding/base64"
	"encoding/binary"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"strings"
	"testing"

	"github.com/picosess/picosess/workspace"
	"github.com/picosess/picosess/workspace/config"
	"github.com/picosess/picosess/workspace/seal"
)

// decryptByHand is docs/encryption.md's "decrypting by hand": the
// standard library only. It prints each record's plaintext line.
func decryptByHand(master []byte, in io.Reader, out io.Writer) error {
	var id string
	var gcm cipher.AEAD
	sc := bufio.NewScanner(in)
	sc.Buffer(nil, 64<<20)
	for sc.Scan() {
		var r struct {
			Type, ID, Enc string
			Seq           int64
		}
		if err := json.Unmarshal(sc.Bytes(), &r); err != nil {
			return err
		}
		if r.Type == "session" { // the header comes first and names the session
			id = r.ID
			key, err := hkdf.Key(sha256.New, master, []byte(id), "picosess record key v1", 32)
			if err != nil {
				return err
			}
			block, _ := aes.NewCipher(key)
			gcm, _ = cipher.NewGCM(block)
		}
		box, err := base64.StdEncoding.DecodeString(r.Enc)
		if err != nil || len(box) < 28 {
			return fmt.Errorf("seq %d: no box", r.Seq)
		}
		ad := fmt.Appendf(nil, "picosess/v1\x00%s\x00%s\x00", id, r.Type)
		ad = binary.BigEndian.AppendUint64(ad, uint64(r.Seq))
		plain, err := gcm.Open(nil, box[:12], box[12:], ad)
		if err != nil {
			return fmt.Errorf("seq %d: %w", r.Seq, err)
		}
		fmt.Fprintln(out, string(plain))
	}
	return sc.Err()
}

func TestDecryptByHand(t *testing.T) {
	ctx := context.Background()
	k, _ := seal.NewKey()
	w, err := workspace.Open(t.TempDir(), &workspace.Options{Config: &config.File{Encryption: config.Encryption{Enabled: true}}, Key: &k})
	if err != nil {
		t.Fatal(err)
	}
	defer w.Close()
	s, err := w.Session(ctx, workspace.Target{Name: "by-hand"})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := s.Append(ctx, workspace.Record{Type: workspace.TypeMessage, Role: workspace.RoleUser, Content: "buy milk", Sender: "alice"}); err != nil {
		t.Fatal(err)
	}
	f, err := os.Open(s.Path())
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	master, _ := base64.StdEncoding.DecodeString(k.Base64())
	var out bytes.Buffer
	if err := decryptByHand(master, f, &out); err != nil {
		t.Fatal(err)
	}
	recs, _ := s.ReadAll(ctx)
	var want []string
	for _, r := range recs {
		b, _ := r.MarshalJSON()
		want = append(want, string(b))
	}
	if got := strings.TrimSpace(out.String()); got != strings.Join(want, "\n") {
		t.Fatalf("by hand:\n%s\nwant\n%s", got, strings.Join(want, "\n"))
	}
}
