package migrate

import (
	"path/filepath"
	"testing"
	"time"
)

const legacyRoot = "../testdata/legacy"

// fixtureTrees are the shared legacy installs, each with the system
// auto-detection must find.
var fixtureTrees = []struct {
	dir    string
	system System
}{
	{"picoclaw/1-old-json", SystemPicoClaw},
	{"picoclaw/2-legacy-jsonl-after-migrate", SystemPicoClaw},
	{"picoclaw/3-new-opaque-upgraded-from-2", SystemPicoClaw},
	{"picoclaw/4-new-opaque-fresh", SystemPicoClaw},
	{"openclaw/2025.12-clawdis-flat", SystemOpenClaw},
	{"openclaw/2026.1-clawdbot", SystemOpenClaw},
	{"openclaw/2026.4-openclaw", SystemOpenClaw},
	{"pocketpaw/dot-pocketpaw", SystemPocketPaw},
}

func lisbon(t *testing.T) *time.Location {
	t.Helper()
	loc, err := time.LoadLocation("Europe/Lisbon")
	if err != nil {
		t.Skipf("no tz database: %v", err)
	}
	return loc
}

func TestFixtureGolden(t *testing.T) {
	for _, ft := range fixtureTrees {
		t.Run(ft.dir, func(t *testing.T) {
			r := mustRead(t, filepath.Join(legacyRoot, ft.dir), Options{Location: lisbon(t)})
			if r.System != ft.system {
				t.Fatalf("detected %s, want %s", r.System, ft.system)
			}
			checkGolden(t, "legacy/"+filepath.ToSlash(ft.dir), goldenView(t, r))
		})
	}
}
