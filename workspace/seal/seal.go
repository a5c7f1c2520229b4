package seal

import (
	"crypto/aes"
	"crypto/cipher"
	"crypto/hkdf"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"strings"
)

// KeySize is the size of a master key and of a session key.
const KeySize = 32

// NonceSize and Overhead: a box is NonceSize+len(plaintext)+Overhead bytes.
const (
	NonceSize = 12
	Overhead  = 16
)

// Version names this format; it is part of the key derivation and of the
// associated data, so a later version cannot be confused with it.
const Version = "v1"

const (
	sessionInfo = "picosess record key " + Version
	adPrefix    = "picosess/" + Version
	keyIDLabel  = "picosess key id " + Version
)

var (
	// ErrAuth: a box did not authenticate: a wrong key, or bytes changed,
	// cut short or moved to another session, seq or type.
	ErrAuth = errors.New("seal: authentication failed (wrong key, or the record was changed or moved)")
	// ErrKeyFormat: a key is not 32 bytes of base64 or hex.
	ErrKeyFormat = errors.New("seal: a key is 32 bytes written in base64 or hex")
)

// Key is a master key. Its String never shows the bytes.
type Key struct{ b [KeySize]byte }

// NewKey returns a new random key.
func NewKey() (Key, error) {
	var k Key
	if _, err := io.ReadFull(rand.Reader, k.b[:]); err != nil {
		return Key{}, fmt.Errorf("seal: new key: %w", err)
	}
	return k, nil
}

// KeyFromBytes makes a key of exactly KeySize bytes.
func KeyFromBytes(b []byte) (Key, error) {
	var k Key
	if len(b) != KeySize {
		return k, fmt.Errorf("%w (got %d bytes)", ErrKeyFormat, len(b))
	}
	copy(k.b[:], b)
	return k, nil
}

// ParseKey reads a key written as 64 hex digits or as base64 (standard or
// URL alphabet, padded or not) of 32 bytes; surrounding white space is
// ignored.
func ParseKey(text string) (Key, error) {
	s := strings.TrimSpace(text)
	if len(s) == 2*KeySize {
		if b, err := hex.DecodeString(s); err == nil {
			return KeyFromBytes(b)
		}
	}
	for _, enc := range []*base64.Encoding{base64.StdEncoding, base64.RawStdEncoding, base64.URLEncoding, base64.RawURLEncoding} {
		if b, err := enc.DecodeString(s); err == nil && len(b) == KeySize {
			return KeyFromBytes(b)
		}
	}
	return Key{}, ErrKeyFormat
}

// Base64 writes the key in standard base64 (what keygen writes).
func (k Key) Base64() string { return base64.StdEncoding.EncodeToString(k.b[:]) }

// String hides the key.
func (k Key) String() string { return "seal.Key(" + k.ID() + ")" }

// ID is the key's fingerprint, written in session headers so a wrong key is
// found before anything is read or written: "k1-" and 16 hex digits of a
// SHA-256 of the key under a label. It reveals nothing usable about the key.
func (k Key) ID() string {
	h := sha256.New()
	h.Write([]byte(keyIDLabel))
	h.Write([]byte{0})
	h.Write(k.b[:])
	return "k1-" + hex.EncodeToString(h.Sum(nil)[:8])
}

// Session derives the key of one session and returns its sealer.
func (k Key) Session(id string) *Session {
	sk, err := hkdf.Key(sha256.New, k.b[:], []byte(id), sessionInfo, KeySize)
	if err != nil {
		panic("seal: hkdf: " + err.Error()) // only for lengths > 255*32
	}
	block, err := aes.NewCipher(sk)
	if err != nil {
		panic("seal: aes: " + err.Error())
	}
	aead, err := cipher.NewGCM(block)
	if err != nil {
		panic("seal: gcm: " + err.Error())
	}
	return &Session{id: id, aead: aead, rand: rand.Reader}
}

// Session seals and opens the records of one session. It is safe for
// concurrent use.
type Session struct {
	id   string
	aead cipher.AEAD
	rand io.Reader // nonces; only tests replace it
}

// ad is the associated data that binds a box to its place.
func (s *Session) ad(buf []byte, seq int64, typ string) []byte {
	buf = append(buf, adPrefix...)
	buf = append(buf, 0)
	buf = append(buf, s.id...)
	buf = append(buf, 0)
	buf = append(buf, typ...)
	buf = append(buf, 0)
	return binary.BigEndian.AppendUint64(buf, uint64(seq))
}

// Seal appends to dst the box of plaintext for the record of type typ at
// seq: a fresh random nonce, the ciphertext and its tag.
func (s *Session) Seal(dst []byte, seq int64, typ string, plaintext []byte) []byte {
	var adb [128]byte
	ad := s.ad(adb[:0], seq, typ)
	n := len(dst)
	dst = append(dst, make([]byte, NonceSize)...)
	if _, err := io.ReadFull(s.rand, dst[n:]); err != nil {
		panic("seal: no randomness: " + err.Error()) // never reuse a nonce
	}
	return s.aead.Seal(dst, dst[n:n+NonceSize], plaintext, ad)
}

// Open appends to dst the plaintext of box, the record of type typ at seq.
// Any change (a wrong key, a flipped bit, a box cut short, one moved from
// another session, seq or type) fails with an error wrapping ErrAuth.
func (s *Session) Open(dst []byte, seq int64, typ string, box []byte) ([]byte, error) {
	if len(box) < NonceSize+Overhead {
		return nil, fmt.Errorf("%w: box of %d bytes is shorter than nonce and tag", ErrAuth, len(box))
	}
	var adb [128]byte
	ad := s.ad(adb[:0], seq, typ)
	out, err := s.aead.Open(dst, box[:NonceSize], box[NonceSize:], ad)
	if err != nil {
		return nil, ErrAuth
	}
	return out, nil
}
