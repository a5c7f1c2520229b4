package main

import (
	"encoding/json"
	"errors"
	"fmt"

	"github.com/picosess/picosess/workspace"
	"github.com/spf13/cobra"
)

const convertExit = `
Sessions are converted one at a time under their lock, each written whole to
sessions/<id>.jsonl.convert, synced, read back and compared record by record
with the original, then renamed over it: killed at any moment, every session
is readable in its old or its new form, and running the command again
finishes the work. A session with damage (a torn tail, a corrupt line) is
left as it was and named: run picosess repair first.

Progress goes to stderr (one line per session; with --json one JSON object
per session); the result to stdout (docs/cli.md).

EXIT STATUS
  0 done; 3 some sessions were left as they were (named); 4 a record failed
  authentication; 10 not a workspace; 11 a session is locked by another
  process; 13 no key, or the wrong one; 130 interrupted.`

type convertFlags struct {
	keepPlaintext bool
	newKeyFile    string
}

func newEncryptCmd(a *app) *cobra.Command {
	var f convertFlags
	cmd := &cobra.Command{
		Use:   "encrypt",
		Short: "Encrypt every plaintext session of the workspace",
		Long: `Seal every session with the workspace's master key (--key-file,
$PICOSESS_KEY or encryption.key_file; docs/encryption.md). Then, unless
--keep-plaintext, remove what still holds plaintext: plaintext sessions in the
trash, the set-aside evidence files (torn tails, corrupt lines, repair
originals) and the listing cache. Set encryption.enabled in config.json so
that new sessions are encrypted too.
` + convertExit,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return a.convert(cmd, f, "encrypt")
		},
	}
	cmd.Flags().BoolVar(&f.keepPlaintext, "keep-plaintext", false, "keep plaintext trash, evidence files and cache")
	return cmd
}

func newDecryptCmd(a *app) *cobra.Command {
	var f convertFlags
	return &cobra.Command{
		Use:   "decrypt",
		Short: "Decrypt every encrypted session of the workspace",
		Long: `Rewrite every encrypted session in plaintext (the key is needed). Set
encryption.enabled to false in config.json first, or new appends are refused.
` + convertExit,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			f.keepPlaintext = true
			return a.convert(cmd, f, "decrypt")
		},
	}
}

func newRekeyCmd(a *app) *cobra.Command {
	var f convertFlags
	cmd := &cobra.Command{
		Use:   "rekey --new-key-file FILE",
		Short: "Move every encrypted session to a new master key",
		Long: `Open every session with the current key (--key-file, $PICOSESS_KEY or
encryption.key_file) and seal it again with the key in --new-key-file (made
with picosess keygen). Point encryption.key_file at the new key afterwards.
Sessions still plaintext are encrypted with the new key.
` + convertExit,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if f.newKeyFile == "" {
				return usageErrorf("--new-key-file: give the file of the new key (picosess keygen FILE)")
			}
			return a.convert(cmd, f, "rekey")
		},
	}
	cmd.Flags().StringVar(&f.newKeyFile, "new-key-file", "", "file of the new master key")
	cmd.Flags().BoolVar(&f.keepPlaintext, "keep-plaintext", false, "keep plaintext trash, evidence files and cache")
	return cmd
}

// convertOutput is the --json result of encrypt, decrypt and rekey.
type convertOutput struct {
	Converted int                          `json:"converted"`
	Already   int                          `json:"already"`
	Messages  int                          `json:"messages"`
	Failed    map[string]string            `json:"failed,omitempty"`
	Removed   []string                     `json:"removed,omitempty"`
	Sessions  []workspace.ConvertedSession `json:"sessions"`
}

func (a *app) convert(cmd *cobra.Command, f convertFlags, verb string) error {
	w, err := a.openWorkspace()
	if err != nil {
		return err
	}
	defer w.Close()
	o := workspace.ConvertOptions{KeepPlaintext: f.keepPlaintext}
	switch verb {
	case "encrypt":
		if !w.HasKey() {
			return fmt.Errorf("%w: encrypt needs the master key (make one with picosess keygen FILE)", workspace.ErrKeyRequired)
		}
		k, err := a.masterKey(w.Root(), w.Config())
		if err != nil {
			return err
		}
		o.To = k
		if !w.Encrypting() {
			fmt.Fprintln(a.stderr, "note: encryption.enabled is not set in config.json: sessions made from now on will be plaintext")
		}
	case "rekey":
		k, err := readKeyFile(f.newKeyFile, "--new-key-file")
		if err != nil {
			return err
		}
		o.To = k
	case "decrypt":
		if w.Encrypting() {
			fmt.Fprintln(a.stderr, "note: encryption.enabled is still set in config.json: appends to the decrypted sessions will be refused")
		}
	}
	enc := json.NewEncoder(a.stderr)
	o.Progress = func(cs workspace.ConvertedSession) {
		if a.jsonOut {
			_ = enc.Encode(cs)
		} else if cs.Done {
			fmt.Fprintf(a.stderr, "%s: %d records (%s → %s)\n", shortID(cs.ID), cs.Records, keyName(cs.From), keyName(cs.To))
		}
	}
	rep, err := w.Convert(cmd.Context(), o)
	out := convertOutput{Messages: rep.Messages, Failed: rep.Failed, Removed: rep.Removed, Sessions: rep.Sessions}
	for _, cs := range rep.Sessions {
		if cs.Done {
			out.Converted++
		} else {
			out.Already++
		}
	}
	if err != nil && !errors.Is(err, workspace.ErrConvert) {
		return err
	}
	if a.jsonOut {
		if werr := a.writeJSON(out); werr != nil {
			return werr
		}
	} else {
		fmt.Fprintf(a.stdout, "%s: %d session(s) converted (%d messages), %d already done, %d left as they were\n",
			verb, out.Converted, out.Messages, out.Already, len(out.Failed))
		for id, why := range out.Failed {
			fmt.Fprintf(a.stdout, "  %s: %s\n", shortID(id), why)
		}
		for _, p := range out.Removed {
			fmt.Fprintf(a.stdout, "  removed %s\n", p)
		}
	}
	if err != nil {
		return &exitError{code: exitRepairable, err: err, kind: codePartial}
	}
	return nil
}

func keyName(id string) string {
	if id == "" {
		return "plaintext"
	}
	return id
}
