package main

import (
	"bytes"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

const knownSecret = "my pin for the bank is 4711 and my doctor is dr zhivago"

// assertNoSecret fails if any file under root holds a word of the secret
// (its rarest words: "4711", "zhivago").
func assertNoSecret(t *testing.T, root string) {
	t.Helper()
	filepath.WalkDir(root, func(path string, d os.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return nil
		}
		b, _ := os.ReadFile(path)
		for _, w := range []string{"4711", "zhivago", "bank"} {
			if bytes.Contains(bytes.ToLower(b), []byte(w)) {
				t.Errorf("%s holds %q in clear", path, w)
			}
		}
		return nil
	})
}

// The whole life of an encrypted workspace through the command tree:
// keygen, encrypt, every command with the key, exit 13 without it, and
// never a word of a known message on the disk (sessions, trash, locks,
// cache, index).
func TestEncryptedWorkspaceCLI(t *testing.T) {
	ws := filepath.Join(t.TempDir(), "ws")
	keyFile := filepath.Join(t.TempDir(), "master.key")
	mustRun(t, "--workspace", ws, "append", "--session", "doc", "--role", "user", "--content", knownSecret)
	mustRun(t, "--workspace", ws, "rename", "doc", "bank and zhivago")
	mustRun(t, "--workspace", ws, "ls")
	var kg keygenOutput
	if err := json.Unmarshal([]byte(mustRun(t, "keygen", keyFile, "--json")), &kg); err != nil || !strings.HasPrefix(kg.KeyID, "k1-") {
		t.Fatalf("keygen: %+v %v", kg, err)
	}
	if fi, _ := os.Stat(keyFile); fi.Mode().Perm() != 0o600 {
		t.Fatalf("key file mode %v", fi.Mode())
	}
	if _, _, code := runCLI(t, "keygen", keyFile); code != 1 {
		t.Fatalf("keygen over an existing key: exit %d", code)
	}
	if err := os.WriteFile(filepath.Join(ws, "config.json"), []byte(`{"encryption": {"enabled": true, "key_file": "`+keyFile+`"}}`), 0o644); err != nil {
		t.Fatal(err)
	}
	// Enabled, still plaintext: appends refused until encrypt.
	if _, errOut, code := runCLI(t, "--workspace", ws, "append", "--session", "doc", "--role", "user", "--content", "x"); code != exitKey || !strings.Contains(errOut, "picosess encrypt") {
		t.Fatalf("append to a plaintext session: exit %d %s", code, errOut)
	}
	var conv convertOutput
	if err := json.Unmarshal([]byte(mustRun(t, "--workspace", ws, "encrypt", "--json")), &conv); err != nil || conv.Converted != 1 {
		t.Fatalf("encrypt: %+v %v", conv, err)
	}
	assertNoSecret(t, ws)

	// With the key: every command as before.
	mustRun(t, "--workspace", ws, "append", "--session", "doc", "--role", "assistant", "--content", "noted: 4711, zhivago")
	mustRun(t, "--workspace", ws, "checkpoint", "save", "doc", "bank-cp", "--description", "zhivago")
	if out := mustRun(t, "--workspace", ws, "show", "doc"); !strings.Contains(out, "dr zhivago") || !strings.Contains(out, "noted: 4711") {
		t.Fatalf("show: %s", out)
	}
	if out := mustRun(t, "--workspace", ws, "export", "doc", "--format", "text"); !strings.Contains(out, "4711") {
		t.Fatalf("export: %s", out)
	}
	if out := mustRun(t, "--workspace", ws, "checkpoint", "ls", "doc"); !strings.Contains(out, "bank-cp") {
		t.Fatalf("checkpoint ls: %s", out)
	}
	mustRun(t, "--workspace", ws, "context", "doc", "--max-tokens", "1000")
	mustRun(t, "--workspace", ws, "summarize", "doc", "--force")
	mustRun(t, "--workspace", ws, "append", "--session", "gone", "--role", "user", "--content", "zhivago in the trash")
	mustRun(t, "--workspace", ws, "rm", "gone", "--yes")
	mustRun(t, "--workspace", ws, "ls")
	mustRun(t, "--workspace", ws, "check")
	// Search is off unless encryption.index opts in.
	if _, errOut, code := runCLI(t, "--workspace", ws, "search", "zhivago", "--json"); code != 1 || !strings.Contains(errOut, "index_off") {
		t.Fatalf("search: exit %d %s", code, errOut)
	}
	assertNoSecret(t, ws)

	// Without the key: listing works, content does not (exit 13), nothing written.
	if err := os.WriteFile(filepath.Join(ws, "config.json"), []byte(`{"encryption": {"enabled": true}}`), 0o644); err != nil {
		t.Fatal(err)
	}
	if out := mustRun(t, "--workspace", ws, "ls"); !strings.Contains(out, "name:doc") {
		t.Fatalf("ls without the key: %s", out)
	}
	before, _ := os.ReadFile(filepath.Join(ws, "sessions"))
	for _, args := range [][]string{{"show", "doc"}, {"export", "doc"}, {"append", "--session", "doc", "--role", "user", "--content", "x"}} {
		_, errOut, code := runCLI(t, append([]string{"--workspace", ws, "--json"}, args...)...)
		if code != exitKey || !strings.Contains(errOut, `"code":"key_required"`) {
			t.Errorf("%v without the key: exit %d %s", args, code, errOut)
		}
	}
	after, _ := os.ReadFile(filepath.Join(ws, "sessions"))
	if !bytes.Equal(before, after) {
		t.Error("a command without the key changed sessions/")
	}
	// A key file others may read is refused.
	os.Chmod(keyFile, 0o644)
	if _, errOut, code := runCLI(t, "--workspace", ws, "--key-file", keyFile, "show", "doc"); code != exitKey || !strings.Contains(errOut, "chmod 600") {
		t.Errorf("group-readable key: exit %d %s", code, errOut)
	}
	os.Chmod(keyFile, 0o600)
	// Decrypt brings the plaintext back.
	if err := os.WriteFile(filepath.Join(ws, "config.json"), []byte(`{}`), 0o644); err != nil {
		t.Fatal(err)
	}
	mustRun(t, "--workspace", ws, "--key-file", keyFile, "decrypt")
	if out := mustRun(t, "--workspace", ws, "show", "doc"); !strings.Contains(out, "dr zhivago") {
		t.Fatalf("show after decrypt: %s", out)
	}
}

