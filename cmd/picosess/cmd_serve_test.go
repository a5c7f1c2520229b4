package main

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/picosess/picosess/workspace"
)

// The API answers on a real loopback listener: append through HTTP, then
// read the listing, history, records and a search back.
func TestServeAPI(t *testing.T) {
	w, err := workspace.Open(t.TempDir(), nil)
	if err != nil {
		t.Fatal(err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	done := make(chan error, 1)
	go func() { done <- serve(ctx, ln, w) }()
	base := "http://" + ln.Addr().String()
	client := &http.Client{Timeout: 30 * time.Second}

	do := func(method, path, body string, wantCode int) []byte {
		t.Helper()
		req, _ := http.NewRequestWithContext(ctx, method, base+path, strings.NewReader(body))
		resp, err := client.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		if resp.StatusCode != wantCode {
			t.Fatalf("%s %s: %d %s, want %d", method, path, resp.StatusCode, b, wantCode)
		}
		return b
	}

	b := do("POST", "/v1/sessions/berlin-flat/records",
		`[{"type":"message","role":"user","sender":"alice","content":"Is the Berlin flat still available?"},
		  {"type":"message","role":"assistant","content":"Yes, viewing on Saturday."}]`, http.StatusCreated)
	var app struct {
		Session string  `json:"session"`
		Seqs    []int64 `json:"seqs"`
	}
	if err := json.Unmarshal(b, &app); err != nil || len(app.Seqs) != 2 || app.Seqs[0] != 2 || app.Seqs[1] != 3 {
		t.Fatalf("append answer %s", b)
	}

	var list []workspace.Meta
	_ = json.Unmarshal(do("GET", "/v1/sessions", "", 200), &list)
	if len(list) != 1 || list[0].ID != app.Session || list[0].Messages != 2 || list[0].Name != "berlin-flat" {
		t.Fatalf("listing %+v", list)
	}
	var hist struct {
		Messages []workspace.Record `json:"messages"`
	}
	_ = json.Unmarshal(do("GET", "/v1/sessions/berlin-flat/history?limit=1", "", 200), &hist)
	if len(hist.Messages) != 1 || hist.Messages[0].Content != "Yes, viewing on Saturday." {
		t.Fatalf("history %+v", hist)
	}
	lines := bytes.Split(bytes.TrimSpace(do("GET", "/v1/sessions/"+app.Session+"/records", "", 200)), []byte("\n"))
	if len(lines) != 3 || !bytes.Contains(lines[0], []byte(`"type":"session"`)) {
		t.Fatalf("records %q", lines)
	}
	var res struct {
		Hits []struct {
			Session string `json:"session"`
			Seq     int64  `json:"seq"`
			Snippet string `json:"snippet"`
		} `json:"hits"`
	}
	_ = json.Unmarshal(do("GET", "/v1/search?q=berlin", "", 200), &res)
	if len(res.Hits) != 1 || res.Hits[0].Seq != 2 || !strings.Contains(strings.ToLower(res.Hits[0].Snippet), "berlin") {
		t.Fatalf("search %+v", res)
	}

	// Bad input gets a clear error and the right status.
	do("GET", "/v1/sessions/sk_v1_00000000", "", http.StatusNotFound)
	do("GET", "/v1/sessions/berlin-flat/history?limit=-3", "", http.StatusBadRequest)
	do("POST", "/v1/sessions/berlin-flat/records", `{"not":"an array"}`, http.StatusBadRequest)
	if e := do("POST", "/v1/sessions/berlin-flat/records", `[{"type":"message","role":"robot","content":"x"}]`, http.StatusBadRequest); !bytes.Contains(e, []byte("robot")) {
		t.Fatalf("error must name the bad role: %s", e)
	}
	cancel()
	if err := <-done; err != nil {
		t.Fatalf("serve returned %v", err)
	}
}
