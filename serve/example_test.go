package serve_test

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"strings"
	"time"

	"github.com/picosess/picosess/serve"
	"github.com/picosess/picosess/workspace"
)

// Mount the API and dashboard in an assistant's own http.Server, beside
// its other handlers. The paths are absolute, so the handler goes at "/".
// A client then appends a message by route (the session is picked as the
// library's SessionFor picks it) and lists the sessions.
func Example() {
	dir, err := os.MkdirTemp("", "picosess-example-")
	if err != nil {
		panic(err)
	}
	defer os.RemoveAll(dir)
	w, err := workspace.Open(dir, nil)
	if err != nil {
		panic(err)
	}
	defer w.Close()

	const token = "example-token"
	srv, err := serve.New(w, &serve.Options{Token: token})
	if err != nil {
		panic(err)
	}
	defer srv.Close()

	mux := http.NewServeMux()
	mux.HandleFunc("GET /healthz", func(rw http.ResponseWriter, _ *http.Request) { io.WriteString(rw, "ok\n") })
	mux.Handle("/", srv)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		panic(err)
	}
	srv.AddListener(ln.Addr()) // so that the Host check accepts this address
	hs := &http.Server{Handler: mux, ReadHeaderTimeout: 10 * time.Second}
	hs.RegisterOnShutdown(srv.CloseStreams) // end /api/events streams on shutdown
	go hs.Serve(ln)
	defer hs.Shutdown(context.Background())

	base := "http://" + ln.Addr().String()
	call := func(method, path, body string) (int, map[string]any) {
		req, err := http.NewRequest(method, base+path, strings.NewReader(body))
		if err != nil {
			panic(err)
		}
		req.Header.Set("Authorization", "Bearer "+token)
		req.Header.Set("Content-Type", "application/json")
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			panic(err)
		}
		defer resp.Body.Close()
		var v map[string]any
		_ = json.NewDecoder(resp.Body).Decode(&v)
		return resp.StatusCode, v
	}

	code, v := call("POST", "/api/records", `{"route": {"channel": "telegram", "chat_type": "direct", "chat": "123456789", "sender": "123456789"},
		"records": [{"role": "user", "sender": "123456789", "content": "What is on my list?"}]}`)
	route, _ := v["route"].(map[string]any)
	fmt.Println(code, v["created"], route["id"])

	code, v = call("GET", "/api/sessions", "")
	fmt.Println(code, "total", v["total"])
	for _, s := range v["sessions"].([]any) {
		m := s.(map[string]any)
		fmt.Println(m["id"], m["title"])
	}

	resp, err := http.Get(base + "/api/sessions") // no token
	if err != nil {
		panic(err)
	}
	resp.Body.Close()
	fmt.Println("without the token:", resp.StatusCode)
	// Output:
	// 201 true sk_v1_67fe19a8ec8fd03673f4b28c2fcddc0a2712152896ff962b8eec1b0debfdb4c5
	// 200 total 1
	// sk_v1_67fe19a8ec8fd03673f4b28c2fcddc0a2712152896ff962b8eec1b0debfdb4c5 What is on my list?
	// without the token: 401
}
