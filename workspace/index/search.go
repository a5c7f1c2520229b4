package index

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/blevesearch/bleve/v2"
	"github.com/blevesearch/bleve/v2/search"
	"github.com/blevesearch/bleve/v2/search/query"
	"github.com/picosess/picosess/workspace"
)

// Sort orders.
const (
	SortRelevance = "relevance" // best match first (the default)
	SortTime      = "time"      // newest first
)

// DefaultLimit is the number of hits a Query without a Limit returns.
const DefaultLimit = 20

// ErrBadQuery is matched by errors about a query that cannot be parsed or
// a filter that is not valid.
var ErrBadQuery = errors.New("index: bad query")

// Filter narrows a search to some sessions and messages. Every field set
// must match (AND); the zero value matches everything.
type Filter struct {
	Sessions []string // session ids; a message must be in one of them
	Agent    string
	Channel  string
	Account  string
	Chat     string // scope value, e.g. "direct:42" or "group:-100123"
	Topic    string
	Sender   string
	Role     string
	Since    time.Time // messages at or after
	Until    time.Time // messages before
	// ActiveOnly keeps the current conversation of each session (the
	// messages after its last reset); by default every segment is searched.
	ActiveOnly bool
}

// scoped reports whether f names whose messages it is about: a session,
// an agent, a channel, a chat, a topic or a sender.
func (f Filter) scoped() bool {
	return len(f.Sessions) > 0 || f.Agent != "" || f.Channel != "" || f.Account != "" ||
		f.Chat != "" || f.Topic != "" || f.Sender != ""
}

// Query is a search.
type Query struct {
	// Text is in the query language of ParseQuery: words (all must
	// match), word OR word, -excluded, "a phrase", berl*, field:value
	// (role:user, sender:alice; FieldNames). Empty matches every message
	// the filter lets through. A malformed Text is a *QueryError.
	Text string
	// Any makes the words, phrases and prefixes of Text alternatives: a
	// message needs one of them, more rank higher (field:value terms and
	// exclusions still apply).
	Any bool
	Filter
	Sort   string // SortRelevance or SortTime; "" means SortRelevance
	Limit  int    // 0 means DefaultLimit
	Offset int
	// Mark surrounds the matched words in snippets; zero means "**".
	Mark [2]string
}

// Hit is one message found.
type Hit struct {
	ID      string    `json:"id"` // <session id>:<seq>
	Session string    `json:"session"`
	Seq     int64     `json:"seq"`
	Time    time.Time `json:"time"`
	Role    string    `json:"role"`
	Sender  string    `json:"sender,omitempty"`
	// Tool and Failed are a tool result's tool name and error flag.
	Tool    string  `json:"tool,omitempty"`
	Failed  bool    `json:"failed,omitempty"`
	Title   string  `json:"title"`
	Segment int     `json:"segment"`
	Score   float64 `json:"score"`
	// Snippet is the part of the message around the matches, the matched
	// words between the query's marks, on one line.
	Snippet string `json:"snippet"`
	// Content is the whole message, read back from the session file.
	Content string `json:"-"`
}

// Result is the answer to a Query.
type Result struct {
	Hits  []Hit         `json:"hits"`
	Total uint64        `json:"total"` // matches in all, beyond Limit
	Took  time.Duration `json:"took_ns"`
}

// Search catches up with every session file, then runs q. It never misses
// a record appended before it was called.
func (x *Index) Search(ctx context.Context, q Query) (*Result, error) {
	start := time.Now()
	text, err := parse(q)
	if err != nil {
		return nil, err
	}
	var res *Result
	err = x.with(ctx, nil, func(o *owner) error {
		var err error
		res, err = x.run(ctx, o, text, q)
		return err
	})
	if res != nil {
		res.Took = time.Since(start)
	}
	return res, err
}

// Recall returns the k messages most relevant to text among those the
// filter lets through: an assistant's long-term memory of one user or
// scope. The filter must name a scope (sessions, agent, channel, account,
// chat, topic or sender); text is plain words, not query syntax, so
// nothing in it can widen the filter.
func (x *Index) Recall(ctx context.Context, f Filter, text string, k int) ([]Hit, error) {
	if !f.scoped() {
		return nil, fmt.Errorf("%w: recall needs a filter naming a session, agent, channel, account, chat, topic or sender", ErrBadQuery)
	}
	if k <= 0 {
		k = DefaultLimit
	}
	mq := bleve.NewMatchQuery(text)
	mq.SetField(FieldText)
	q := Query{Filter: f, Limit: k}
	var hits []Hit
	err := x.with(ctx, nil, func(o *owner) error {
		res, err := x.run(ctx, o, mq, q)
		if res != nil {
			hits = res.Hits
		}
		return err
	})
	return hits, err
}

