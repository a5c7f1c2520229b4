package workspace

import (
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strconv"
	"time"

	"github.com/picosess/picosess/workspace/seal"
)

// EncryptionFile is <root>/encryption.json: the id of the workspace's
// master key (pinned by the first encrypted write, so a wrong key is
// refused before a session is made with it) and, for a key derived from a
// passphrase, the KDF's salt and parameters. It holds no secret.
const EncryptionFile = "encryption.json"

// EncryptionInfo is the content of EncryptionFile.
type EncryptionInfo struct {
	Version int       `json:"version"`
	KeyID   string    `json:"key_id,omitempty"`
	KDF     *seal.KDF `json:"kdf,omitempty"`
}

// ReadEncryptionInfo reads <root>/encryption.json; ok is false when there
// is none.
func ReadEncryptionInfo(root string) (info EncryptionInfo, ok bool, err error) {
	b, err := os.ReadFile(filepath.Join(root, EncryptionFile))
	if errors.Is(err, fs.ErrNotExist) {
		return EncryptionInfo{}, false, nil
	}
	if err != nil {
		return EncryptionInfo{}, false, fmt.Errorf("workspace: %w", err)
	}
	if err := json.Unmarshal(b, &info); err != nil {
		return EncryptionInfo{}, false, fmt.Errorf("workspace: %s: %w", EncryptionFile, err)
	}
	return info, true, nil
}

// WriteEncryptionInfo replaces <root>/encryption.json (written to a
// temporary file, synced, renamed).
func WriteEncryptionInfo(root string, info EncryptionInfo) error {
	info.Version = 1
	b, err := json.MarshalIndent(info, "", "  ")
	if err != nil {
		return err
	}
	path := filepath.Join(root, EncryptionFile)
	tmp := path + ".tmp-" + strconv.Itoa(os.Getpid()) + "-" + strconv.FormatInt(time.Now().UnixNano(), 10)
	f, err := os.OpenFile(tmp, os.O_WRONLY|os.O_CREATE|os.O_EXCL|noFollow, 0o644)
	if err != nil {
		return fmt.Errorf("workspace: %w", err)
	}
	_, err = f.Write(append(b, '\n'))
	if err == nil {
		err = f.Sync()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = os.Rename(tmp, path)
	}
	if err != nil {
		os.Remove(tmp)
		return fmt.Errorf("workspace: write %s: %w", path, err)
	}
	return nil
}

// pinKey makes sure the workspace's key is the one encryption.json names,
// naming it there when nothing does yet.
func (w *Workspace) pinKey() error {
	if w.opts.Key == nil {
		return ErrKeyRequired
	}
	info, _, err := ReadEncryptionInfo(w.root)
	if err != nil {
		return err
	}
	switch info.KeyID {
	case w.KeyID():
		return nil
	case "":
		info.KeyID = w.KeyID()
		return WriteEncryptionInfo(w.root, info)
	}
	return fmt.Errorf("%w (%s names %s, the key given is %s)", ErrWrongKey, EncryptionFile, info.KeyID, w.KeyID())
}

// ErrIndexOff: the workspace is encrypted and encryption.index does not
// let the search index keep the words of its sessions (docs/encryption.md).
var ErrIndexOff = errors.New("workspace: search is off in an encrypted workspace (the index would reveal the words of every message); set encryption.index to true to allow it")

// IndexAllowed says whether the search index may be built from this
// workspace's sessions: always for a plaintext workspace; for an encrypted
// one (encryption.enabled, or encryption.json naming a key) only when
// encryption.index opts in. The error wraps ErrIndexOff.
func (w *Workspace) IndexAllowed() error {
	if w.opts.Config.Encryption.Index {
		return nil
	}
	if w.Encrypting() {
		return ErrIndexOff
	}
	if info, _, err := ReadEncryptionInfo(w.root); err == nil && info.KeyID != "" {
		return ErrIndexOff
	}
	return nil
}
