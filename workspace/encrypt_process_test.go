package workspace

import (
	"context"
	"encoding/hex"
	"fmt"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/picosess/picosess/workspace/seal"
)

// The helper processes of these tests: the test binary re-executed with
// sealHelperEnv set (taken in init, before TestMain and its helpers).
const (
	sealHelperEnv = "PICOSESS_SEAL_HELPER"
	sealKeyEnv    = "PICOSESS_SEAL_HELPER_KEY"
)

func init() {
	mode := os.Getenv(sealHelperEnv)
	if mode == "" {
		return
	}
	if err := sealHelper(mode); err != nil {
		fmt.Fprintln(os.Stderr, "seal helper:", err)
		os.Exit(2)
	}
	os.Exit(0)
}

// sealHelper modes:
//
//	append <root> <name> <n> <writer>  append n messages "w<writer>-<i>" to an encrypted session
//	convert <root>                     encrypt the workspace (Convert), printing each session done
func sealHelper(mode string) error {
	args := strings.Fields(mode)
	raw, err := hex.DecodeString(os.Getenv(sealKeyEnv))
	if err != nil {
		return err
	}
	k, err := seal.KeyFromBytes(raw)
	if err != nil {
		return err
	}
	w, err := Open(args[1], &Options{Config: encryptedConfig(), Key: &k, Durability: DurabilityNever, LockTimeout: time.Minute, CountTokens: EstimateTokens})
	if err != nil {
		return err
	}
	defer w.Close()
	ctx := context.Background()
	switch args[0] {
	case "append":
		s, err := w.Session(ctx, Target{Name: args[2]})
		if err != nil {
			return err
		}
		n, _ := strconv.Atoi(args[3])
		for i := 0; i < n; i++ {
			if _, err := s.Append(ctx, msg(RoleUser, fmt.Sprintf("w%s-%d", args[4], i))); err != nil {
				return err
			}
		}
		return nil
	case "convert":
		_, err := w.Convert(ctx, ConvertOptions{To: &k, Progress: func(cs ConvertedSession) { fmt.Println(cs.ID) }})
		return err
	}
	return fmt.Errorf("bad mode %q", mode)
}

func sealHelperCmd(k *seal.Key, mode string) *exec.Cmd {
	cmd := exec.Command(os.Args[0], "-test.run=^$")
	cmd.Env = append(os.Environ(), sealHelperEnv+"="+mode, sealKeyEnv+"="+keyHex(k))
	cmd.Stderr = os.Stderr
	return cmd
}

// keyHex recovers a test key's bytes: testKey keys are one byte repeated.
func keyHex(k *seal.Key) string {
	for b := 0; b < 256; b++ {
		if t, _ := seal.KeyFromBytes(repeatByte(byte(b))); t == *k {
			return hex.EncodeToString(repeatByte(byte(b)))
		}
	}
	panic("not a test key")
}

func repeatByte(b byte) []byte {
	out := make([]byte, seal.KeySize)
	for i := range out {
		out[i] = b
	}
	return out
}

// Six processes append to one encrypted session at once: every message
// is there once, sealed, in order, and check finds nothing.
func TestEncryptedProcessesAppend(t *testing.T) {
	const procs, each = 6, 150
	root := t.TempDir()
	k := testKey(t, 5)
	w := openEncrypted(t, root, k)
	s := namedSession(t, w, "shared")
	var cmds []*exec.Cmd
	for p := 0; p < procs; p++ {
		cmd := sealHelperCmd(k, fmt.Sprintf("append %s shared %d %d", root, each, p))
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		cmds = append(cmds, cmd)
	}
	for _, cmd := range cmds {
		if err := cmd.Wait(); err != nil {
			t.Fatalf("helper: %v", err)
		}
	}
	fr, err := w.checkFile(context.Background(), s.id)
	if err != nil || len(fr.Problems) != 0 {
		t.Fatalf("check: %+v, %v", fr.Problems, err)
	}
	recs, err := s.ReadAll(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if len(recs) != procs*each+1 {
		t.Fatalf("%d records, want %d", len(recs), procs*each+1)
	}
	next := make([]int, procs)
	for i, r := range recs[1:] {
		var p, n int
		if _, err := fmt.Sscanf(r.Content, "w%d-%d", &p, &n); err != nil || n != next[p] || r.Seq != int64(i+2) {
			t.Fatalf("record %d: %+v", i+2, r)
		}
		next[p]++
	}
	assertNoPlaintext(t, root, "w3-14")
}

// encrypt is killed with SIGKILL at random moments: after each kill every
// session reads whole (in its old or its new form) with the key, and a
// final run finishes; then nothing in the workspace is plaintext.
func TestEncryptKilledThenResumed(t *testing.T) {
	const sessions, per = 30, 300
	root := t.TempDir()
	pw, err := Open(root, &Options{NoConfig: true, Durability: DurabilityNever, CountTokens: EstimateTokens})
	if err != nil {
		t.Fatal(err)
	}
	want := map[string][]string{}
	for i := 0; i < sessions; i++ {
		s := namedSession(t, pw, fmt.Sprintf("s%d", i))
		var recs []Record
		for j := 0; j < per; j++ {
			recs = append(recs, msg(RoleUser, fmt.Sprintf("secret-%d-%d", i, j)))
		}
		mustAppend(t, s, recs...)
		want[s.id] = contents(recs)
	}
	pw.Close()
	k := testKey(t, 9)
	rng := rand.New(rand.NewPCG(uint64(time.Now().UnixNano()), 1))
	kills := 0
	for round := 0; round < 6; round++ {
		cmd := sealHelperCmd(k, "convert "+root)
		cmd.Stdout = nil
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		time.Sleep(time.Duration(15+rng.IntN(40)) * time.Millisecond)
		if cmd.Process.Signal(syscall.SIGKILL) == nil {
			kills++
		}
		cmd.Wait()
		assertReadable(t, root, k, want)
		sealedNow := 0
		for id := range want {
			if b, _ := os.ReadFile(filepath.Join(root, SessionsDir, id+SessionExt)); strings.Contains(string(b[:200]), `"key_id"`) {
				sealedNow++
			}
		}
		t.Logf("round %d: %d of %d sessions encrypted", round, sealedNow, sessions)
		if sealedNow == sessions {
			break
		}
	}
	// The resumed run finishes.
	cmd := sealHelperCmd(k, "convert "+root)
	if out, err := cmd.Output(); err != nil {
		t.Fatalf("final run: %v (%s)", err, out)
	}
	assertReadable(t, root, k, want)
	assertNoPlaintext(t, root, "secret-")
	left, _ := filepath.Glob(filepath.Join(root, SessionsDir, "*"+ConvertSuffix))
	if len(left) != 0 {
		t.Errorf("leftovers: %v", left)
	}
	t.Logf("%d kills", kills)
}

// assertReadable reads every session with the key and compares it.
func assertReadable(t *testing.T, root string, k *seal.Key, want map[string][]string) {
	t.Helper()
	w, err := Open(root, &Options{NoConfig: true, Key: k})
	if err != nil {
		t.Fatal(err)
	}
	defer w.Close()
	for id, msgs := range want {
		s, err := w.OpenID(id)
		if err != nil {
			t.Fatal(err)
		}
		recs, err := s.ReadAll(context.Background())
		if err != nil {
			t.Fatalf("%s: %v", id, err)
		}
		if got := contents(recs[1:]); strings.Join(got, ",") != strings.Join(msgs, ",") {
			t.Fatalf("%s: %d messages, want %d", id, len(got), len(msgs))
		}
	}
}
