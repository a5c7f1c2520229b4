package config

import (
	"encoding/json"
	"strings"
)

// Encryption is the encryption block (docs/encryption.md). The key itself
// is never here: it comes from $PICOSESS_KEY, the file KeyFile names, or
// --key-file (a passphrase from $PICOSESS_PASSPHRASE, through argon2id with
// the salt in <root>/encryption.json).
type Encryption struct {
	// Enabled seals the sensitive fields of every record written from now
	// on; plaintext sessions are refused for appends until `picosess
	// encrypt` converts them.
	Enabled bool `json:"enabled,omitempty"`
	// KeyFile is the path of the master key file (32 bytes, base64 or hex);
	// relative to the workspace root. It must not be readable by group or
	// others.
	KeyFile string `json:"key_file,omitempty"`
	// Index lets the search index keep the words of encrypted sessions
	// (terms only, no stored text); off by default, and search is then
	// refused for encrypted workspaces (docs/encryption.md says what the
	// index reveals).
	Index bool `json:"index,omitempty"`
	// Key is refused: a key in config.json would sit next to the data it
	// protects (and in every backup of it).
	Key json.RawMessage `json:"key,omitempty"`
}

func (e Encryption) validate(path string) error {
	if e.Key != nil {
		return fieldErr(path+".key", "a key is never kept in config.json: use $PICOSESS_KEY, encryption.key_file or --key-file")
	}
	if e.KeyFile != "" && strings.TrimSpace(e.KeyFile) != e.KeyFile {
		return fieldErr(path+".key_file", "leading or trailing white space in %q", e.KeyFile)
	}
	if (e.KeyFile != "" || e.Index) && !e.Enabled {
		return fieldErr(path+".enabled", "key_file and index have no effect unless enabled is true")
	}
	return nil
}
