package migrate

import (
	"encoding/json"
	"fmt"
	"regexp"
	"slices"
	"strconv"
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
	// fpc caches fp().
	fpc string
	// also lists the other copies that hold this same record (aligned
	// onto it), so that verify can prove every source file's messages.
	also []Provenance
}

func (it *item) isMessage() bool { return it.rec.Type == workspace.TypeMessage }

// fp is the content fingerprint used to decide duplicates:
// role, content, tool call id and tool call ids. Time is compared apart,
// and only when both sides have one.
func (it *item) fp() string {
	if it.fpc != "" {
		return it.fpc
	}
	it.fpc = it.computeFP()
	return it.fpc
}

func (it *item) computeFP() string {
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

// alignStats says what an alignment of two copies found.
type alignStats struct {
	// matched counts the records both copies hold; oldOnly and newOnly
	// the records only one of them holds.
	matched, oldOnly, newOnly int
	// undecided counts the messages placed by the older-first rule
	// because times did not decide their order: a gap between two shared
	// records where both copies hold messages of their own and one of
	// them has no time.
	undecided int
	// undecidedAt is the first such message of the older copy (for the
	// report).
	undecidedAt *item
	// crossed counts the records unique in both copies that the copies
	// hold in contradicting orders: left out of the chain of anchors,
	// each stays where each copy has it (twice). Counted in undecided too.
	crossed int
}

// align merges two copies of one conversation into one timeline, every
// record once. old is the copy written earlier. The records both hold are
// found by an order-preserving alignment (a common subsequence in the
// manner of patience diff): equal runs at the ends of the copies are
// matched directly when they are evidence (alignPairs says when); then
// only records unique in each whole copy (by role,
// content, tool ids, and time where every occurrence has one) serve as
// anchors, the longest chain of them increasing in both copies is kept,
// and each gap between two anchors is matched from its ends while the
// records are equal. A repeated record ("ok", "thanks", the same tool
// result) is thus matched only as part of a run touching an anchor or an
// end, never on its own. Records of one copy keep their order. In a gap,
// the older copy's own records come before the newer copy's, unless both
// carry times that say otherwise; when times do not decide, st.undecided
// says so. The shared record kept is the newer copy's (with the older
// one's time when only that has one).
//
// With record set, the kept record notes the other's provenance (also),
// for verify; without, align only reads its input.
//
// Cost: O(n) time and memory when the copies differ only at their ends
// (the common case: a copy that grew, or was cut); O(n log n) otherwise.
func align(old, nw []*item, record bool) (out []*item, st alignStats) {
	if len(old) == 0 {
		return nw, alignStats{newOnly: len(nw)}
	}
	if len(nw) == 0 {
		return old, alignStats{oldOnly: len(old)}
	}
	match, crossed := alignPairs(old, nw) // match[j] = index in old of nw[j], or -1
	st.crossed = crossed
	st.undecided += 2 * crossed
	out = make([]*item, 0, len(old)+len(nw))
	ai, bj := 0, 0
	gap := func(aEnd, bEnd int) {
		og, ng := old[ai:aEnd], nw[bj:bEnd]
		st.oldOnly += len(og)
		st.newOnly += len(ng)
		out = mergeGap(out, og, ng, &st)
		ai, bj = aEnd, bEnd
	}
	for j := 0; j < len(nw); j++ {
		i := match[j]
		if i < 0 {
			continue
		}
		gap(i, j)
		// the newer copy's record is kept (summaries and checkpoints
		// point at it); it learns the older one's time if it has none
		keep, drop := nw[j], old[i]
		if record {
			if !keep.timed && drop.timed {
				keep.rec.At, keep.timed = drop.rec.At, true
			}
			keep.also = append(keep.also, Provenance{Path: drop.prov.Path, Line: drop.prov.Line, EntryID: drop.prov.EntryID})
			keep.also = append(keep.also, drop.also...)
		}
		out = append(out, keep)
		st.matched++
		ai, bj = i+1, j+1
	}
	gap(len(old), len(nw))
	return out, st
}

// compressionNote is the message PicoClaw v0.1.2's forceCompression put
// in a history in place of the messages it dropped.
var compressionNote = regexp.MustCompile(`^\[System: Emergency compression dropped (\d+) oldest messages due to context limit\]$`)

// compressionGap reports whether a gap is a forceCompression seen from
// both sides: the newer copy holds only its note, the older exactly the
// messages the note says were dropped. The older-first order is then
// known, not guessed: the dropped messages stood where the note stands.
func compressionGap(og, ng []*item) bool {
	if len(ng) != 1 || ng[0].rec.Role != workspace.RoleSystem {
		return false
	}
	m := compressionNote.FindStringSubmatch(ng[0].rec.Content)
	if m == nil {
		return false
	}
	n, err := strconv.Atoi(m[1])
	return err == nil && n == len(onlyMessages(og))
}

// mergeGap appends the records of a gap: the older copy's first, except
// that where both records carry a time the earlier goes first; a record
// without a time travels with the one before it in its copy.
func mergeGap(out, og, ng []*item, st *alignStats) []*item {
	if len(og) == 0 {
		return append(out, ng...)
	}
	if len(ng) == 0 {
		return append(out, og...)
	}
	allTimed := true
	for _, x := range og {
		allTimed = allTimed && (x.timed || !x.isMessage())
	}
	for _, x := range ng {
		allTimed = allTimed && (x.timed || !x.isMessage())
	}
	if !allTimed && !compressionGap(og, ng) {
		st.undecided += len(onlyMessages(og)) + len(onlyMessages(ng))
		if st.undecidedAt == nil {
			st.undecidedAt = og[0]
		}
	}
	i, j := 0, 0
	var to, tn time.Time
	var okO, okN bool
	for i < len(og) || j < len(ng) {
		if i < len(og) && og[i].timed {
			to, okO = og[i].rec.At, true
		}
		if j < len(ng) && ng[j].timed {
			tn, okN = ng[j].rec.At, true
		}
		switch {
		case j >= len(ng):
			out = append(out, og[i])
			i++
		case i >= len(og):
			out = append(out, ng[j])
			j++
		case okO && okN && tn.Before(to):
			out = append(out, ng[j])
			j++
		default:
			out = append(out, og[i])
			i++
		}
	}
	return out
}

// alignPairs returns, for each record of b, the index of the record of a
// it is aligned with, or -1.
//
// The equal runs at the two ends of the copies are matched first when
// they cover one copy whole (the common case, linear and without a map:
// a copy that only grew, or lost only a middle part), or when a run holds
// a message unique in both copies or one with the same time in both;
// a run of repeated messages alone ("ok" at both starts) is no evidence.
// In what is left, records unique in each whole copy are the anchors, and
// each gap is matched outward from its anchors while the records there
// are equal.
//
// crossed counts the unique records left out of the chain: the copies
// hold them in contradicting orders.
func alignPairs(a, b []*item) (match []int, crossed int) {
	match = make([]int, len(b))
	for j := range match {
		match[j] = -1
	}
	p := 0
	for p < len(a) && p < len(b) && sameItem(a[p], b[p]) {
		p++
	}
	q := 0
	for q < len(a)-p && q < len(b)-p && sameItem(a[len(a)-1-q], b[len(b)-1-q]) {
		q++
	}
	whole := p+q == len(a) || p+q == len(b)
	var occs map[string]*occ
	if !whole {
		occs = countOccurrences(a, b)
		if !runIsEvidence(occs, a[:p]) {
			p = 0
		}
		if !runIsEvidence(occs, a[len(a)-q:]) {
			q = 0
		}
	}
	for k := 0; k < p; k++ {
		match[k] = k
	}
	for k := 1; k <= q; k++ {
		match[len(b)-k] = len(a) - k
	}
	if whole {
		return match, 0
	}
	alo, ahi, blo, bhi := p, len(a)-q, p, len(b)-q
	// fwd: match forward from the start of a gap (it follows an anchor or
	// a matched run); back: match backward from its end
	extend := func(alo, ahi, blo, bhi int, fwd, back bool) {
		for fwd && alo < ahi && blo < bhi && sameItem(a[alo], b[blo]) {
			match[blo] = alo
			alo++
			blo++
		}
		for back && alo < ahi && blo < bhi && sameItem(a[ahi-1], b[bhi-1]) {
			match[bhi-1] = ahi - 1
			ahi--
			bhi--
		}
	}
	anchors, crossed := uniqueAnchors(occs, a, b, alo, ahi, blo, bhi)
	pa, pb, fwd := alo, blo, p > 0
	for _, an := range anchors {
		match[an[1]] = an[0]
		extend(pa, an[0], pb, an[1], fwd, true)
		pa, pb, fwd = an[0]+1, an[1]+1, true
	}
	extend(pa, ahi, pb, bhi, fwd, q > 0)
	return match, crossed
}

// occ counts one fingerprint in two copies.
type occ struct {
	na, nb, ia int // occurrences in a and b; index of the last in a
	allTimed   bool
}

func countOccurrences(a, b []*item) map[string]*occ {
	m := make(map[string]*occ, len(a))
	for i, x := range a {
		o := m[x.fp()]
		if o == nil {
			o = &occ{allTimed: true}
			m[x.fp()] = o
		}
		o.na++
		o.ia = i
		o.allTimed = o.allTimed && x.timed
	}
	for _, x := range b {
		if o := m[x.fp()]; o != nil {
			o.nb++
			o.allTimed = o.allTimed && x.timed
		}
	}
	return m
}

// runIsEvidence reports whether an equal run (of a, matched by sameItem)
// holds a message unique in both copies, or a timed one (sameItem found
// the same time on both sides).
func runIsEvidence(m map[string]*occ, run []*item) bool {
	for _, x := range run {
		if x.timed {
			return true
		}
		if o := m[x.fp()]; o != nil && o.na == 1 && o.nb == 1 {
			return true
		}
	}
	return false
}

// uniqueAnchors returns the pairs (i, j), i in a[alo:ahi] and j in
// b[blo:bhi], of records that occur once in the whole of a and once in
// the whole of b and are the same record, reduced to the longest chain
// increasing in both i and j. A record is told apart by its fingerprint,
// and also by its time where every occurrence of that fingerprint in both
// copies has one: "ok" at 10:02 is unique even if "ok" is not.
func uniqueAnchors(m map[string]*occ, a, b []*item, alo, ahi, blo, bhi int) (chain [][2]int, crossed int) {
	var timedA map[timedFP][2]int // count, index in a
	var timedB map[timedFP]int
	var pairs [][2]int
	for j := blo; j < bhi; j++ {
		x := b[j]
		o := m[x.fp()]
		if o == nil {
			continue
		}
		if o.na == 1 && o.nb == 1 {
			if o.ia >= alo && o.ia < ahi && sameItem(a[o.ia], x) {
				pairs = append(pairs, [2]int{o.ia, j})
			}
			continue
		}
		if !o.allTimed {
			continue
		}
		if timedA == nil {
			timedA, timedB = map[timedFP][2]int{}, map[timedFP]int{}
			for i, y := range a {
				if q := m[y.fp()]; q.allTimed && (q.na > 1 || q.nb > 1) {
					k := timeKey(y)
					c := timedA[k]
					timedA[k] = [2]int{c[0] + 1, i}
				}
			}
			for _, y := range b {
				if q := m[y.fp()]; q != nil && q.allTimed && (q.na > 1 || q.nb > 1) {
					timedB[timeKey(y)]++
				}
			}
		}
		k := timeKey(x)
		if c := timedA[k]; c[0] == 1 && timedB[k] == 1 && c[1] >= alo && c[1] < ahi {
			pairs = append(pairs, [2]int{c[1], j})
		}
	}
	chain = longestChain(pairs)
	return chain, len(pairs) - len(chain)
}

// timedFP is a fingerprint with a time.
type timedFP struct {
	fp string
	at int64 // Unix nanoseconds
}

func timeKey(x *item) timedFP { return timedFP{x.fp(), x.rec.At.UnixNano()} }

// longestChain keeps the longest subsequence of pairs (sorted by j) whose
// i also increases: patience sorting, O(k log k).
func longestChain(pairs [][2]int) [][2]int {
	if len(pairs) == 0 {
		return nil
	}
	tails := []int{} // index into pairs of the smallest tail of each length
	prev := make([]int, len(pairs))
	for k, p := range pairs {
		lo, hi := 0, len(tails)
		for lo < hi {
			mid := (lo + hi) / 2
			if pairs[tails[mid]][0] < p[0] {
				lo = mid + 1
			} else {
				hi = mid
			}
		}
		if lo > 0 {
			prev[k] = tails[lo-1]
		} else {
			prev[k] = -1
		}
		if lo == len(tails) {
			tails = append(tails, k)
		} else {
			tails[lo] = k
		}
	}
	out := make([][2]int, len(tails))
	for k, n := tails[len(tails)-1], len(tails)-1; n >= 0; k, n = prev[k], n-1 {
		out[n] = pairs[k]
	}
	return out
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

// alignAll folds copies, oldest first, into one timeline and reports
// where the order was not decided.
func alignAll(copies [][]*item, names []string) (out []*item, notes []string) {
	for k, c := range copies {
		var st alignStats
		out, st = align(out, c, true)
		if st.undecided > 0 && k > 0 {
			notes = append(notes, undecidedNote(st, names[k]))
		}
	}
	return out, notes
}

func undecidedNote(st alignStats, newer string) string {
	var b strings.Builder
	fmt.Fprintf(&b, "order undecided for %d messages: ", st.undecided)
	gaps := st.undecided - 2*st.crossed
	if gaps > 0 {
		fmt.Fprintf(&b, "%d are held by only one of two copies between the same two shared messages, without times to order them; the older copy's were placed first, then %s's", gaps, newer)
		if st.undecidedAt != nil {
			fmt.Fprintf(&b, " (first: %s %q from %s)", st.undecidedAt.rec.Role, clip(st.undecidedAt.rec.Content, 40), provString(st.undecidedAt.prov))
		}
	}
	if st.crossed > 0 {
		if gaps > 0 {
			b.WriteString("; ")
		}
		fmt.Fprintf(&b, "%d messages unique to both copies stand in opposite orders in them; one timeline cannot keep both copies' orders, and neither copy is reordered, so %d of them appear twice, once where each copy has it", 2*st.crossed, st.crossed)
	}
	return b.String()
}

func provString(p Provenance) string {
	switch {
	case p.Line > 0:
		return fmt.Sprintf("%s line %d", p.Path, p.Line)
	case p.EntryID != "":
		return fmt.Sprintf("%s entry %s", p.Path, p.EntryID)
	}
	return p.Path
}

func clip(s string, n int) string {
	r := []rune(s)
	if len(r) > n {
		return string(r[:n]) + "…"
	}
	return s
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
	if prev.IsZero() {
		prev = firstTime(items)
	}
	if prev.IsZero() {
		// no time anywhere: the oldest source file's modification time,
		// a fact of the source, never the importer's clock
		for _, f := range s.Files {
			if !f.ModTime.IsZero() && (prev.IsZero() || f.ModTime.Before(prev)) {
				prev = f.ModTime.UTC()
			}
		}
	}
	s.Records = slices.Grow(s.Records, len(items))
	s.Provenance = slices.Grow(s.Provenance, len(items))
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
		pv := it.prov
		if len(it.also) > 0 {
			pv.Also = append([]Provenance(nil), it.also...)
		}
		s.Provenance = append(s.Provenance, pv)
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

// containsInOrder reports how many of b's records the alignment finds in
// a.
func containsInOrder(a, b []*item) int {
	n := 0
	match, _ := alignPairs(a, b)
	for _, i := range match {
		if i >= 0 {
			n++
		}
	}
	return n
}
