// Package seal is the cryptography of encrypted workspaces, kept below
// the storage code: a master Key (32 bytes), the per-session key derived
// from it, and Seal/Open of one record's sensitive fields with
// AES-256-GCM. The storage code hands it bytes and the record's place
// (session id, seq, type); it never sees a key or a nonce.
//
//	k, _ := seal.ParseKey(os.Getenv("PICOSESS_KEY"))
//	s := k.Session("sk_v1_…")
//	box := s.Seal(nil, 2, "message", []byte(`{"content":"hi"}`))
//	plain, err := s.Open(nil, 2, "message", box) // err wraps ErrAuth when anything changed
//
// The format (docs/encryption.md):
//
//	session key = HKDF-SHA256(secret = master, salt = session id, info = "picosess record key v1")
//	box         = nonce (12 random bytes) || AES-256-GCM ciphertext || tag (16 bytes)
//	AD          = "picosess/v1" 0x00 session id 0x00 type 0x00 seq (8 bytes, big endian)
//	key id      = "k1-" + hex(SHA-256("picosess key id v1" 0x00 master)[:8])
//
// The package owns no files.
package seal