// parse validates q and parses its text.
func parse(q Query) (query.Query, error) {
	if q.Limit < 0 || q.Offset < 0 {
		return nil, fmt.Errorf("%w: negative limit or offset", ErrBadQuery)
	}
	switch q.Sort {
	case "", SortRelevance, SortTime:
	default:
		return nil, fmt.Errorf("%w: sort %q (want %s or %s)", ErrBadQuery, q.Sort, SortRelevance, SortTime)
	}
	if !q.Since.IsZero() && !q.Until.IsZero() && !q.Until.After(q.Since) {
		return nil, fmt.Errorf("%w: until %s is not after since %s", ErrBadQuery, q.Until.Format(time.RFC3339), q.Since.Format(time.RFC3339))
	}
	e, err := ParseQuery(q.Text)
	if err != nil {
		return nil, err
	}
	return e.Query(q.Any)
}

// filtered returns text AND the filter. The filter is applied around the
// user's query, never inside it, so nothing in the query can widen it.
func (x *Index) filtered(text query.Query, f Filter, o *owner) (query.Query, error) {
	must := []query.Query{text}
	term := func(field, v string) *query.TermQuery {
		t := bleve.NewTermQuery(strings.ToLower(v))
		t.SetField(field)
		return t
	}
	if len(f.Sessions) > 0 {
		var ors []query.Query
		for _, id := range f.Sessions {
			ors = append(ors, term(FieldSession, id))
		}
		must = append(must, bleve.NewDisjunctionQuery(ors...))
	}
	for _, kv := range [...]struct{ field, v string }{
		{FieldAgent, f.Agent}, {FieldChannel, f.Channel}, {FieldAccount, f.Account}, {FieldChat, f.Chat},
		{FieldTopic, f.Topic}, {FieldSender, f.Sender}, {FieldRole, f.Role},
	} {
		if kv.v != "" {
			must = append(must, term(kv.field, kv.v))
		}
	}
	if !f.Since.IsZero() || !f.Until.IsZero() {
		// Times are indexed to the hour: select the whole hours that
		// since and until fall in.
		since, until := f.Since, f.Until
		if !since.IsZero() {
			since = since.Truncate(TimeResolution)
		}
		if !until.IsZero() && !until.Truncate(TimeResolution).Equal(until) {
			until = until.Truncate(TimeResolution).Add(TimeResolution)
		}
		var lo, hi string
		if !since.IsZero() {
			lo = TimeTerm(since)
		}
		if !until.IsZero() {
			hi = TimeTerm(until)
		}
		yes, no := true, false
		r := bleve.NewTermRangeInclusiveQuery(lo, hi, &yes, &no)
		r.SetField(FieldTime)
		must = append(must, r)
	}
	bq := bleve.NewBooleanQuery()
	bq.AddMust(must...)
	if f.ActiveOnly {
		// Leave out, per session with resets, the segments before its
		// current one.
		resets, err := o.segments()
		if err != nil {
			return nil, err
		}
		for id, seg := range resets {
			yes, no := true, false
			old := bleve.NewTermRangeInclusiveQuery("", SegmentTerm(int64(seg)), &yes, &no)
			old.SetField(FieldSegment)
			bq.AddMustNot(bleve.NewConjunctionQuery(term(FieldSession, id), old))
		}
	}
	return bq, nil
}

