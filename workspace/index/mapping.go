package index

import (
	"fmt"
	"math"
	"strconv"
	"strings"
	"time"

	"github.com/blevesearch/bleve/v2"
	"github.com/blevesearch/bleve/v2/analysis"
	_ "github.com/blevesearch/bleve/v2/analysis/analyzer/custom" // the keyword analyzer is a custom one
	_ "github.com/blevesearch/bleve/v2/analysis/tokenizer/single"
	"github.com/blevesearch/bleve/v2/document"
	"github.com/blevesearch/bleve/v2/mapping"
	bindex "github.com/blevesearch/bleve_index_api"
)

// Field names of a message document. Every field is declared in the
// mapping; nothing is dynamic.
const (
	FieldSession = "session" // session id
	FieldAgent   = "agent"   // from the session header's scope
	FieldChannel = "channel"
	FieldAccount = "account"
	FieldChat    = "chat"  // scope value "chat" (direct:42, group:-100123)
	FieldTopic   = "topic" // scope value "topic"
	FieldSender  = "sender"
	FieldRole    = "role"
	FieldTool    = "tool"    // a tool result's tool name
	FieldFailed  = "failed"  // "true" on a tool result whose tool reported an error
	FieldTime    = "time"    // the record's "at", to the hour (TimeResolution)
	FieldSeq     = "seq"     // the record's seq (sort only)
	FieldSegment = "segment" // 0 for the first conversation, +1 per reset
	FieldText    = "text"    // the content; indexed, not stored
	// FieldOffset is stored, not indexed: where the record's line starts
	// in the session file, so a hit's snippet is one read away.
	FieldOffset = "offset"
)

// TimeResolution is the precision of the indexed time: filters on time
// select whole hours, and sorting by time orders messages of one hour by
// seq.
const TimeResolution = time.Hour

// timeLayout writes a time as its hour, digits only (a keyword sorts and
// compares as the time does): 2026-01-31 14:05 UTC is "2026013114".
const timeLayout = "2006010215"

// SegmentTerm is the indexed form of a segment number: zero-padded, so
// that term ranges compare as the numbers do.
func SegmentTerm(segment int64) string { return fmt.Sprintf("%08d", segment) }

// TimeTerm is the indexed form of a time: its UTC hour as in timeLayout.
func TimeTerm(t time.Time) string { return t.UTC().Format(timeLayout) }

// KeywordAnalyzer is the analyzer of the keyword fields: the whole value,
// lowercased (senders and filters match whatever their case).
const KeywordAnalyzer = "picosess_keyword"

// keywordFields are indexed whole, lowercased.
var keywordFields = [...]string{FieldSession, FieldAgent, FieldChannel, FieldAccount, FieldChat, FieldTopic, FieldSender, FieldRole, FieldTool, FieldFailed}

// Indexing options, shared by the mapping and the documents built by hand
// in newDoc, so that both write the same index.
//
// The keyword fields keep bleve's frequencies and norms, although they
// are filters: with SkipFreqNorm (about 0.9 MB less per 100 000 messages)
// bleve scores a term that only one document has as NaN (its 1-hit
// encoding reads the missing norm as 0, and the field norm becomes +Inf).
const (
	optText    = bindex.IndexField | bindex.IncludeTermVectors // positions, for phrases
	optKeyword = bindex.IndexField
	optTime    = bindex.IndexField | bindex.DocValues  // DocValues: sort by time
	optSeq     = bindex.DocValues                      // sort: ties within an hour
	optSegment = bindex.IndexField | bindex.StoreField // filtered on, and read back into Hit.Segment
	optOffset  = bindex.StoreField
)

