package seal

import (
	"crypto/rand"
	"errors"
	"fmt"
	"io"

	"golang.org/x/crypto/argon2"
)

// KDF parameters of a passphrase (argon2id). They are stored next to the
// salt (workspace's encryption.json), so they may change later without
// breaking old workspaces.
type KDF struct {
	Name    string `json:"kdf"` // "argon2id"
	Salt    []byte `json:"salt"`
	Time    uint32 `json:"time"`
	MemoryK uint32 `json:"memory_kib"`
	Threads uint8  `json:"threads"`
}

// DefaultKDF returns argon2id parameters (RFC 9106's second recommended
// option: t=3, 64 MiB, 4 lanes) with a new random 16-byte salt.
func DefaultKDF() (KDF, error) {
	salt := make([]byte, 16)
	if _, err := io.ReadFull(rand.Reader, salt); err != nil {
		return KDF{}, err
	}
	return KDF{Name: "argon2id", Salt: salt, Time: 3, MemoryK: 64 * 1024, Threads: 4}, nil
}

// Derive turns a passphrase into a master key.
func (p KDF) Derive(passphrase []byte) (Key, error) {
	if p.Name != "argon2id" {
		return Key{}, fmt.Errorf("seal: unknown kdf %q (argon2id is the one supported)", p.Name)
	}
	if len(p.Salt) < 16 || p.Time < 1 || p.MemoryK < 8*1024 || p.Threads < 1 {
		return Key{}, errors.New("seal: argon2id parameters too weak (salt ≥ 16 bytes, time ≥ 1, memory ≥ 8 MiB)")
	}
	if len(passphrase) == 0 {
		return Key{}, errors.New("seal: empty passphrase")
	}
	return KeyFromBytes(argon2.IDKey(passphrase, p.Salt, p.Time, p.MemoryK, p.Threads, KeySize))
}
