package main

import (
	"bufio"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"

	"github.com/picosess/picosess/workspace"
	"github.com/picosess/picosess/workspace/seal"
	"github.com/spf13/cobra"
)

// keygenOutput is the --json shape of keygen (docs/cli.md).
type keygenOutput struct {
	KeyID string `json:"key_id"`
	File  string `json:"file,omitempty"`
	KDF   string `json:"kdf,omitempty"`
}

type keygenOptions struct {
	passphrase bool
}

func newKeygenCmd(a *app) *cobra.Command {
	var o keygenOptions
	cmd := &cobra.Command{
		Use:   "keygen [FILE]",
		Short: "Make a new master key for an encrypted workspace",
		Long: `Write a new random 32-byte master key, in base64, to FILE, created with
mode 0600 (an existing file is never overwritten), and print its key id. Keep
FILE outside the workspace and its backups; point encryption.key_file at it,
or give it with --key-file or $PICOSESS_KEY (docs/encryption.md).

With --passphrase, no file is written: a new argon2id salt is stored in
<workspace>/encryption.json, and the key is derived from $PICOSESS_PASSPHRASE
(read from standard input when unset) whenever picosess runs.

EXIT STATUS
  0 written; 1 FILE exists, or bad usage; 13 the passphrase is empty.`,
		Args: cobra.MaximumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			if o.passphrase {
				if len(args) > 0 {
					return usageErrorf("--passphrase writes no key file: give no FILE")
				}
				return a.keygenPassphrase()
			}
			if len(args) == 0 {
				return usageErrorf("give the FILE to write the key to (outside the workspace)")
			}
			k, err := seal.NewKey()
			if err != nil {
				return err
			}
			path := args[0]
			f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
			if errors.Is(err, fs.ErrExist) {
				return fmt.Errorf("%w: %s exists; keygen never overwrites a key (the sessions sealed with it would be lost)", workspace.ErrExists, path)
			}
			if err != nil {
				return err
			}
			_, err = f.WriteString(k.Base64() + "\n")
			if err == nil {
				err = f.Sync()
			}
			if cerr := f.Close(); err == nil {
				err = cerr
			}
			if err != nil {
				os.Remove(path)
				return err
			}
			if a.jsonOut {
				return a.writeJSON(keygenOutput{KeyID: k.ID(), File: path})
			}
			_, err = fmt.Fprintf(a.stdout, "wrote a new key to %s (key id %s)\n", path, k.ID())
			return err
		},
	}
	cmd.Flags().BoolVar(&o.passphrase, "passphrase", false, "derive the key from a passphrase (argon2id; the salt goes to <workspace>/encryption.json)")
	return cmd
}

// keygenPassphrase stores a new salt and pins the key it gives.
func (a *app) keygenPassphrase() error {
	root, err := a.root()
	if err != nil {
		return err
	}
	info, ok, err := workspace.ReadEncryptionInfo(root)
	if err != nil {
		return err
	}
	if ok && (info.KDF != nil || info.KeyID != "") {
		return fmt.Errorf("%w: %s already names a key (%s); use picosess rekey to change it", workspace.ErrExists, filepath.Join(root, workspace.EncryptionFile), info.KeyID)
	}
	pass := a.getenv("PICOSESS_PASSPHRASE")
	if pass == "" {
		fmt.Fprint(a.errOut, "passphrase: ")
		line, _ := bufio.NewReader(a.stdin).ReadString('\n')
		pass = strings.TrimRight(line, "\r\n")
	}
	if pass == "" {
		return keySourceErrorf("empty passphrase")
	}
	kdf, err := seal.DefaultKDF()
	if err != nil {
		return err
	}
	k, err := kdf.Derive([]byte(pass))
	if err != nil {
		return keySourceErrorf("%v", err)
	}
	if err := os.MkdirAll(root, 0o755); err != nil {
		return err
	}
	if err := workspace.WriteEncryptionInfo(root, workspace.EncryptionInfo{KeyID: k.ID(), KDF: &kdf}); err != nil {
		return err
	}
	if a.jsonOut {
		return a.writeJSON(keygenOutput{KeyID: k.ID(), KDF: kdf.Name})
	}
	_, err = fmt.Fprintf(a.stdout, "stored an argon2id salt in %s (key id %s); give the passphrase in $PICOSESS_PASSPHRASE\n",
		filepath.Join(root, workspace.EncryptionFile), k.ID())
	return err
}
