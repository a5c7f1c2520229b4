package main

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"net"
	"os"
	"path/filepath"

	"github.com/picosess/picosess/serve"
	"github.com/spf13/cobra"
)

// DefaultListen is where serve listens unless --listen says otherwise:
// loopback only.
const DefaultListen = "127.0.0.1:7420"

// serveOptions are the flags of serve.
type serveOptions struct {
	listen       string
	token        string
	tokenFile    string
	newToken     bool
	hosts        []string
	allowOrigins []string
	maxBody      int64
	maxClients   int
}

func newServeCmd(a *app) *cobra.Command {
	var o serveOptions
	cmd := &cobra.Command{
		Use:   "serve [--listen ADDR] [--token T | --token-file F | --new-token]",
		Short: "Serve the dashboard and the HTTP API of the workspace",
		Long: `Serve the workspace over HTTP: a dashboard at / (sessions grouped by day,
search, the conversation view, live updates) and a JSON API under /api for
assistants in other languages. docs/http.md documents every route.

It listens on loopback (127.0.0.1:7420) by default. Any other address needs a
token, which every /api request must then carry (Authorization: Bearer T;
the dashboard asks for it once). The token is --token, else $PICOSESS_TOKEN,
else the first line of --token-file, else <workspace>/serve-token if it
exists. --new-token makes a new one, stores it in <workspace>/serve-token
(mode 0600) and prints it, with the dashboard's address, once.

Requests whose Host header is not a loopback address, localhost, the listen
address or a --host name are refused (DNS rebinding). A request that changes
something must be Content-Type: application/json, and same-origin when it
has an Origin. No other origin may call the API unless --allow-origin names
it.

The search index is held by the server while it runs (other processes'
search wait for it, then name it as the holder). When config.json has a
cleanup block, serve applies it at start and every cleanup.interval.

EXAMPLES
  picosess serve
  picosess serve --listen 0.0.0.0:7420 --new-token --host notes.example.lan
  PICOSESS_TOKEN=... picosess serve --listen [::]:7420

EXIT STATUS
  0 stopped by an interrupt (SIGINT, SIGTERM: streams are closed, requests in
  flight finish); 1 failure (address in use, no token for a non-loopback
  address, bad flags); 10 not a workspace.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return a.runServe(cmd.Context(), &o)
		},
	}
	fl := cmd.Flags()
	fl.StringVar(&o.listen, "listen", DefaultListen, "address to listen on")
	fl.StringVar(&o.token, "token", "", "bearer token every /api request must carry (default $PICOSESS_TOKEN)")
	fl.StringVar(&o.tokenFile, "token-file", "", "read the token from this file's first line")
	fl.BoolVar(&o.newToken, "new-token", false, "generate a token, store it in <workspace>/serve-token (0600) and print it once")
	fl.StringArrayVar(&o.hosts, "host", nil, "a DNS name the server is reached by (repeatable; Host header check)")
	fl.StringArrayVar(&o.allowOrigins, "allow-origin", nil, "an origin allowed to call the API from a browser, e.g. https://app.example (repeatable)")
	fl.Int64Var(&o.maxBody, "max-body", serve.DefaultMaxBody, "largest request body in bytes")
	fl.IntVar(&o.maxClients, "max-clients", serve.DefaultMaxEventClients, "most /api/events streams open at once")
	return cmd
}

// serveToken picks the token as serve's help says; generated is true
// when --new-token made it.
func (a *app) serveToken(o *serveOptions, root string) (token string, generated bool, err error) {
	n := 0
	for _, set := range []bool{o.token != "", o.tokenFile != "", o.newToken} {
		if set {
			n++
		}
	}
	if n > 1 {
		return "", false, usageErrorf("--token, --token-file and --new-token each give the token: give one")
	}
	switch {
	case o.token != "":
		return o.token, false, nil
	case o.newToken:
		return serve.NewToken(), true, nil
	case o.tokenFile != "":
		t, err := serve.ReadToken(o.tokenFile)
		return t, false, err
	}
	if t := a.getenv("PICOSESS_TOKEN"); t != "" {
		return t, false, nil
	}
	stored := filepath.Join(root, serve.TokenFile)
	if _, err := os.Stat(stored); errors.Is(err, fs.ErrNotExist) {
		return "", false, nil
	}
	t, err := serve.ReadToken(stored)
	if err == nil {
		fmt.Fprintf(a.stderr, "picosess: using the token stored in %s\n", stored)
	}
	return t, false, err
}

func (a *app) runServe(ctx context.Context, o *serveOptions) error {
	w, err := a.openWorkspace()
	if err != nil {
		return err
	}
	defer w.Close()
	token, generated, err := a.serveToken(o, w.Root())
	if err != nil {
		return err
	}
	if err := serve.CheckListen(o.listen, token); err != nil {
		return usageErrorf("refusing to serve on %s without a token: anyone who can reach it could read and change every session; give --token, $PICOSESS_TOKEN, --token-file or --new-token", o.listen)
	}
	if generated {
		path, err := serve.StoreToken(w.Root(), token)
		if err != nil {
			return err
		}
		fmt.Fprintf(a.stderr, "picosess: new token stored in %s (shown this once):\n%s\n", path, token)
	}
	srv, err := serve.New(w, &serve.Options{Token: token, Hosts: o.hosts, AllowOrigins: o.allowOrigins,
		MaxBody: o.maxBody, MaxEventClients: o.maxClients, Logger: a.logger()})
	if err != nil {
		return err
	}
	defer srv.Close()
	ln, err := net.Listen("tcp", o.listen)
	if err != nil {
		return fmt.Errorf("serve: %w", err)
	}
	url := "http://" + ln.Addr().String() + "/"
	if generated {
		url += "#token=" + token
	}
	fmt.Fprintf(a.stderr, "picosess: serving %s on %s\n", w.Root(), url)
	ctx, cancel := context.WithCancel(ctx)
	defer a.cleanupInBackground(ctx, w)()
	defer cancel()
	return srv.Serve(ctx, ln)
}