// newMapping builds the static index mapping (docs/search.md, "Mapping").
//
// Sizes decided it (docs/search.md): a numeric or date field is indexed as
// 16 terms per value, which for a time unique to each message costs about
// as much as the text. Time is therefore a keyword, the message's hour
// (TimeTerm: one term per message; range filters on whole hours, sorting
// by hour then seq, which has doc values only), and seq is not indexed:
// the document id carries it.
func newMapping() (*mapping.IndexMappingImpl, error) {
	m := bleve.NewIndexMapping()
	if err := m.AddCustomAnalyzer(KeywordAnalyzer, map[string]any{
		"type":          "custom",
		"tokenizer":     "single",
		"token_filters": []any{"to_lower"},
	}); err != nil {
		return nil, fmt.Errorf("index: mapping: %w", err)
	}
	doc := bleve.NewDocumentStaticMapping()
	doc.AddSubDocumentMapping("_all", bleve.NewDocumentDisabledMapping())
	for _, name := range keywordFields {
		f := bleve.NewKeywordFieldMapping()
		f.Analyzer = KeywordAnalyzer
		f.Store, f.IncludeTermVectors, f.IncludeInAll, f.DocValues = false, false, false, false
		doc.AddFieldMappingsAt(name, f)
	}
	text := bleve.NewTextFieldMapping()
	text.Analyzer = TextAnalyzer
	text.Store, text.IncludeTermVectors, text.IncludeInAll, text.DocValues = false, true, false, false
	doc.AddFieldMappingsAt(FieldText, text)

	tm := bleve.NewKeywordFieldMapping()
	tm.Analyzer = KeywordAnalyzer
	tm.Store, tm.IncludeTermVectors, tm.IncludeInAll, tm.DocValues = false, false, false, true
	doc.AddFieldMappingsAt(FieldTime, tm)
	seq := bleve.NewNumericFieldMapping()
	seq.Index, seq.Store, seq.IncludeInAll, seq.DocValues = false, false, false, true
	doc.AddFieldMappingsAt(FieldSeq, seq)
	// The segment is one keyword term (zero-padded, so that term ranges
	// order like numbers), where a numeric field indexes 16; stored, so
	// that hits say their conversation.
	seg := bleve.NewKeywordFieldMapping()
	seg.Analyzer = KeywordAnalyzer
	seg.Store, seg.IncludeTermVectors, seg.IncludeInAll, seg.DocValues = true, false, false, false
	doc.AddFieldMappingsAt(FieldSegment, seg)
	off := bleve.NewNumericFieldMapping()
	off.Index, off.Store, off.IncludeInAll, off.DocValues = false, true, false, false
	doc.AddFieldMappingsAt(FieldOffset, off)

	m.DefaultMapping = doc
	m.DefaultField = FieldText
	m.DefaultAnalyzer = TextAnalyzer
	m.StoreDynamic, m.IndexDynamic, m.DocValuesDynamic = false, false, false
	if err := m.Validate(); err != nil {
		return nil, fmt.Errorf("index: mapping: %w", err)
	}
	return m, nil
}

// Message is one indexed message: what newDoc turns into a document. The
// JSON names are the field names, so bleve's own mapping walk indexes a
// Message exactly as newDoc does (the benchmark floor relies on it).
type Message struct {
	Session string  `json:"session"`
	Agent   string  `json:"agent"`
	Channel string  `json:"channel"`
	Account string  `json:"account"`
	Chat    string  `json:"chat"`
	Topic   string  `json:"topic"`
	Sender  string  `json:"sender"`
	Role    string  `json:"role"`
	Tool    string  `json:"tool,omitempty"`
	Failed  string  `json:"failed,omitempty"` // "true" or ""
	Time    string  `json:"time"`             // TimeTerm of the record's time
	Seq     float64 `json:"seq"`
	Segment float64 `json:"segment"`
	Offset  float64 `json:"offset"`
	Text    string  `json:"text"`
	// Num is the session's number in this index (Watermark.Num): the
	// document's id is docKey(Num, Seq).
	Num uint64 `json:"-"`
}

// docID is the id of a hit (Hit.ID): "<session id>:<seq>".
func docID(session string, seq int64) string {
	return session + ":" + strconv.FormatInt(seq, 10)
}

