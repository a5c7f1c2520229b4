package main

import (
	"bufio"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/picosess/picosess/serve"
	"github.com/picosess/picosess/workspace"
)

// startServe runs picosess serve with args on a free loopback port and
// returns the address it printed, and a function that interrupts it and
// returns its exit code.
func startServe(t *testing.T, root string, env map[string]string, args ...string) (url string, stop func() int, stderr *strings.Builder) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	pr, pw := io.Pipe()
	a := append([]string{"--workspace", root, "serve", "--listen", "127.0.0.1:0"}, args...)
	code := make(chan int, 1)
	go func() {
		app := &app{stdin: strings.NewReader(""), stdout: io.Discard, stderr: pw, getenv: func(k string) string { return env[k] }}
		root := newRootCmd(app)
		root.SetArgs(a)
		err := root.ExecuteContext(ctx)
		c := exitOK
		if err != nil {
			c = exitCode(ctx, err)
			if c == exitInterrupted {
				c = exitOK
			}
			io.WriteString(pw, "picosess: "+err.Error()+"\n")
		}
		pw.Close()
		code <- c
	}()
	stderr = &strings.Builder{}
	re := regexp.MustCompile(`serving .* on (http://\S+)`)
	sc := bufio.NewScanner(pr)
	for sc.Scan() {
		stderr.WriteString(sc.Text() + "\n")
		if m := re.FindStringSubmatch(sc.Text()); m != nil {
			url = m[1]
			break
		}
	}
	go func() { _, _ = io.Copy(io.Discard, pr) }()
	stop = func() int { cancel(); return <-code }
	if url == "" {
		t.Fatalf("serve did not start: exit %d\n%s", stop(), stderr)
	}
	return url, stop, stderr
}

func newServeWorkspace(t *testing.T) string {
	root := t.TempDir()
	w, err := workspace.Open(root, nil)
	if err != nil {
		t.Fatal(err)
	}
	w.Close()
	return root
}

// serve starts on loopback without a token, answers the API and the
// dashboard, and stops with exit 0 on an interrupt.
func TestServeStartsAndStops(t *testing.T) {
	root := newServeWorkspace(t)
	url, stop, _ := startServe(t, root, nil)
	resp, err := http.Get(url + "api/info")
	if err != nil {
		t.Fatal(err)
	}
	var info serve.Info
	_ = json.NewDecoder(resp.Body).Decode(&info)
	resp.Body.Close()
	if resp.StatusCode != 200 || info.Auth || info.Workspace == "" {
		t.Fatalf("info: %d %+v", resp.StatusCode, info)
	}
	resp, err = http.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 200 || !strings.HasPrefix(resp.Header.Get("Content-Type"), "text/html") {
		t.Fatalf("dashboard: %d %s", resp.StatusCode, resp.Header.Get("Content-Type"))
	}
	if c := stop(); c != exitOK {
		t.Fatalf("exit %d after an interrupt", c)
	}
}

// Any address beyond loopback needs a token: serve refuses to start.
func TestServeRefusesNonLoopbackWithoutToken(t *testing.T) {
	root := newServeWorkspace(t)
	for _, addr := range []string{"0.0.0.0:0", ":0", "[::]:0"} {
		_, errOut, code := runCLI(t, "--workspace", root, "serve", "--listen", addr)
		if code != exitFailure || !strings.Contains(errOut, "without a token") {
			t.Fatalf("--listen %s: exit %d %q", addr, code, errOut)
		}
	}
}

// --new-token stores a token 0600 in the workspace and prints it once;
// the API then needs it, and the next start uses the stored one.
func TestServeNewToken(t *testing.T) {
	root := newServeWorkspace(t)
	url, stop, errOut := startServe(t, root, nil, "--new-token")
	path := filepath.Join(root, serve.TokenFile)
	fi, err := os.Stat(path)
	if err != nil || fi.Mode().Perm() != 0o600 {
		t.Fatalf("token file: %v %v", fi, err)
	}
	tok, _ := serve.ReadToken(path)
	if !strings.Contains(errOut.String(), tok) || !strings.Contains(url, "#token="+tok) {
		t.Fatalf("the new token is not printed: %s", errOut)
	}
	get := func(base, token string) int {
		req, _ := http.NewRequest("GET", strings.Split(base, "#")[0]+"api/info", nil)
		if token != "" {
			req.Header.Set("Authorization", "Bearer "+token)
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		return resp.StatusCode
	}
	if c := get(url, ""); c != http.StatusUnauthorized {
		t.Fatalf("no token: %d", c)
	}
	if c := get(url, tok); c != http.StatusOK {
		t.Fatalf("with the token: %d", c)
	}
	stop()
	url, stop, errOut = startServe(t, root, nil)
	defer stop()
	if strings.Contains(errOut.String(), tok) || !strings.Contains(errOut.String(), "using the token stored") {
		t.Fatalf("second start: %s", errOut)
	}
	if c := get(url, tok); c != http.StatusOK {
		t.Fatalf("stored token: %d", c)
	}
	// $PICOSESS_TOKEN wins over the stored file.
	url2, stop2, _ := startServe(t, root, map[string]string{"PICOSESS_TOKEN": "from-env"})
	defer stop2()
	if c := get(url2, "from-env"); c != http.StatusOK {
		t.Fatalf("env token: %d", c)
	}
}

func TestServeTokenFlagsConflict(t *testing.T) {
	root := newServeWorkspace(t)
	_, errOut, code := runCLI(t, "--workspace", root, "serve", "--token", "a", "--new-token")
	if code != exitFailure || !strings.Contains(errOut, "give one") {
		t.Fatalf("exit %d %q", code, errOut)
	}
}

func TestServeNotAWorkspace(t *testing.T) {
	_, errOut, code := runCLI(t, "--workspace", filepath.Join(t.TempDir(), "none"), "serve")
	if code != exitNotWS {
		t.Fatalf("exit %d %q", code, errOut)
	}
}
