package serve

import (
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"slices"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/picosess/picosess/keying"
	"github.com/picosess/picosess/workspace"
	"github.com/picosess/picosess/workspace/export"
)

// MaxPageLimit bounds a page of history or records.
const MaxPageLimit = 1000

// HistoryPage is the answer of GET /api/sessions/{ref}/history.
type HistoryPage struct {
	Session string `json:"session"`
	// All is true for a page of every record (?all=1), false for a page
	// of the active history (messages only).
	All     bool               `json:"all"`
	Summary *workspace.Record  `json:"summary"`
	Records []workspace.Record `json:"records"`
	// More: records exist beyond the page in the direction read.
	More    bool  `json:"more"`
	LastSeq int64 `json:"last_seq"`
	// Skipped are the page's records over the read limit, not read
	// (workspace.Page.Skipped).
	Skipped []workspace.Skipped `json:"skipped,omitempty"`
}

func (s *Server) history(rw http.ResponseWriter, r *http.Request) {
	limit, err := intParam(r, "limit", workspace.DefaultPageLimit, 1, MaxPageLimit)
	if err != nil {
		s.writeError(rw, r, err)
		return
	}
	before, _, err := seqParam(r, "before")
	if err != nil {
		s.writeError(rw, r, err)
		return
	}
	after, forward, err := seqParam(r, "after")
	if err != nil {
		s.writeError(rw, r, err)
		return
	}
	all, err := boolParam(r, "all")
	if err != nil {
		s.writeError(rw, r, err)
		return
	}
	ses, err := s.lookup(r)
	if err != nil {
		s.writeError(rw, r, err)
		return
	}
	o := workspace.PageOptions{Before: before, After: after, Forward: forward, Limit: limit}
	var p workspace.Page
	if all {
		p, err = ses.RecordsPage(r.Context(), o)
	} else {
		p, err = ses.HistoryPage(r.Context(), o)
	}
	if err != nil {
		s.writeError(rw, r, err)
		return
	}
	writeJSON(rw, http.StatusOK, HistoryPage{Session: ses.ID(), All: all, Summary: p.Summary,
		Records: p.Records, More: p.More, LastSeq: p.LastSeq, Skipped: p.Skipped})
}

// Appended is the answer of an append.
type Appended struct {
	Session string `json:"session"`
	// Seqs of the records given, in order.
	Seqs []int64 `json:"seqs"`
	// Reset is set when the turn started a new conversation.
	Reset *workspace.TurnReset `json:"reset,omitempty"`
	// Created is true when the append created the session (by route).
	Created bool `json:"created,omitempty"`
	// Route says how a route was resolved (append by route).
	Route *RouteAnswer `json:"route,omitempty"`
}

var appendTypes = []string{workspace.TypeMessage, workspace.TypeSummary, workspace.TypeTitle, workspace.TypeReset,
	workspace.TypeCheckpoint, workspace.TypeRestore, workspace.TypeCheckpointDelete}
var appendRoles = []string{workspace.RoleUser, workspace.RoleAssistant, workspace.RoleSystem, workspace.RoleTool}

// parseRecords reads one record or an array of records and checks what
// the library would refuse, so that bad input is a 400 naming the record.
func parseRecords(raw json.RawMessage) ([]workspace.Record, error) {
	raw = json.RawMessage(strings.TrimSpace(string(raw)))
	if len(raw) == 0 {
		return nil, badRequest("body: no records")
	}
	var recs []workspace.Record
	var err error
	if raw[0] == '[' {
		err = json.Unmarshal(raw, &recs)
	} else {
		var one workspace.Record
		err = json.Unmarshal(raw, &one)
		recs = []workspace.Record{one}
	}
	if err != nil {
		return nil, badRequest("body: want a record or an array of records: %v", err)
	}
	if len(recs) == 0 {
		return nil, badRequest("body: no records")
	}
	for i := range recs {
		rec := &recs[i]
		if rec.Type == "" {
			rec.Type = workspace.TypeMessage
		}
		switch {
		case rec.Type == workspace.TypeSession:
			return nil, badRequest("record %d: the session header is written by the workspace, not appended", i+1)
		case !slices.Contains(appendTypes, rec.Type):
			return nil, badRequest("record %d: unknown type %q (want %s)", i+1, rec.Type, strings.Join(appendTypes, ", "))
		case rec.Type == workspace.TypeMessage && !slices.Contains(appendRoles, rec.Role):
			return nil, badRequest("record %d: message role %q is not user, assistant, system or tool", i+1, rec.Role)
		case rec.Seq != 0:
			return nil, badRequest("record %d: seq is given by the workspace; leave it out", i+1)
		}
		for _, f := range []string{rec.Content, rec.Text, rec.Sender, rec.Name, rec.ReasoningContent} {
			if !utf8.ValidString(f) {
				return nil, badRequest("record %d: text is not valid UTF-8", i+1)
			}
		}
	}
	return recs, nil
}

