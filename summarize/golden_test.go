package summarize

import (
	"context"
	"encoding/json"
	"flag"
	"os"
	"path/filepath"
	"testing"

	"github.com/picosess/picosess/workspace"
)

var update = flag.Bool("update", false, "rewrite the golden files in testdata/golden")

// golden compares got with testdata/golden/<name>, or rewrites it with -update.
func golden(t *testing.T, name string, got []byte) {
	t.Helper()
	path := filepath.Join("testdata", "golden", name)
	if *update {
		if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(path, got, 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (run go test -update to create it)", err)
	}
	if string(got) != string(want) {
		t.Fatalf("%s differs (go test -update rewrites it):\n--- got\n%s\n--- want\n%s", path, got, want)
	}
}

// The extractive summary of a fixed conversation, with the default
// o200k_base counter: any change to scoring, splitting or counting shows.
func TestGoldenExtractiveGarden(t *testing.T) {
	res, err := Extractive{Counter: tk(t)}.Summarize(context.Background(), gardenRequest())
	if err != nil {
		t.Fatal(err)
	}
	golden(t, "extractive-garden.txt", []byte(res.Text+"\n"))
}

// The context sent for PicoClaw's real JSONL session (a read_file tool
// turn), as the context command's JSON would carry it.
func TestGoldenContextPicoClawJSONL(t *testing.T) {
	data, err := os.ReadFile("../testdata/legacy/picoclaw/2-legacy-jsonl-after-migrate/agent_main_telegram_direct_123456789.jsonl")
	if err != nil {
		t.Fatal(err)
	}
	h := picoclawRecords(t, data)
	h = append([]workspace.Record{{Type: workspace.TypeSummary, Seq: 1, Text: "User 123456789 asked about notes.txt; it contains a shopping reminder."}}, h...)
	got, err := BuildContext(h, Budget{MaxTokens: 80, Strategy: StrategySmart}, tk(t))
	if err != nil {
		t.Fatal(err)
	}
	out, _ := json.MarshalIndent(got, "", "  ")
	golden(t, "context-picoclaw-jsonl-smart-80.json", append(out, '\n'))
}
