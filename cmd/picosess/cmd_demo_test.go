package main

import (
	"context"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/picosess/picosess/workspace"
)

func TestDemoWalkThrough(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "demo")
	out := mustRun(t, "demo", dir)
	for _, want := range []string{"$ picosess ls", "$ picosess show agent:main:telegram:direct:123456789 --all",
		"reset (daily)", "$ picosess search dentist", "time the **dentist** is on Friday", "$ picosess context trip-plan --max-tokens 50", "of 50 tokens", "get_weather", "user (carol)", "$ picosess export trip-plan", "# Plan three days in Lisbon", "Next, try:",
		"export PICOSESS_WORKSPACE=" + dir} {
		if !strings.Contains(out, want) {
			t.Errorf("demo output lacks %q", want)
		}
	}
	// The workspace is kept, and it is healthy.
	if _, _, code := runCLI(t, "--workspace", dir, "check"); code != 0 {
		t.Fatalf("check of the demo workspace: exit %d", code)
	}
	// Never into a non-empty directory.
	_, errOut, code := runCLI(t, "demo", dir)
	if code != 1 || !strings.Contains(errOut, "is not empty") {
		t.Fatalf("demo into a non-empty directory: exit %d %q", code, errOut)
	}
}

// The demo workspace has what the walk-through promises.
func TestDemoContent(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "demo")
	var got demoOutput
	if err := json.Unmarshal([]byte(mustRun(t, "demo", dir, "--json")), &got); err != nil {
		t.Fatal(err)
	}
	if got.Workspace != dir || len(got.Sessions) != 5 {
		t.Fatalf("demo --json: %+v", got)
	}
	ctx := context.Background()
	w, err := workspace.Open(dir, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer w.Close()
	list, err := w.List(ctx, workspace.ListOptions{})
	if err != nil || len(list) != 5 {
		t.Fatalf("%d sessions (%v)", len(list), err)
	}
	channels := map[string]int{}
	for _, m := range list {
		channels[m.Channel]++
		if m.Created.After(m.Updated) {
			t.Errorf("%s created after its last record: %v > %v", m.ID, m.Created, m.Updated)
		}
	}
	if channels["telegram"] != 3 || channels["slack"] != 1 || channels[""] != 1 {
		t.Fatalf("channels: %v", channels)
	}
	segs := func(i int) []workspace.Segment {
		s, err := w.OpenID(got.Sessions[i])
		if err != nil {
			t.Fatal(err)
		}
		g, err := s.Segments(ctx)
		if err != nil {
			t.Fatal(err)
		}
		return g
	}
	if g := segs(0); len(g) != 2 || g[1].Reset.Reason != workspace.ReasonDaily {
		t.Errorf("the DM must have a daily reset: %+v", g)
	}
	turn := segs(1)[0].Messages()
	if len(turn) != 4 || len(turn[1].ToolCalls) == 0 || turn[2].ToolCallID != "call_1" || turn[3].Seq != turn[0].Seq+3 {
		t.Errorf("the Slack turn with a tool call: %+v", turn)
	}
	senders := map[string]bool{}
	for _, m := range segs(2)[0].Messages() {
		senders[m.Sender] = true
	}
	if !senders["bob"] || !senders["carol"] {
		t.Errorf("the group must have two senders: %v", senders)
	}
	if m := list[len(list)-1]; m.Scope == nil || m.Scope.Values["chat"] != "group:-1009876543/42" {
		t.Errorf("the oldest session is the forum topic: %+v", m.Scope)
	}
	named, err := w.Lookup(ctx, "trip-plan")
	if err != nil {
		t.Fatal(err)
	}
	if cps, err := named.Checkpoints(ctx); err != nil || len(cps) != 1 || cps[0].Name != "itinerary-v1" {
		t.Errorf("checkpoint: %+v %v", cps, err)
	}
}

func TestDemoTemporaryDirectory(t *testing.T) {
	t.Setenv("TMPDIR", t.TempDir())
	var got demoOutput
	if err := json.Unmarshal([]byte(mustRun(t, "demo", "--json")), &got); err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(got.Workspace, os.Getenv("TMPDIR")) || !strings.Contains(got.Workspace, "picosess-demo-") {
		t.Fatalf("demo without DIR went to %s", got.Workspace)
	}
}

// The commands the demo suggests at its end work as printed, with picosess
// on PATH (as after go install).
func TestDemoNextStepsWorkAsPrinted(t *testing.T) {
	bin := buildBinary(t)
	dir := filepath.Join(t.TempDir(), "demo")
	out, errOut, code := exitOf(t, bin, "demo", dir)
	if code != 0 {
		t.Fatalf("demo: %d %s", code, errOut)
	}
	_, tail, ok := strings.Cut(out, "Next, try:\n")
	if !ok {
		t.Fatalf("no next steps in:\n%s", out)
	}
	var script []string
	for _, line := range strings.Split(tail, "\n") {
		if !strings.HasPrefix(line, "  ") {
			break
		}
		script = append(script, strings.TrimSpace(line))
	}
	if len(script) < 5 {
		t.Fatalf("next steps: %q", script)
	}
	for _, cmd := range script[1:] {
		sh := exec.Command("sh", "-ec", cmd)
		sh.Env = append(os.Environ(), "PATH="+filepath.Dir(bin)+string(os.PathListSeparator)+os.Getenv("PATH"), "PICOSESS_WORKSPACE="+dir)
		if b, err := sh.CombinedOutput(); err != nil {
			t.Errorf("%s: %v\n%s", cmd, err, b)
		}
	}
	if !strings.HasPrefix(script[0], "export PICOSESS_WORKSPACE="+dir) {
		t.Errorf("first step %q does not point at the demo workspace %s", script[0], dir)
	}
}
