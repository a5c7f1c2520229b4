package serve

import (
	"embed"
	"mime"
	"net/http"
	"path"
)

// assets are the dashboard: plain HTML, CSS and JavaScript, no build step.
//
//go:embed assets
var assets embed.FS

func (s *Server) dashboard(rw http.ResponseWriter, r *http.Request) {
	s.serveAsset(rw, r, "index.html")
}

func (s *Server) asset(rw http.ResponseWriter, r *http.Request) {
	s.serveAsset(rw, r, r.PathValue("file"))
}

func (s *Server) serveAsset(rw http.ResponseWriter, r *http.Request, name string) {
	b, err := assets.ReadFile(path.Join("assets", path.Clean("/" + name)[1:]))
	if err != nil {
		s.writeError(rw, r, &httpError{http.StatusNotFound, "not_found", "no such file: " + name})
		return
	}
	ct := mime.TypeByExtension(path.Ext(name))
	if ct == "" {
		ct = "application/octet-stream"
	}
	rw.Header().Set("Content-Type", ct)
	rw.Header().Set("Cache-Control", "no-cache")
	_, _ = rw.Write(b)
}
