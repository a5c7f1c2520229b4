package index

import (
	"errors"
	"testing"

	"github.com/picosess/picosess/workspace"
	"github.com/picosess/picosess/workspace/config"
	"github.com/picosess/picosess/workspace/seal"
)

// Search is off in an encrypted workspace unless encryption.index opts in.
func TestOpenEncryptedWorkspace(t *testing.T) {
	k, _ := seal.NewKey()
	for _, c := range []struct {
		enc  config.Encryption
		want error
	}{
		{config.Encryption{Enabled: true}, ErrOff},
		{config.Encryption{Enabled: true, Index: true}, nil},
		{config.Encryption{}, nil},
	} {
		ws, err := workspace.Open(t.TempDir(), &workspace.Options{Config: &config.File{Encryption: c.enc}, Key: &k})
		if err != nil {
			t.Fatal(err)
		}
		x, err := Open(ws, nil)
		if !errors.Is(err, c.want) {
			t.Errorf("%+v: err = %v, want %v", c.enc, err, c.want)
		}
		if x != nil {
			x.Close()
		}
		ws.Close()
	}
}
