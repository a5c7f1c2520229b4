package serve

import (
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"strings"
)

// TokenFile is the file in the workspace root where a generated token is
// kept (mode 0600).
const TokenFile = "serve-token"

// ErrNoToken: the server was asked to listen on an address other than
// loopback without a token.
var ErrNoToken = errors.New("serve: a token is required to listen beyond loopback")

// Loopback reports whether a listen address ("127.0.0.1:7420",
// "[::1]:0", "localhost:7420") only takes connections from this machine.
// An empty host (":7420") means every address: not loopback.
func Loopback(addr string) bool {
	host, _, err := net.SplitHostPort(addr)
	if err != nil {
		host = addr
	}
	host = strings.Trim(host, "[]")
	if strings.EqualFold(host, "localhost") {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}

// CheckListen refuses a listen address beyond loopback without a token.
func CheckListen(addr, token string) error {
	if token == "" && !Loopback(addr) {
		return fmt.Errorf("%w: %s is not a loopback address", ErrNoToken, addr)
	}
	return nil
}

// NewToken returns a new random token: 32 bytes, in hex.
func NewToken() string {
	b := make([]byte, 32)
	_, _ = rand.Read(b) // never fails (crypto/rand)
	return hex.EncodeToString(b)
}

// ReadToken reads a token from a file: its first line, trimmed.
func ReadToken(path string) (string, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return "", fmt.Errorf("serve: token file: %w", err)
	}
	tok := strings.TrimSpace(strings.SplitN(string(b), "\n", 2)[0])
	if tok == "" {
		return "", fmt.Errorf("serve: token file %s is empty", path)
	}
	return tok, nil
}

// StoreToken writes token to <root>/serve-token, readable by its owner
// only, and returns the path.
func StoreToken(root, token string) (string, error) {
	path := filepath.Join(root, TokenFile)
	tmp := path + ".tmp"
	if err := os.WriteFile(tmp, []byte(token+"\n"), 0o600); err != nil {
		return "", fmt.Errorf("serve: store token: %w", err)
	}
	if err := os.Chmod(tmp, 0o600); err != nil {
		return "", fmt.Errorf("serve: store token: %w", err)
	}
	if err := os.Rename(tmp, path); err != nil {
		return "", fmt.Errorf("serve: store token: %w", err)
	}
	return path, nil
}
