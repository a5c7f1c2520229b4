// Command fuzz-seeds writes the seed corpora of the fuzz targets,
// testdata/fuzz/<FuzzName>/<case>, in Go's corpus format ("go test fuzz
// v1"): real session files written by the workspace package and then
// damaged as crashes and hands damage them (the rows of
// workspace/corrupt_test.go), the damaged legacy stores of
// testdata/legacy-damaged, and the hostile strings of keys and terminals.
// `go test` runs every seed as a test case; `go test -fuzz` mutates them.
//
//	go run ./.ci/fuzz-seeds   # from the repository root; rewrites the corpora
package main

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"github.com/picosess/picosess/workspace"
)

func main() {
	if err := run(); err != nil {
		fmt.Fprintln(os.Stderr, "fuzz-seeds:", err)
		os.Exit(1)
	}
}

// value is one argument of a corpus entry, already in corpus syntax.
type value string

func bytesV(b string) value  { return value(fmt.Sprintf("[]byte(%q)", b)) }
func stringV(s string) value { return value(fmt.Sprintf("string(%q)", s)) }
func uint16V(n uint16) value { return value(fmt.Sprintf("uint16(%d)", n)) }
func byteV(n byte) value     { return value(fmt.Sprintf("byte(%q)", n)) }

// corpus writes the entries of one target, replacing what was there.
func corpus(pkg, target string, entries map[string][]value) error {
	dir := filepath.Join(pkg, "testdata", "fuzz", target)
	if err := os.RemoveAll(dir); err != nil {
		return err
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return err
	}
	for name, vals := range entries {
		var b strings.Builder
		b.WriteString("go test fuzz v1\n")
		for _, v := range vals {
			b.WriteString(string(v) + "\n")
		}
		if err := os.WriteFile(filepath.Join(dir, name), []byte(b.String()), 0o644); err != nil {
			return err
		}
	}
	fmt.Printf("%s: %d seeds\n", dir, len(entries))
	return nil
}

// session writes a real session file through the workspace package and
// returns its lines (each with its '\n') and one more record's line that
// was never appended (for torn tails).
func session() (lines []string, next string, big string, err error) {
	dir, err := os.MkdirTemp("", "fuzz-seeds-")
	if err != nil {
		return nil, "", "", err
	}
	defer os.RemoveAll(dir)
	w, err := workspace.Open(dir, &workspace.Options{Durability: workspace.DurabilityNever, CountTokens: workspace.EstimateTokens})
	if err != nil {
		return nil, "", "", err
	}
	defer w.Close()
	ctx := context.Background()
	s, err := w.Session(ctx, workspace.Target{Name: "seed"})
	if err != nil {
		return nil, "", "", err
	}
	m := func(role, content string) workspace.Record {
		return workspace.Record{Type: workspace.TypeMessage, Role: role, Sender: "alice", Content: content}
	}
	if _, err := s.Append(ctx, m(workspace.RoleUser, "hello café, 公寓在柏林 🏠"), m(workspace.RoleAssistant, "bonjour"),
		m(workspace.RoleUser, "a third line"), m(workspace.RoleUser, "the one that was cut")); err != nil {
		return nil, "", "", err
	}
	// A big tool result, cut down from the 10 MB of the corruption table
	// to 64 KB: the same shape, a size a fuzzer can mutate.
	if _, err := s.Append(ctx, m(workspace.RoleUser, strings.Repeat("0123456789abcdef", 4096))); err != nil {
		return nil, "", "", err
	}
	raw, err := os.ReadFile(s.Path())
	if err != nil {
		return nil, "", "", err
	}
	all := strings.SplitAfter(string(raw), "\n")
	return all[:4], all[4], all[5], nil
}

