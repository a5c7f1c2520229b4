package migrate_test

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"testing"

	"github.com/picosess/picosess/migrate"
	"github.com/picosess/picosess/workspace"
	"github.com/picosess/picosess/workspace/config"
	"github.com/picosess/picosess/workspace/seal"
)

// Migrating into an encrypted workspace writes encrypted sessions: no
// word of the legacy messages in the workspace, every message verified,
// and a second plan finds them (it reads them with the key).
func TestMigrateIntoEncryptedWorkspace(t *testing.T) {
	ctx := context.Background()
	tmp := t.TempDir()
	home := filepath.Join(tmp, ".picoclaw")
	for name, text := range picoclawTree {
		p := filepath.Join(home, filepath.FromSlash(name))
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(text), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	k, _ := seal.NewKey()
	root := filepath.Join(tmp, "workspace")
	ws, err := workspace.Open(root, &workspace.Options{Config: &config.File{Encryption: config.Encryption{Enabled: true}}, Key: &k})
	if err != nil {
		t.Fatal(err)
	}
	defer ws.Close()
	plan, err := migrate.NewPlan(ctx, home, ws, migrate.PlanOptions{})
	if err != nil {
		t.Fatal(err)
	}
	rep, err := migrate.Apply(ctx, ws, plan, migrate.ApplyOptions{ReportDir: filepath.Join(tmp, "report")})
	if err != nil || !rep.Verify.OK() || rep.Messages != 5 {
		t.Fatalf("apply: %+v, %v", rep, err)
	}
	filepath.WalkDir(root, func(path string, d os.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return nil
		}
		b, _ := os.ReadFile(path)
		for _, w := range []string{"milk", "cake", "Alice"} {
			if bytes.Contains(b, []byte(w)) {
				t.Errorf("%s holds %q in clear", path, w)
			}
		}
		return nil
	})
	again, err := migrate.NewPlan(ctx, home, ws, migrate.PlanOptions{})
	if err != nil {
		t.Fatal(err)
	}
	for _, s := range again.Sessions {
		if s.Action != "skip" {
			t.Errorf("again: %s %s", s.Action, s.ID)
		}
	}
}
