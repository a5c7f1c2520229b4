package serve

import (
	"net/http"
	"strings"

	"github.com/picosess/picosess/workspace"
	"github.com/picosess/picosess/workspace/index"
)

// Marks around matched words in the snippets the index makes; private-use
// characters, so that a "**" in a message is not taken for a mark.
const markOpen, markClose = "\ue000", "\ue001"

// Hit is one message found: index.Hit with the snippet twice, as text
// with "**" around matches (as picosess search --json) and as parts.
type Hit struct {
	index.Hit
	// Parts is the snippet cut at the matches: render Text as text and
	// highlight the parts with Match.
	Parts []SnippetPart `json:"parts"`
}

// SnippetPart is a piece of a snippet.
type SnippetPart struct {
	Text  string `json:"text"`
	Match bool   `json:"match,omitempty"`
}

// SearchResult is the answer of GET /api/search and
// /api/sessions/search.
type SearchResult struct {
	Hits  []Hit  `json:"hits"`
	Total uint64 `json:"total"`
	// Sessions are the sessions of the hits, in the order of their first
	// hit (PocketPaw's search answers sessions).
	Sessions []workspace.Meta `json:"sessions"`
	TookNS   int64            `json:"took_ns"`
}

func splitSnippet(s string) (plain string, parts []SnippetPart) {
	var b strings.Builder
	match := false
	for s != "" {
		mark := markOpen
		if match {
			mark = markClose
		}
		i := strings.Index(s, mark)
		text := s
		if i >= 0 {
			text = s[:i]
		}
		if text != "" {
			parts = append(parts, SnippetPart{Text: text, Match: match})
			if match {
				b.WriteString("**" + text + "**")
			} else {
				b.WriteString(text)
			}
		}
		if i < 0 {
			break
		}
		s = s[i+len(mark):]
		match = !match
	}
	if parts == nil {
		parts = []SnippetPart{}
	}
	return b.String(), parts
}

func (s *Server) search(rw http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	limit, err := intParam(r, "limit", index.DefaultLimit, 1, MaxListLimit)
	if err != nil {
		s.writeError(rw, r, err)
		return
	}
	offset, err := intParam(r, "offset", 0, 0, 1<<30)
	if err != nil {
		s.writeError(rw, r, err)
		return
	}
	sort := q.Get("sort")
	switch sort {
	case "", index.SortRelevance, index.SortTime:
	default:
		s.writeError(rw, r, badRequest("sort=%q: want relevance or time", sort))
		return
	}
	active, err := boolParam(r, "active")
	if err != nil {
		s.writeError(rw, r, err)
		return
	}
	query := index.Query{Text: q.Get("q"), Sort: sort, Limit: limit, Offset: offset,
		Mark: [2]string{markOpen, markClose}, Filter: index.Filter{
			Agent: q.Get("agent"), Channel: q.Get("channel"), Account: q.Get("account"), Chat: q.Get("chat"),
			Topic: q.Get("topic"), Sender: q.Get("sender"), Role: q.Get("role"), ActiveOnly: active}}
	now := s.o.Now()
	if query.Since, err = whenParam(r, "since", now); err != nil {
		s.writeError(rw, r, err)
		return
	}
	if query.Until, err = whenParam(r, "until", now); err != nil {
		s.writeError(rw, r, err)
		return
	}
	for _, ref := range q["session"] {
		ses, err := s.w.Lookup(r.Context(), ref)
		if err != nil {
			s.writeError(rw, r, err)
			return
		}
		query.Sessions = append(query.Sessions, ses.ID())
	}
	if s.x == nil {
		s.writeError(rw, r, index.ErrOff)
		return
	}
	res, err := s.x.Search(r.Context(), query)
	if err != nil {
		s.writeError(rw, r, err)
		return
	}
	out := SearchResult{Hits: []Hit{}, Total: res.Total, Sessions: []workspace.Meta{}, TookNS: res.Took.Nanoseconds()}
	seen := map[string]bool{}
	for _, h := range res.Hits {
		hit := Hit{Hit: h}
		hit.Snippet, hit.Parts = splitSnippet(h.Snippet)
		out.Hits = append(out.Hits, hit)
		if !seen[h.Session] {
			seen[h.Session] = true
			if ses, err := s.w.OpenID(h.Session); err == nil {
				if m, err := ses.Meta(r.Context()); err == nil {
					out.Sessions = append(out.Sessions, m)
				}
			}
		}
	}
	writeJSON(rw, http.StatusOK, out)
}