func run() error {
	l, next, big, err := session()
	if err != nil {
		return err
	}
	base := strings.Join(l, "")
	cafe := strings.Index(l[1], "é")
	zeros := func(n int) string { return strings.Repeat("\x00", n) }
	files := map[string]string{
		"whole":                     base,
		"torn-tail":                 base + next[:30],
		"torn-tail-cut-rune":        base + l[1][:cafe+1],
		"nul-run-at-tail":           base + zeros(4096),
		"nul-run-after-torn-tail":   base + next[:20] + zeros(512),
		"zeroed-block-between":      l[0] + l[1] + zeros(len(l[2])) + l[3],
		"zeroed-block-no-newline":   l[0] + zeros(4096) + l[2] + l[3],
		"broken-middle-line":        l[0] + `{"type":"message","seq":2,"at":` + "\n" + l[2] + l[3],
		"rune-cut-in-middle-line":   l[0] + l[1][:cafe+1] + l[1][cafe+2:] + l[2] + l[3],
		"missing-final-newline":     strings.TrimSuffix(base, "\n"),
		"torn-record-glued":         l[0] + l[1] + next[:40] + l[2] + l[3],
		"two-files-glued":           base + base,
		"glued-without-newline":     strings.TrimSuffix(base, "\n") + base,
		"big-line-whole":            base + big,
		"big-line-cut":              base + big[:40000],
		"big-line-cut-then-records": base + big[:40000] + "\n" + next,
		"header-torn":               l[0][:25],
		"header-only-no-newline":    strings.TrimSuffix(l[0], "\n"),
		"header-lost":               l[1] + l[2] + l[3],
		"message-as-seq-1":          strings.Replace(l[1], `"seq":2`, `"seq":1`, 1),
		"seq-duplicate":             l[0] + l[1] + l[1] + l[2],
		"seq-backwards":             l[0] + l[2] + l[1],
		"second-header":             l[0] + l[1] + l[0] + l[2],
		"crlf":                      strings.ReplaceAll(base, "\n", "\r\n"),
		"bom":                       "\ufeff" + base,
		"blank-lines":               l[0] + "\n\n" + l[1] + "   \n" + l[2],
		"picoclaw-line":             `{"role":"user","content":"hi","created_at":"2026-11-21T07:16:56.9Z"}` + "\n",
		"only-nuls":                 zeros(8192),
		"empty":                     "",
	}
	reader := map[string][]value{}
	for name, b := range files {
		reader[name] = []value{bytesV(b)}
	}
	if err := corpus("workspace", "FuzzRecordReader", reader); err != nil {
		return err
	}

	lines := map[string]string{
		"header": l[0], "message": l[1], "torn": next[:30], "torn-mid-rune": l[1][:cafe+1],
		"rune-cut": l[1][:cafe+1] + l[1][cafe+2:], "nul-run": zeros(256), "nul-in-string": strings.Replace(l[2], "third", "th\x00ird", 1),
		"escaped-nul": strings.Replace(l[2], "third", `th\u0000ird`, 1), "lone-surrogate": strings.Replace(l[2], "third", `\ud800`, 1),
		"big-cut": big[:40000], "big": big, "crlf": strings.TrimSuffix(l[1], "\n") + "\r\n",
		"dup-keys":  `{"type":"message","seq":2,"seq":3,"at":"2026-01-01T00:00:00Z","role":"user","content":"x"}`,
		"seq-huge":  strings.Replace(l[1], `"seq":2`, `"seq":99999999999999999999999`, 1),
		"seq-float": strings.Replace(l[1], `"seq":2`, `"seq":2.5`, 1),
		"nested":    `{"type":"message","seq":2,"at":"2026-01-01T00:00:00Z","meta":` + strings.Repeat("[", 5000) + strings.Repeat("]", 5000) + `}`,
	}
	decode := map[string][]value{}
	for name, b := range lines {
		decode[name] = []value{bytesV(b)}
	}
	if err := corpus("workspace", "FuzzDecodeFast", decode); err != nil {
		return err
	}

	// Legacy stores: every damaged JSONL of testdata/legacy-damaged, and a
	// PicoClaw file with the session files' damage.
	legacy := map[string][]value{}
	ctxSeeds := map[string][]value{}
	err = filepath.WalkDir("testdata/legacy-damaged", func(p string, d os.DirEntry, err error) error {
		if err != nil || d.IsDir() || !strings.HasSuffix(p, ".jsonl") {
			return err
		}
		b, err := os.ReadFile(p)
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel("testdata/legacy-damaged", p)
		name := strings.NewReplacer("/", "--").Replace(strings.TrimSuffix(rel, ".jsonl"))
		legacy[name] = []value{bytesV(string(b))}
		if strings.HasPrefix(rel, "picoclaw") {
			ctxSeeds[name] = []value{bytesV(string(b)), uint16V(200), byteV(2)}
		}
		return nil
	})
	if err != nil {
		return err
	}
	pico, err := os.ReadFile("testdata/legacy/picoclaw/2-legacy-jsonl-after-migrate/agent_main_telegram_direct_123456789.jsonl")
	if err != nil {
		return err
	}
	p := string(pico)
	for name, b := range map[string]string{
		"pico-torn-tail":      p + p[:len(p)/3],
		"pico-nul-run":        p + zeros(2048),
		"pico-glued":          strings.TrimSuffix(p, "\n") + p,
		"pico-cut-rune":       p + "{\"role\":\"user\",\"content\":\"caf\xc3",
		"pico-big-line-cut":   p + `{"role":"tool","tool_call_id":"x","content":"` + strings.Repeat("x", 40000),
		"pico-zeroed-between": p[:len(p)/2] + zeros(300) + p[len(p)/2:],
	} {
		legacy[name] = []value{bytesV(b)}
		ctxSeeds[name] = []value{bytesV(b), uint16V(60), byteV(1)}
		ctxSeeds[name+"-big-budget"] = []value{bytesV(b), uint16V(4000), byteV(4)}
		ctxSeeds[name+"-no-budget"] = []value{bytesV(b), uint16V(0), byteV(0)}
	}
	if err := corpus("migrate", "FuzzReadJSONL", legacy); err != nil {
		return err
	}
	if err := corpus("summarize", "FuzzBuildContext", ctxSeeds); err != nil {
		return err
	}

	// Strings that break keys, terminals and tokenizers.
	hostile := map[string]string{
		"nul": "a\x00b", "cut-rune": "caf\xc3", "separators": "v=1|agent=main:x", "colon": "agent:main:main",
		"rtl-override": "abc\u202edef", "zero-width": "a\u200bb", "titlecase": "ǅemal", "fullwidth": "ＡＢＣ",
		"spaces": "  padded  ", "newline": "line\nbreak", "long": strings.Repeat("x", 3000), "emoji-zwj": "👩‍👩‍👧",
		"escape": "\x1b]0;title\x07\x1b[2J", "c1": "\u009b31m", "empty": "",
	}
	norm := map[string][]value{}
	shared := map[string][]value{}
	for name, s := range hostile {
		norm[name] = []value{stringV("main"), stringV("telegram"), stringV(s), stringV("direct"), stringV(s), stringV(s)}
		shared[name] = []value{stringV("telegram"), stringV(s), stringV(s)}
	}
	if err := corpus("keying", "FuzzNormalizationIdempotent", norm); err != nil {
		return err
	}
	if err := corpus("keying", "FuzzSharedAccountIsReserved", shared); err != nil {
		return err
	}
	distinct := map[string][]value{}
	for name, s := range hostile {
		distinct[name] = []value{stringV("telegram"), stringV("default"), stringV("direct"), stringV("42"), stringV(""), stringV(""), stringV(s),
			stringV("telegram"), stringV("default"), stringV("direct"), stringV("42"), stringV(""), stringV(""), stringV(s + "x")}
	}
	distinct["separator-shift"] = []value{stringV("tele|gram"), stringV("default"), stringV("direct"), stringV("42"), stringV(""), stringV(""), stringV(""),
		stringV("tele"), stringV("gram|default"), stringV("direct"), stringV("42"), stringV(""), stringV(""), stringV("")}
	if err := corpus("keying", "FuzzDistinctScopesDistinctIDs", distinct); err != nil {
		return err
	}
	term := map[string][]value{}
	tok := map[string][]value{}
	for name, s := range hostile {
		term[name] = []value{stringV(s)}
		tok[name] = []value{stringV(s)}
	}
	term["osc52-clipboard"] = []value{stringV("\x1b]52;c;ZWNobyBwd25lZA==\x07")}
	term["csi-cut"] = []value{stringV("\x1b[3")}
	tok["special-token"] = []value{stringV("<|endoftext|> and <|im_start|>")}
	tok["digits"] = []value{stringV(strings.Repeat("1234567890", 50))}
	tok["cjk"] = []value{stringV("我们下周去柏林看公寓 東京の新しいアパート")}
	tok["cut-message"] = []value{stringV(l[1][:cafe+1])}
	if err := corpus("workspace/termtext", "FuzzEscape", term); err != nil {
		return err
	}
	return corpus("workspace/tokens", "FuzzTiktokenMatchesReference", tok)
}