// appendTo appends recs to ses: through AppendTurn (the lifecycle policy
// applies) unless raw.
func (s *Server) appendTo(r *http.Request, ses *workspace.Session, recs []workspace.Record, raw bool) (Appended, error) {
	out := Appended{Session: ses.ID()}
	var err error
	if raw {
		out.Seqs, err = ses.Append(r.Context(), recs...)
	} else {
		var turn workspace.Turn
		turn, err = ses.AppendTurn(r.Context(), recs...)
		out.Seqs, out.Reset = turn.Seqs, turn.Reset
	}
	return out, err
}

func (s *Server) appendRecords(rw http.ResponseWriter, r *http.Request) {
	raw, err := boolParam(r, "raw")
	if err != nil {
		s.writeError(rw, r, err)
		return
	}
	var body json.RawMessage
	if err := decodeBody(r, &body, false); err != nil {
		s.writeError(rw, r, err)
		return
	}
	recs, err := parseRecords(body)
	if err != nil {
		s.writeError(rw, r, err)
		return
	}
	ses, err := s.lookup(r)
	if err != nil {
		s.writeError(rw, r, err)
		return
	}
	out, err := s.appendTo(r, ses, recs, raw)
	if err != nil {
		s.writeError(rw, r, err)
		return
	}
	writeJSON(rw, http.StatusCreated, out)
}

// Route is an inbound message's route, as picosess key takes it.
type Route struct {
	Agent      string  `json:"agent"`
	Channel    string  `json:"channel"`
	Account    string  `json:"account"`
	ChatType   string  `json:"chat_type"`
	Chat       string  `json:"chat"`
	Topic      string  `json:"topic"`
	SpaceType  string  `json:"space_type"`
	Space      string  `json:"space"`
	Sender     string  `json:"sender"`
	Mentioned  bool    `json:"mentioned"`
	LegacyKey  string  `json:"legacy_key"`
	Dimensions *string `json:"dimensions"`
	Scope      string  `json:"scope"`
	// Session names a named session instead of a routed one.
	Session string `json:"session"`
}

// RouteAnswer is where a route goes (GET /api/key, and the route of an
// append by route).
type RouteAnswer struct {
	ID        string        `json:"id"`
	Signature string        `json:"signature,omitempty"`
	Name      string        `json:"name,omitempty"`
	Scope     *keying.Scope `json:"scope,omitempty"`
	Aliases   []string      `json:"aliases"`
	MainID    string        `json:"main_id"`
	Agent     string        `json:"agent"`
	MatchedBy string        `json:"matched_by"`
	LegacyKey string        `json:"legacy_key,omitempty"`
	// Exists says whether the session file exists (GET /api/key).
	Exists bool `json:"exists"`
}

// resolve picks the session of a route exactly as the Go library and
// picosess key do: the workspace config's identity links always apply;
// dimensions come from the route's dimensions or scope when given, else
// from the config, dispatch rules included.
func (s *Server) resolve(rt Route) (keying.Route, error) {
	if rt.Session != "" {
		if rt.Channel != "" || rt.Dimensions != nil || rt.Scope != "" {
			return keying.Route{}, badRequest("route: session names a session by itself: drop channel, dimensions and scope")
		}
		id := keying.NamedID(rt.Session)
		if id == "" {
			return keying.Route{}, badRequest("route: empty session name")
		}
		return keying.Route{Agent: keying.NormalizeAgentID(rt.Agent), ID: id, MainID: keying.MainID(rt.Agent), MatchedBy: "session"}, nil
	}
	if rt.Channel == "" && rt.LegacyKey == "" {
		return keying.Route{}, badRequest("route: channel is required (or legacy_key, or session)")
	}
	if rt.Dimensions != nil && rt.Scope != "" {
		return keying.Route{}, badRequest("route: dimensions and scope both choose the dimensions: give one")
	}
	p := s.w.Config().Policy()
	switch {
	case rt.Dimensions != nil:
		d, err := keying.ParseDimensions(*rt.Dimensions)
		if err != nil {
			return keying.Route{}, badRequest("route: dimensions: %v", err)
		}
		p.Dimensions, p.Rules = d, nil
	case rt.Scope != "":
		d, main, err := keying.ScopeDimensions(rt.Scope)
		if err != nil {
			return keying.Route{}, badRequest("route: scope: %v", err)
		}
		p.Dimensions, p.Main, p.Rules = d, main, nil
	}
	in := keying.Inbound{Channel: rt.Channel, Account: rt.Account, ChatType: rt.ChatType, ChatID: rt.Chat,
		TopicID: rt.Topic, SpaceType: rt.SpaceType, SpaceID: rt.Space, SenderID: rt.Sender,
		Mentioned: rt.Mentioned, Key: rt.LegacyKey}
	kr, err := keying.Resolve(rt.Agent, in, p)
	if err != nil {
		return keying.Route{}, badRequest("route: %v", err)
	}
	if !kr.Main && (rt.Dimensions != nil || rt.Scope != "") {
		kr.MatchedBy = "flags"
	}
	return kr, nil
}

