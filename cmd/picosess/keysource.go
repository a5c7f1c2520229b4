package main

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"

	"github.com/picosess/picosess/workspace"
	"github.com/picosess/picosess/workspace/seal"
)

// exitKey: an encrypted session and no usable key (none given, the wrong
// one, a key file others may read), or encryption enabled and a plaintext
// session to write to (docs/cli.md, docs/encryption.md).
const exitKey = 13

// errKeySource matches every problem with where a key comes from: an
// unreadable or group/world-readable key file, a malformed key, a
// passphrase without its salt.
var errKeySource = errors.New("key")

func keySourceErrorf(format string, args ...any) error {
	return fmt.Errorf("%w: "+format, append([]any{errKeySource}, args...)...)
}

// masterKey finds the workspace's master key: --key-file, else
// $PICOSESS_KEY, else the file encryption.key_file names (relative to the
// workspace root), else $PICOSESS_PASSPHRASE through the argon2id salt of
// <root>/encryption.json. nil without any of them.
func (a *app) masterKey(root string, cfg *workspace.Config) (*seal.Key, error) {
	switch {
	case a.keyFile != "":
		return readKeyFile(a.keyFile, "--key-file")
	case a.getenv("PICOSESS_KEY") != "":
		k, err := seal.ParseKey(a.getenv("PICOSESS_KEY"))
		if err != nil {
			return nil, keySourceErrorf("$PICOSESS_KEY: %v", err)
		}
		return &k, nil
	case cfg != nil && cfg.Encryption.KeyFile != "":
		p := cfg.Encryption.KeyFile
		if !filepath.IsAbs(p) {
			p = filepath.Join(root, p)
		}
		return readKeyFile(p, "encryption.key_file")
	case a.getenv("PICOSESS_PASSPHRASE") != "":
		info, ok, err := workspace.ReadEncryptionInfo(root)
		if err != nil {
			return nil, err
		}
		if !ok || info.KDF == nil {
			return nil, keySourceErrorf("$PICOSESS_PASSPHRASE is set but %s has no salt: run picosess keygen --passphrase first", filepath.Join(root, workspace.EncryptionFile))
		}
		k, err := info.KDF.Derive([]byte(a.getenv("PICOSESS_PASSPHRASE")))
		if err != nil {
			return nil, keySourceErrorf("%v", err)
		}
		return &k, nil
	}
	return nil, nil
}

// readKeyFile reads a key file, refusing one that group or others may read
// (or that is not a regular file of its owner's).
func readKeyFile(path, from string) (*seal.Key, error) {
	fi, err := os.Stat(path)
	if err != nil {
		return nil, keySourceErrorf("%s: %v", from, err)
	}
	if !fi.Mode().IsRegular() {
		return nil, keySourceErrorf("%s: %s is not a regular file", from, path)
	}
	if perm := fi.Mode().Perm(); perm&0o077 != 0 {
		return nil, keySourceErrorf("%s: %s may be read by group or others (mode %04o): chmod 600 %s", from, path, perm, path)
	}
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, keySourceErrorf("%s: %v", from, err)
	}
	k, err := seal.ParseKey(string(b))
	if err != nil {
		return nil, keySourceErrorf("%s: %s: %v", from, path, err)
	}
	return &k, nil
}
