// Package serve is the HTTP side of a workspace: a JSON API under /api,
// a live feed of every appended record (Server-Sent Events, one workspace
// watcher shared by every client), and a dashboard at / made of embedded
// plain HTML, CSS and JavaScript. A Server is an http.Handler, so an
// assistant can mount it in its own http.Server; picosess serve only
// parses flags and calls Serve.
//
//	w, _ := workspace.Open(dir, nil)
//	srv, err := serve.New(w, &serve.Options{Token: token}) // starts the watcher
//	defer srv.Close()
//	ln, _ := net.Listen("tcp", "127.0.0.1:7420")
//	err = srv.Serve(ctx, ln) // timeouts, graceful shutdown when ctx ends
//
//	// or, mounted in an assistant's own server:
//	mux.Handle("/", srv)
//	srv.AddListener(ln.Addr()) // so that the Host check knows the address
//	httpServer.RegisterOnShutdown(srv.CloseStreams)
//
// docs/http.md documents every route, parameter, status and error body,
// and the safety rules ServeHTTP applies (Host check against DNS
// rebinding, CSRF, bearer token, body limit, security headers).
//
// # Files it owns
//
//	<root>/serve-token   a token made by --new-token (mode 0600)
//
// It holds the search index (<root>/index/, locks/index.lock) from the
// first search until Close, unless Options.Index gives one.
package serve