func (s *Server) answer(kr keying.Route, rt Route) *RouteAnswer {
	a := &RouteAnswer{ID: kr.ID, Signature: kr.Signature, Aliases: kr.Aliases, MainID: kr.MainID,
		Agent: kr.Agent, MatchedBy: kr.MatchedBy, LegacyKey: kr.Key}
	if a.Aliases == nil {
		a.Aliases = []string{}
	}
	if rt.Session != "" {
		a.Name = keying.NormalizeName(rt.Session)
	} else {
		sc := kr.Scope
		a.Scope = &sc
	}
	_, err := s.w.OpenID(kr.ID)
	a.Exists = err == nil
	return a
}

func (s *Server) appendByRoute(rw http.ResponseWriter, r *http.Request) {
	raw, err := boolParam(r, "raw")
	if err != nil {
		s.writeError(rw, r, err)
		return
	}
	var body struct {
		Route   *Route          `json:"route"`
		Records json.RawMessage `json:"records"`
	}
	if err := decodeBody(r, &body, false); err != nil {
		s.writeError(rw, r, err)
		return
	}
	if body.Route == nil {
		s.writeError(rw, r, badRequest(`body: want {"route": {...}, "records": [...]}`))
		return
	}
	recs, err := parseRecords(body.Records)
	if err != nil {
		s.writeError(rw, r, err)
		return
	}
	kr, err := s.resolve(*body.Route)
	if err != nil {
		s.writeError(rw, r, err)
		return
	}
	ans := s.answer(kr, *body.Route)
	var ses *workspace.Session
	if body.Route.Session != "" {
		ses, err = s.w.Session(r.Context(), workspace.Target{Name: body.Route.Session})
	} else {
		ses, err = s.w.SessionForRoute(r.Context(), kr)
	}
	if err != nil {
		s.writeError(rw, r, err)
		return
	}
	out, err := s.appendTo(r, ses, recs, raw)
	if err != nil {
		s.writeError(rw, r, err)
		return
	}
	out.Created, out.Route = !ans.Exists, ans
	ans.Exists = true
	writeJSON(rw, http.StatusCreated, out)
}

func (s *Server) key(rw http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	rt := Route{Agent: q.Get("agent"), Channel: q.Get("channel"), Account: q.Get("account"),
		ChatType: q.Get("chat_type"), Chat: q.Get("chat"), Topic: q.Get("topic"), SpaceType: q.Get("space_type"),
		Space: q.Get("space"), Sender: q.Get("sender"), LegacyKey: q.Get("legacy_key"), Scope: q.Get("scope"),
		Session: q.Get("session")}
	if q.Has("dimensions") {
		d := q.Get("dimensions")
		rt.Dimensions = &d
	}
	var err error
	if rt.Mentioned, err = boolParam(r, "mentioned"); err != nil {
		s.writeError(rw, r, err)
		return
	}
	kr, err := s.resolve(rt)
	if err != nil {
		s.writeError(rw, r, err)
		return
	}
	writeJSON(rw, http.StatusOK, s.answer(kr, rt))
}

func (s *Server) export(rw http.ResponseWriter, r *http.Request) {
	format, err := export.ParseFormat(r.URL.Query().Get("format"))
	if err != nil {
		s.writeError(rw, r, badRequest("%v", err))
		return
	}
	all, err := boolParam(r, "all")
	if err != nil {
		s.writeError(rw, r, err)
		return
	}
	ses, err := s.lookup(r)
	if err != nil {
		s.writeError(rw, r, err)
		return
	}
	m, err := ses.Meta(r.Context())
	if err != nil {
		s.writeError(rw, r, err)
		return
	}
	// A big session takes longer than WriteTimeout to send.
	_ = http.NewResponseController(rw).SetWriteDeadline(time.Now().Add(30 * time.Minute))
	h := rw.Header()
	h.Set("Content-Type", export.ContentType(format))
	h.Set("Content-Disposition", fmt.Sprintf("attachment; filename=%q", export.FileName(m, format)))
	h.Set("Cache-Control", "no-store")
	if err := export.Write(r.Context(), rw, ses, export.Options{Format: format, All: all}); err != nil {
		// The status is sent: end the body early; the client sees a
		// truncated download.
		if !errors.Is(err, r.Context().Err()) {
			s.log.Error("export failed", "session", ses.ID(), "err", err)
		}
		panic(http.ErrAbortHandler)
	}
}