// run searches text within q's filter and reads the hits back from the
// session files.
func (x *Index) run(ctx context.Context, o *owner, text query.Query, q Query) (*Result, error) {
	limit := q.Limit
	if limit == 0 {
		limit = DefaultLimit
	}
	fq, err := x.filtered(text, q.Filter, o)
	if err != nil {
		return nil, err
	}
	req := bleve.NewSearchRequestOptions(fq, limit, q.Offset, false)
	req.Fields = []string{FieldOffset, FieldSegment}
	req.IncludeLocations = true
	if q.Sort == SortTime {
		req.SortBy([]string{"-" + FieldTime, "-" + FieldSeq, "-_id"})
	} else {
		req.SortBy([]string{"-_score"}) // a tie-break by time would read doc values for every match
	}
	sr, err := o.bi.SearchInContext(ctx, req)
	if err != nil {
		if ctx.Err() != nil {
			return nil, ctx.Err()
		}
		return nil, fmt.Errorf("%w: search: %v", ErrDamaged, err)
	}
	mark := q.Mark
	if mark == [2]string{} {
		mark = [2]string{"**", "**"}
	}
	res := &Result{Total: sr.Total, Hits: make([]Hit, 0, len(sr.Hits))}
	// Titles come from the watermarks (the owner's, not safe for
	// concurrent use); the records are read back from the files in
	// parallel, each with one read at its offset.
	// A document's id is its session's number and its seq (docKey); the
	// store maps the numbers back to session ids.
	nums, seqs := make([]uint64, len(sr.Hits)), make([]int64, len(sr.Hits))
	for i, dm := range sr.Hits {
		nums[i], seqs[i], _ = parseKey(dm.ID)
	}
	sessions, err := o.st.sessions(nums)
	if err != nil {
		return nil, err
	}
	titles := make([]string, len(sr.Hits))
	for i, id := range sessions {
		if id == "" {
			continue
		}
		wm, err := o.wm(id)
		if err != nil {
			return nil, err
		}
		if wm != nil {
			titles[i] = wm.DisplayTitle()
		}
	}
	type read struct {
		h   Hit
		ok  bool
		err error
	}
	reads := make([]read, len(sr.Hits))
	var wg sync.WaitGroup
	next := make(chan int, len(sr.Hits))
	for i := range sr.Hits {
		next <- i
	}
	close(next)
	for w := 0; w < min(len(sr.Hits), hitReaders); w++ {
		wg.Go(func() {
			for i := range next {
				r := &reads[i]
				if sessions[i] == "" {
					continue // a document no watermark accounts for: the next full rescan removes it
				}
				r.h, r.ok, r.err = x.readHit(ctx, sr.Hits[i], sessions[i], seqs[i], mark)
				r.h.Title = titles[i]
			}
		})
	}
	wg.Wait()
	for _, r := range reads {
		if r.err != nil {
			return nil, r.err
		}
		if r.ok {
			res.Hits = append(res.Hits, r.h)
		}
	}
	return res, nil
}

// hitReaders is how many hits are read back from their files at once.
const hitReaders = 4

// readHit reads the message of a document back from its session file.
// ok is false when the record is no longer there (the file changed after
// the catch-up; the next search drops the document).
func (x *Index) readHit(ctx context.Context, dm *search.DocumentMatch, session string, seq int64, mark [2]string) (Hit, bool, error) {
	h := Hit{ID: docID(session, seq), Session: session, Seq: seq, Score: dm.Score}
	off, _ := dm.Fields[FieldOffset].(float64)
	if seg, ok := dm.Fields[FieldSegment].(string); ok {
		h.Segment, _ = strconv.Atoi(seg)
	}
	s, err := x.ws.OpenID(h.Session)
	if err != nil {
		if errors.Is(err, workspace.ErrNotFound) {
			return h, false, nil
		}
		return h, false, err
	}
	rec, found, err := recordAt(ctx, s, int64(off), seq)
	if err != nil || !found {
		return h, false, err
	}
	h.Time, h.Role, h.Sender, h.Content = rec.At, rec.Role, rec.Sender, rec.Content
	h.Tool, h.Failed = rec.ToolName, rec.IsError
	h.Snippet = snippet(rec.Content, dm.Locations[FieldText], mark)
	return h, true, nil
}

// recordAt reads the record of seq from the line at off, or, should the
// line hold another record, by reading the file from the start.
func recordAt(ctx context.Context, s *workspace.Session, off, seq int64) (workspace.Record, bool, error) {
	for e, err := range s.Records(ctx, off) {
		if err != nil {
			break
		}
		if e.Seq == seq {
			return e.Record, true, nil
		}
		break
	}
	for e, err := range s.Records(ctx, 0) {
		if err != nil {
			if errors.Is(err, workspace.ErrNotFound) {
				return workspace.Record{}, false, nil
			}
			return workspace.Record{}, false, err
		}
		if e.Seq == seq {
			return e.Record, true, nil
		}
	}
	return workspace.Record{}, false, nil
}
