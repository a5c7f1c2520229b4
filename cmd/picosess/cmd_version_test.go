package main

import (
	"encoding/json"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
)

func TestVersionReportsTheBuild(t *testing.T) {
	if testing.Short() {
		t.Skip("builds the binary")
	}
	head, err := exec.Command("git", "rev-parse", "HEAD").Output()
	if err != nil {
		t.Skipf("not in a git checkout (%v): no revision to compare", err)
	}
	bin := filepath.Join(t.TempDir(), "picosess")
	if out, err := exec.Command("go", "build", "-buildvcs=true", "-o", bin, ".").CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	out, errOut, code := exitOf(t, bin, "version", "--json")
	if code != 0 {
		t.Fatalf("version --json: %d %s", code, errOut)
	}
	var v versionInfo
	if err := json.Unmarshal([]byte(out), &v); err != nil {
		t.Fatal(err)
	}
	if v.Revision != strings.TrimSpace(string(head)) || v.Time == "" || v.Go != runtime.Version() || v.OS != runtime.GOOS || v.Arch != runtime.GOARCH || v.Version == "" {
		t.Fatalf("version --json = %+v; HEAD is %s", v, head)
	}
	line, _, code := exitOf(t, bin, "--version")
	if code != 0 || !strings.HasPrefix(line, "picosess ") || !strings.Contains(line, v.Revision[:12]) || !strings.Contains(line, runtime.GOOS+"/"+runtime.GOARCH) {
		t.Fatalf("--version = %q", line)
	}
	if text, _, _ := exitOf(t, bin, "version"); text != line {
		t.Fatalf("version %q differs from --version %q", text, line)
	}
}
