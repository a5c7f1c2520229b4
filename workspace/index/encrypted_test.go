package index

import (
	"context"
	"errors"
	"strings"
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

// With encryption.index, search works with the key: the hit's snippet is
// read from the decrypted file (the index stores no text).
func TestSearchEncryptedOptIn(t *testing.T) {
	ctx := context.Background()
	k, _ := seal.NewKey()
	root := t.TempDir()
	ws, err := workspace.Open(root, &workspace.Options{Config: &config.File{Encryption: config.Encryption{Enabled: true, Index: true}}, Key: &k})
	if err != nil {
		t.Fatal(err)
	}
	defer ws.Close()
	s, err := ws.Session(ctx, workspace.Target{Name: "opt-in"})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := s.Append(ctx, workspace.Record{Type: workspace.TypeMessage, Role: workspace.RoleUser, Content: "the quokka sleeps at noon"}); err != nil {
		t.Fatal(err)
	}
	x, err := Open(ws, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer x.Close()
	res, err := x.Search(ctx, Query{Text: "quokka"})
	if err != nil || len(res.Hits) != 1 || !strings.Contains(res.Hits[0].Content, "quokka sleeps") {
		t.Fatalf("search: %+v, %v", res, err)
	}
}