// A passphrase goes through argon2id with the salt keygen --passphrase
// stored in the workspace; another passphrase is the wrong key.
func TestEncryptedWorkspacePassphrase(t *testing.T) {
	ws := filepath.Join(t.TempDir(), "ws")
	t.Setenv("PICOSESS_PASSPHRASE", "correct horse battery staple")
	var kg keygenOutput
	if err := json.Unmarshal([]byte(mustRun(t, "--workspace", ws, "keygen", "--passphrase", "--json")), &kg); err != nil || kg.KDF != "argon2id" {
		t.Fatalf("keygen --passphrase: %+v %v", kg, err)
	}
	if err := os.WriteFile(filepath.Join(ws, "config.json"), []byte(`{"encryption": {"enabled": true}}`), 0o644); err != nil {
		t.Fatal(err)
	}
	mustRun(t, "--workspace", ws, "append", "--session", "p", "--role", "user", "--content", knownSecret)
	if out := mustRun(t, "--workspace", ws, "show", "p"); !strings.Contains(out, "zhivago") {
		t.Fatalf("show: %s", out)
	}
	assertNoSecret(t, ws)
	t.Setenv("PICOSESS_PASSPHRASE", "incorrect horse")
	if _, errOut, code := runCLI(t, "--workspace", ws, "--json", "show", "p"); code != exitKey || !strings.Contains(errOut, `"wrong_key"`) {
		t.Fatalf("wrong passphrase: exit %d %s", code, errOut)
	}
	if _, errOut, code := runCLI(t, "--workspace", ws, "--json", "append", "--session", "new", "--role", "user", "--content", "x"); code != exitKey || !strings.Contains(errOut, `"wrong_key"`) {
		t.Fatalf("new session with a wrong passphrase: exit %d %s", code, errOut)
	}
}

// A changed byte of an encrypted record: show refuses it (exit 4,
// tampered, naming the seq), check reports it with its seq (exit 4), and
// repair keeps it.
func TestEncryptedTamperCLI(t *testing.T) {
	ws := filepath.Join(t.TempDir(), "ws")
	keyFile := filepath.Join(t.TempDir(), "k")
	mustRun(t, "keygen", keyFile)
	mustRun(t, "--workspace", ws, "--key-file", keyFile, "append", "--session", "t", "--role", "user", "--content", "first")
	if err := os.WriteFile(filepath.Join(ws, "config.json"), []byte(`{"encryption": {"enabled": true, "key_file": "`+keyFile+`"}}`), 0o644); err != nil {
		t.Fatal(err)
	}
	mustRun(t, "--workspace", ws, "encrypt")
	mustRun(t, "--workspace", ws, "append", "--session", "t", "--role", "user", "--content", "second")
	files, _ := filepath.Glob(filepath.Join(ws, "sessions", "*.jsonl"))
	raw, _ := os.ReadFile(files[0])
	lines := bytes.SplitAfter(raw, []byte("\n"))
	i := bytes.Index(lines[2], []byte(`"enc":"`)) + 20
	if lines[2][i] == 'A' { // another base64 digit: changed bits of the box
		lines[2][i] = 'B'
	} else {
		lines[2][i] = 'A'
	}
	tampered := bytes.Join(lines, nil)
	os.WriteFile(files[0], tampered, 0o644)
	_, errOut, code := runCLI(t, "--workspace", ws, "--json", "show", "t")
	if code != exitUnrepairabl || !strings.Contains(errOut, `"code":"tampered"`) || !strings.Contains(errOut, "seq 3") {
		t.Fatalf("show: exit %d %s", code, errOut)
	}
	out, _, code := runCLI(t, "--workspace", ws, "--key-file", keyFile, "check", "--json")
	if code != exitUnrepairabl || !strings.Contains(out, `"kind":"tampered"`) || !strings.Contains(out, `"seq":3`) {
		t.Fatalf("check: exit %d %s", code, out)
	}
	runCLI(t, "--workspace", ws, "--key-file", keyFile, "repair")
	if after, _ := os.ReadFile(files[0]); !bytes.Equal(after, tampered) {
		t.Fatal("repair changed the tampered file")
	}
}
