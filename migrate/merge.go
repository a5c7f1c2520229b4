package migrate

import (
	"encoding/json"
	"sort"
	"strings"
	"time"

	"github.com/tidwall/gjson"

	"github.com/picosess/picosess/workspace"
)

// item is a record being assembled, with where it came from. through points
// at the item a summary or checkpoint covers up to; assemble turns it into
// a seq once the order is final.
type item struct {
	rec     workspace.Record
	prov    Provenance
	through *item
	// timed is false when the source gave no time: assemble fills it in.
	timed bool
}

func (it *item) isMessage() bool { return it.rec.Type == workspace.TypeMessage }

// fp is the content fingerprint used to decide duplicates:
// role, content, tool call id and tool call ids. Time is compared apart,
// and only when both sides have one.
func (it *item) fp() string {
	r := &it.rec
	var b strings.Builder
	b.WriteString(r.Type)
	b.WriteByte(0)
	b.WriteString(r.Role)
	b.WriteByte(0)
	b.WriteString(r.Content)
	b.WriteByte(0)
	b.WriteString(r.Text)
	b.WriteByte(0)
	b.WriteString(r.ToolCallID)
	b.WriteByte(0)
	if len(r.ToolCalls) > 0 {
		var calls []struct {
			ID string `json:"id"`
		}
		if json.Unmarshal(r.ToolCalls, &calls) == nil {
			for _, c := range calls {
				b.WriteString(c.ID)
				b.WriteByte(1)
			}
		}
	}
	return b.String()
}

func sameItem(a, b *item) bool {
	if a.fp() != b.fp() {
		return false
	}
	if a.timed && b.timed && !a.rec.At.Equal(b.rec.At) {
		return false
	}
	return true
}

// union merges two histories of one conversation, each in its own order,
// keeping every record once: the records of b that a lacks are placed after
// the last record they share with a, interleaved by time with a's records up
// to the next shared one. Used for JSON copies beside JSONL files, promoted
// P5 copies of legacy sessions, PocketPaw temp copies.
func union(a, b []*item) (out []*item, added int) {
	if len(b) == 0 {
		return a, 0
	}
	if len(a) == 0 {
		return b, len(b)
	}
	pos := map[string][]int{}
	for i, it := range a {
		k := it.fp()
		pos[k] = append(pos[k], i)
	}
	match := make([]int, len(b))
	last := -1
	for j, it := range b {
		match[j] = -1
		cands := pos[it.fp()]
		k := sort.SearchInts(cands, last+1)
		for ; k < len(cands); k++ {
			if sameItem(a[cands[k]], it) {
				match[j] = cands[k]
				last = cands[k]
				break
			}
		}
	}
	ai := 0
	var pending []*item
	flush := func(upto int) {
		out = append(out, mergeByTime(a[ai:upto], pending)...)
		added += len(pending)
		pending = nil
		ai = upto
	}
	for j, it := range b {
		if match[j] < 0 {
			pending = append(pending, it)
			continue
		}
		flush(match[j])
		// the shared record: keep a's copy (b's is the duplicate)
		out = append(out, a[ai])
		ai++
	}
	flush(len(a))
	return out, added
}

// mergeByTime interleaves two ordered runs by time; a record without a time
// travels with the one before it, and ties keep x first.
func mergeByTime(x, y []*item) []*item {
	if len(y) == 0 {
		return x
	}
	if len(x) == 0 {
		return y
	}
	out := make([]*item, 0, len(x)+len(y))
	i, j := 0, 0
	var tx, ty time.Time
	for i < len(x) || j < len(y) {
		if i < len(x) && x[i].timed {
			tx = x[i].rec.At
		}
		if j < len(y) && y[j].timed {
			ty = y[j].rec.At
		}
		switch {
		case j >= len(y):
			out = append(out, x[i])
			i++
		case i >= len(x):
			out = append(out, y[j])
			j++
		case !ty.Before(tx) || ty.IsZero():
			out = append(out, x[i])
			i++
		default:
			out = append(out, y[j])
			j++
		}
	}
	return out
}

// containsAll reports how many of b's messages occur in a, in order.
func containsInOrder(a, b []*item) int {
	_, added := union(a, b)
	return len(b) - added
}

// assemble numbers items as they will be in a fresh session file (header
// seq 1), resolves through pointers, fills missing times from the previous
// record (or start) and appends everything to s.
func assemble(s *Source, items []*item, start time.Time) {
	base := int64(len(s.Records)) + 2
	seqOf := make(map[*item]int64, len(items))
	for i, it := range items {
		seqOf[it] = base + int64(i)
	}
	prev := start
	if n := len(s.Records); n > 0 {
		prev = s.Records[n-1].At
	}
	var calls toolNames
	for i, it := range items {
		r := it.rec
		calls.name(&r)
		r.Seq = base + int64(i)
		if !it.timed || r.At.IsZero() {
			r.At = prev
			if it.isMessage() {
				s.ApproxTimes = true
			}
		}
		r.At = r.At.UTC()
		prev = r.At
		if it.through != nil {
			r.Through = seqOf[it.through]
		}
		s.Records = append(s.Records, r)
		s.Provenance = append(s.Provenance, it.prov)
	}
}

// firstTime returns the time of the first timed item, or zero.
func firstTime(items []*item) time.Time {
	for _, it := range items {
		if it.timed && !it.rec.At.IsZero() {
			return it.rec.At
		}
	}
	return time.Time{}
}

func onlyMessages(items []*item) []*item {
	var out []*item
	for _, it := range items {
		if it.isMessage() {
			out = append(out, it)
		}
	}
	return out
}

func resetItem(at time.Time, reason string, prov Provenance) *item {
	return &item{
		rec:   workspace.Record{Type: workspace.TypeReset, At: at, Reason: reason},
		prov:  prov,
		timed: !at.IsZero(),
	}
}

func mustJSON(v any) json.RawMessage {
	b, err := json.Marshal(v)
	if err != nil {
		return nil
	}
	return b
}

// toolNames remembers the tool calls seen so far, so that a tool result
// that does not name its tool (PicoClaw stores only tool_call_id) gets the
// name of the call it answers.
type toolNames map[string]string

func (t *toolNames) name(r *workspace.Record) {
	if r.Type != workspace.TypeMessage {
		return
	}
	if len(r.ToolCalls) > 0 {
		gjson.ParseBytes(r.ToolCalls).ForEach(func(_, c gjson.Result) bool {
			id, name := c.Get("id").String(), c.Get("function.name").String()
			if id != "" && name != "" {
				if *t == nil {
					*t = toolNames{}
				}
				(*t)[id] = name
			}
			return true
		})
	}
	if r.Role == workspace.RoleTool && r.ToolName == "" && r.ToolCallID != "" {
		r.ToolName = (*t)[r.ToolCallID]
	}
}
