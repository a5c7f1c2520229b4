package seal

import (
	"bytes"
	"crypto/aes"
	"crypto/cipher"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"strings"
	"testing"
)

// The fixed inputs of the known-answer vectors (docs/encryption.md repeats them).
const (
	katKeyHex = "000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f"
	katID     = "sk_v1_6564a81f014ea530b7e76fbc6f6d74f286dad7c05fae1b2af3a90114c5cb58f7"
	katNonce  = "a0a1a2a3a4a5a6a7a8a9aaab"
	katPlain  = `{"content":"buy milk"}`
)

// Known answers: computed once, and checked below against a second,
// independent computation (HKDF by hand from HMAC, RFC 5869).
const (
	katKeyID      = "k1-e0aa09db44f35d47"
	katSessionKey = "cd5a0082d5e79e5b42abd421a3ee080204915e3e43be3159163181379c1fb48b"
	katBox        = "a0a1a2a3a4a5a6a7a8a9aaab198106950224b79315680638c6458cf67944cf7393d5131cd0f8922148e2dc466695753cd750"
)

type fixedNonce []byte

func (f fixedNonce) Read(p []byte) (int, error) { return copy(p, f), nil }

func katKey(t *testing.T) Key {
	t.Helper()
	k, err := ParseKey(katKeyHex)
	if err != nil {
		t.Fatal(err)
	}
	return k
}

// hkdfByHand is RFC 5869 written out: extract, then one expand block.
func hkdfByHand(secret, salt []byte, info string) []byte {
	ext := hmac.New(sha256.New, salt)
	ext.Write(secret)
	prk := ext.Sum(nil)
	exp := hmac.New(sha256.New, prk)
	exp.Write([]byte(info))
	exp.Write([]byte{1})
	return exp.Sum(nil)
}

func TestKnownAnswers(t *testing.T) {
	k := katKey(t)
	if got := k.ID(); got != katKeyID {
		t.Errorf("key id = %s, want %s", got, katKeyID)
	}
	raw, _ := hex.DecodeString(katKeyHex)
	sk := hkdfByHand(raw, []byte(katID), "picosess record key v1")
	if got := hex.EncodeToString(sk); got != katSessionKey {
		t.Errorf("session key = %s, want %s", got, katSessionKey)
	}
	s := k.Session(katID)
	nonce, _ := hex.DecodeString(katNonce)
	s.rand = fixedNonce(nonce)
	box := s.Seal(nil, 2, "message", []byte(katPlain))
	if got := hex.EncodeToString(box); got != katBox {
		t.Errorf("box = %s, want %s", got, katBox)
	}
	// The same box, by hand with the standard library only.
	block, _ := aes.NewCipher(sk)
	gcm, _ := cipher.NewGCM(block)
	ad := []byte("picosess/v1\x00" + katID + "\x00message\x00\x00\x00\x00\x00\x00\x00\x00\x02")
	want := append(append([]byte{}, nonce...), gcm.Seal(nil, nonce, []byte(katPlain), ad)...)
	if !bytes.Equal(box, want) {
		t.Errorf("box differs from the by-hand computation")
	}
	plain, err := s.Open(nil, 2, "message", box)
	if err != nil || string(plain) != katPlain {
		t.Errorf("Open = %q, %v", plain, err)
	}
}

func TestOpenDetects(t *testing.T) {
	k := katKey(t)
	other, _ := NewKey()
	s := k.Session(katID)
	box := s.Seal(nil, 5, "message", []byte(katPlain))
	flipped := append([]byte{}, box...)
	flipped[NonceSize+3] ^= 0x10
	for _, c := range []struct {
		name string
		s    *Session
		seq  int64
		typ  string
		box  []byte
	}{
		{"wrong key", other.Session(katID), 5, "message", box},
		{"other session", k.Session(strings.Replace(katID, "65", "66", 1)), 5, "message", box},
		{"other seq", s, 6, "message", box},
		{"other type", s, 5, "summary", box},
		{"flipped bit", s, 5, "message", flipped},
		{"truncated", s, 5, "message", box[:len(box)-1]},
		{"shorter than a tag", s, 5, "message", box[:20]},
		{"empty", s, 5, "message", nil},
	} {
		if _, err := c.s.Open(nil, c.seq, c.typ, c.box); !errors.Is(err, ErrAuth) {
			t.Errorf("%s: err = %v, want ErrAuth", c.name, err)
		}
	}
}

func TestNoncesDiffer(t *testing.T) {
	s := katKey(t).Session(katID)
	a := s.Seal(nil, 2, "message", []byte("x"))
	b := s.Seal(nil, 2, "message", []byte("x"))
	if bytes.Equal(a[:NonceSize], b[:NonceSize]) {
		t.Fatal("two seals used the same nonce")
	}
}

func TestParseKey(t *testing.T) {
	k := katKey(t)
	for _, text := range []string{katKeyHex, strings.ToUpper(katKeyHex), k.Base64(), " " + k.Base64() + "\n",
		strings.TrimRight(k.Base64(), "=")} {
		got, err := ParseKey(text)
		if err != nil || got != k {
			t.Errorf("ParseKey(%q) = %v, %v", text, got, err)
		}
	}
	for _, text := range []string{"", "abc", katKeyHex[:62], "correct horse battery staple"} {
		if _, err := ParseKey(text); !errors.Is(err, ErrKeyFormat) {
			t.Errorf("ParseKey(%q) err = %v", text, err)
		}
	}
	if strings.Contains(k.String(), k.Base64()) || strings.Contains(k.String(), katKeyHex) {
		t.Error("String shows the key")
	}
}

func TestPassphrase(t *testing.T) {
	p := KDF{Name: "argon2id", Salt: []byte("0123456789abcdef"), Time: 1, MemoryK: 8 * 1024, Threads: 1}
	a, err := p.Derive([]byte("correct horse"))
	if err != nil {
		t.Fatal(err)
	}
	b, _ := p.Derive([]byte("correct horse"))
	c, _ := p.Derive([]byte("correct horsf"))
	if a != b || a == c {
		t.Fatal("argon2id derivation is not a function of the passphrase")
	}
	if _, err := (KDF{Name: "argon2id", Salt: []byte("short"), Time: 1, MemoryK: 8192, Threads: 1}).Derive([]byte("x")); err == nil {
		t.Fatal("a short salt was accepted")
	}
}