// docKey is the id of a record's document in the index: the session's
// number and the seq, each in base 36 after one character that says how
// many digits follow ("21z:42n9c": session 71, seq 123 456). Not the session
// id: bleve stores every document's id, uncompressed, and indexes it as a
// term of its own; 72 bytes of "<session id>:<seq>" per message were a
// fifth of the index (6.6 of 33 MB per 100 000 messages). The session's
// number is stored with its watermark, and picosess-state.bolt maps it back
// to the session id (store.go).
//
// The length character makes keys sort as (number, seq) do: the records a
// catch-up appends come after every key of the segments already written
// (sessions get numbers in the order they are first read, a session's seqs
// grow), and scorch, which looks every key of a batch up in every segment
// to find what it replaces, skips a segment whose largest key is smaller
// than the key. Without it every batch read the id dictionary of every
// segment (docs/performance.md, "First search in bounded memory").
func docKey(num uint64, seq int64) string {
	b := make([]byte, 0, 2*keyDigits+3)
	b = appendOrdered(b, num)
	b = append(b, ':')
	b = appendOrdered(b, uint64(seq))
	return string(b)
}

// keyDigits is the most base-36 digits of a uint64.
const keyDigits = 13

// appendOrdered appends n in base 36 after its digit count, itself one
// base-36 digit: two numbers compare as their encodings do.
func appendOrdered(b []byte, n uint64) []byte {
	var d [keyDigits]byte
	digits := strconv.AppendUint(d[:0], n, 36)
	b = strconv.AppendUint(b, uint64(len(digits)), 36)
	return append(b, digits...)
}

// parseKey reads a docKey; ok is false for anything else.
func parseKey(key string) (num uint64, seq int64, ok bool) {
	n, q, found := strings.Cut(key, ":")
	if !found {
		return 0, 0, false
	}
	num, ok = parseOrdered(n)
	if !ok {
		return 0, 0, false
	}
	s, ok := parseOrdered(q)
	if !ok || s > math.MaxInt64 {
		return 0, 0, false
	}
	return num, int64(s), true
}

// parseOrdered reads what appendOrdered wrote.
func parseOrdered(s string) (uint64, bool) {
	if len(s) < 2 {
		return 0, false
	}
	l, err := strconv.ParseUint(s[:1], 36, 8)
	if err != nil || int(l) != len(s)-1 {
		return 0, false
	}
	n, err := strconv.ParseUint(s[1:], 36, 64)
	return n, err == nil
}

// analyzers are the analyzer objects newDoc hands to fields, resolved once
// from the mapping.
type analyzers struct {
	text, keyword analysis.Analyzer
}

func newAnalyzers(m *mapping.IndexMappingImpl) (analyzers, error) {
	a := analyzers{text: m.AnalyzerNamed(TextAnalyzer), keyword: m.AnalyzerNamed(KeywordAnalyzer)}
	if a.text == nil || a.keyword == nil {
		return a, fmt.Errorf("index: mapping: analyzers %q and %q not found", TextAnalyzer, KeywordAnalyzer)
	}
	return a, nil
}

// newDoc builds the document of m directly, without bleve's reflective
// mapping walk: the catch-up's hot path. Empty keyword fields are left out,
// as the mapping walk leaves them out.
func (a analyzers) newDoc(m *Message) *document.Document {
	d := document.NewDocument(docKey(m.Num, int64(m.Seq)))
	for _, kv := range [...]struct{ name, v string }{
		{FieldSession, m.Session}, {FieldAgent, m.Agent}, {FieldChannel, m.Channel}, {FieldAccount, m.Account},
		{FieldChat, m.Chat}, {FieldTopic, m.Topic}, {FieldSender, m.Sender}, {FieldRole, m.Role},
		{FieldTool, m.Tool}, {FieldFailed, m.Failed},
	} {
		if kv.v != "" {
			d.AddField(document.NewTextFieldCustom(kv.name, nil, []byte(kv.v), optKeyword, a.keyword))
		}
	}
	if m.Time != "" {
		d.AddField(document.NewTextFieldCustom(FieldTime, nil, []byte(m.Time), optTime, a.keyword))
	}
	d.AddField(document.NewNumericFieldWithIndexingOptions(FieldSeq, nil, m.Seq, optSeq))
	d.AddField(document.NewTextFieldCustom(FieldSegment, nil, []byte(SegmentTerm(int64(m.Segment))), optSegment, a.keyword))
	d.AddField(document.NewNumericFieldWithIndexingOptions(FieldOffset, nil, m.Offset, optOffset))
	d.AddField(document.NewTextFieldCustom(FieldText, nil, []byte(m.Text), optText, a.text))
	return d
}
