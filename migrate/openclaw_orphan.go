package migrate

import (
	"fmt"
	"regexp"
	"sort"
	"strings"
	"time"

	"github.com/tidwall/gjson"
)

// OpenClaw before 2026-02-13 gave a key a fresh sessionId at every reset
// (/new, /reset, the daily and idle rollovers) and left the previous
// transcript unreferenced: no store entry names it, and its header holds
// no key. Such an orphan is linked to the key it belonged to by its
// envelopes (the channel and peer ids the user messages were received
// with) matched against the same agent's store entries, and by time: it
// must have ended before the key's current transcript began, and not
// overlap another conversation already linked to that key. One key fits:
// the orphan becomes an earlier conversation of it. None, or several: it
// stays its own archived session, and the report says why.

// anyChannel files the ids of an envelope that names no channel.
const anyChannel = "(any channel)"

// ocEvidence is what an orphan transcript says about its key.
type ocEvidence struct {
	// peers are channel -> ids the envelopes name (sender or chat).
	peers map[string]map[string]bool
	topic string // the -topic-<id> suffix of its file name
	first time.Time
	last  time.Time
}

var (
	// [<Channel> <from label …> <time>] at the start of a user message
	envHeadRe = regexp.MustCompile(`^\[([A-Za-z][A-Za-z0-9_.-]*) ([^\]\n]*)\]`)
	envIDRe   = regexp.MustCompile(`\bid:([^\s\]]+)`)
	envTelRe  = regexp.MustCompile(`(?:^|\s)(\+\d{6,15})\b`)
	envJIDRe  = regexp.MustCompile(`\b([0-9]{6,20}@(?:s\.whatsapp\.net|g\.us|c\.us|lid))\b`)
	// Telegram's group label without a title: group:<chatId> [topic:<id>]
	envGroupRe = regexp.MustCompile(`(?:^|\s)group:(\S+)`)
	envTopicRe = regexp.MustCompile(`(?:^|\s)topic:(\S+)`)
	topicRe    = regexp.MustCompile(`-topic-(.+?)\.jsonl`)
)

// transcriptSpan reads only the times of a transcript: its header's and
// its entries' earliest and latest.
func transcriptSpan(t *ocTranscript) (first, last time.Time) {
	first = t.headerTime
	for _, e := range t.entries {
		at, ok := entryTime(e)
		if !ok {
			continue
		}
		if first.IsZero() || at.Before(first) {
			first = at
		}
		if at.After(last) {
			last = at
		}
	}
	if last.IsZero() {
		last = first
	}
	return first, last
}

func entryTime(e *ocLine) (time.Time, bool) {
	at, ok := parseISO(gjson.GetBytes(e.data, "timestamp").String())
	if ms := gjson.GetBytes(e.data, "message.timestamp").Int(); !ok && ms > 0 {
		at, ok = time.UnixMilli(ms).UTC(), true
	}
	return at, ok
}

// orphanEvidence reads the envelopes and times of a transcript.
func orphanEvidence(t *ocTranscript) ocEvidence {
	ev := ocEvidence{peers: map[string]map[string]bool{}, first: t.headerTime}
	if m := topicRe.FindStringSubmatch(t.name); m != nil {
		ev.topic = strings.ToLower(m[1])
	}
	add := func(ch, id string) {
		ch, id = strings.ToLower(strings.TrimSpace(ch)), normPeer(ch, id)
		if id == "" {
			return
		}
		if ch == "" {
			ch = anyChannel // the metadata block need not name its channel
		}
		if ev.peers[ch] == nil {
			ev.peers[ch] = map[string]bool{}
		}
		ev.peers[ch][id] = true
	}
	for _, e := range t.entries {
		g := gjson.ParseBytes(e.data)
		at, ok := parseISO(g.Get("timestamp").String())
		if ms := g.Get("message.timestamp").Int(); !ok && ms > 0 {
			at, ok = time.UnixMilli(ms).UTC(), true
		}
		if ok {
			if ev.first.IsZero() || at.Before(ev.first) {
				ev.first = at
			}
			if at.After(ev.last) {
				ev.last = at
			}
		}
		if e.typ != "message" || g.Get("message.role").String() != "user" {
			continue
		}
		text := blocksText(g.Get("message.content"))
		if m := envHeadRe.FindStringSubmatch(text); strings.HasPrefix(text, "[") && m != nil {
			ch, label := m[1], m[2]
			each := func(re *regexp.Regexp, hint string) {
				if strings.Contains(label, hint) {
					for _, id := range re.FindAllStringSubmatch(label, -1) {
						add(ch, id[1])
					}
				}
			}
			each(envIDRe, "id:")
			each(envTelRe, "+")
			each(envJIDRe, "@")
			each(envGroupRe, "group:")
			if t := envTopicRe.FindStringSubmatch(label); ev.topic == "" && t != nil {
				ev.topic = strings.ToLower(t[1])
			}
		}
		if !strings.Contains(text, "untrusted metadata") {
			continue
		}
		if m := untrustedRe.FindStringSubmatch(text); m != nil {
			b := gjson.Parse(m[1])
			ch := firstNonEmpty(b.Get("channel").String(), b.Get("provider").String(), b.Get("surface").String())
			for _, f := range []string{"sender_id", "senderId", "chat_id", "chatId", "from", "to"} {
				if v := b.Get(f); v.Type == gjson.String || v.Type == gjson.Number {
					add(ch, v.String())
				}
			}
		}
	}
	if ev.last.IsZero() {
		ev.last = ev.first
	}
	return ev
}

func firstNonEmpty(s ...string) string {
	for _, x := range s {
		if x != "" {
			return x
		}
	}
	return ""
}

// normPeer reduces a peer or chat id as the store and the envelopes spell
// it (telegram:123, group:-100…, user:42, +1555…) to the bare id,
// lowercased.
func normPeer(ch, id string) string {
	id = strings.ToLower(strings.TrimSpace(id))
	id = strings.TrimRight(id, ".,;)")
	for changed := true; changed; {
		changed = false
		for _, p := range []string{strings.ToLower(ch) + ":", "group:", "channel:", "user:", "dm:", "direct:", "chat:"} {
			if p != ":" && strings.HasPrefix(id, p) {
				id, changed = id[len(p):], true
			}
		}
	}
	return id
}

// entryPeers are the channels and peer ids a store entry knows for its
// key: its reply route, origin, group id and the key's own peer segment.
func entryPeers(e *ocEntry) (chans map[string]bool, ids map[string]bool) {
	chans, ids = map[string]bool{}, map[string]bool{}
	v := e.raw
	for _, f := range []string{"channel", "lastChannel", "provider", "lastProvider", "deliveryContext.channel", "origin.provider", "origin.surface"} {
		if s := strings.ToLower(v.Get(f).String()); s != "" {
			chans[s] = true
		}
	}
	parts := strings.Split(strings.ToLower(e.key), ":")
	// agent:<a>:<ch>:…: the key's channel, and its peer or chat segment
	if len(parts) >= 4 && parts[0] == "agent" {
		rest := parts[2:]
		switch {
		case len(rest) >= 2 && (rest[0] == "dm" || rest[0] == "direct"):
			ids[strings.Join(rest[1:], ":")] = true
		case len(rest) >= 3 && (rest[1] == "dm" || rest[1] == "direct" || rest[1] == "group" || rest[1] == "channel"):
			chans[rest[0]] = true
			id := strings.Join(rest[2:], ":")
			if i := strings.Index(id, ":topic:"); i >= 0 {
				id = id[:i]
			}
			if i := strings.Index(id, ":thread:"); i >= 0 {
				id = id[:i]
			}
			ids[id] = true
		case len(rest) >= 4 && (rest[2] == "dm" || rest[2] == "direct"):
			chans[rest[0]] = true
			ids[strings.Join(rest[3:], ":")] = true
		}
	}
	for _, f := range []string{"lastTo", "deliveryContext.to", "origin.from", "origin.to", "groupId", "origin.nativeDirectUserId", "origin.nativeChannelId"} {
		if s := v.Get(f).String(); s != "" {
			for ch := range chans {
				ids[normPeer(ch, s)] = true
			}
			ids[normPeer("", s)] = true
		}
	}
	delete(ids, "")
	return chans, ids
}

// orphanLink is the outcome of linking one orphan by its evidence.
type orphanLink struct {
	to  *ocSession
	why string // for the report: the evidence, or why no key was chosen
}

// linkByEnvelope links the orphans that no store entry, checkpoint, fork
// header or reset time names, latest first, each to the one key whose
// entry names the orphan's channel and peer and whose conversations it
// precedes without overlapping.
func (od *ocDir) linkByEnvelope(orphans []string, claimed map[string]*ocSession) map[string]orphanLink {
	out := map[string]orphanLink{}
	evs := map[string]ocEvidence{}
	for _, n := range orphans {
		evs[n] = orphanEvidence(od.trans[n])
	}
	sort.SliceStable(orphans, func(i, j int) bool {
		a, b := evs[orphans[i]], evs[orphans[j]]
		if !a.first.Equal(b.first) {
			return a.first.After(b.first)
		}
		return orphans[i] < orphans[j]
	})
	if len(orphans) == 0 {
		return out
	}
	// the conversations each session already has: [first, last], read
	// only for the sessions an orphan's peer names
	type span struct{ first, last time.Time }
	spans := map[*ocSession][]span{}
	current := map[*ocSession]time.Time{} // header time of the key's current transcript
	filesOf := map[*ocSession][]string{}
	for _, f := range sortedKeys(claimed) {
		filesOf[claimed[f]] = append(filesOf[claimed[f]], f)
	}
	read := map[*ocSession]bool{}
	readSpans := func(s *ocSession) {
		if read[s] {
			return
		}
		read[s] = true
		for _, f := range filesOf[s] {
			t := od.trans[f]
			if t == nil {
				continue
			}
			first, last := transcriptSpan(t)
			spans[s] = append(spans[s], span{first, last})
			if od.kinds[f] == "live" && len(s.gens) > 0 && s.gens[0] == f {
				current[s] = first
			}
		}
	}
	// each entry's session and peers, once
	bySID := map[string]*ocSession{}
	for _, f := range sortedKeys(claimed) {
		if _, ok := bySID[sessionIDOf(f)]; !ok {
			bySID[sessionIDOf(f)] = claimed[f]
		}
	}
	type cand struct {
		s     *ocSession
		chans map[string]bool
		ids   map[string]bool
	}
	var cands []cand
	for _, e := range od.entries {
		s := bySID[e.sessionID]
		if s == nil && e.fileBase != "" {
			s = claimed[e.fileBase]
		}
		if s == nil {
			continue
		}
		chans, ids := entryPeers(e)
		cands = append(cands, cand{s, chans, ids})
	}
	// candidates by channel and id, and by id alone (for an envelope that
	// names no channel)
	byPeer, byID := map[string][]int{}, map[string][]int{}
	for i, c := range cands {
		for id := range c.ids {
			byID[id] = append(byID[id], i)
			for ch := range c.chans {
				byPeer[ch+"\x00"+id] = append(byPeer[ch+"\x00"+id], i)
			}
		}
	}
	for _, n := range orphans {
		ev := evs[n]
		if k := od.kinds[n]; k != "live" && k != "reset" {
			out[n] = orphanLink{why: "it is the transcript of a deleted session (the store dropped its key)"}
			continue
		}
		if len(ev.peers) == 0 {
			out[n] = orphanLink{why: "its user messages carry no channel envelope naming a peer (cron, heartbeat, webchat or a bare greeting)"}
			continue
		}
		var fits []*ocSession
		var near []string // keys matching the peer but not the time
		seen := map[*ocSession]bool{}
		hit := map[int]bool{}
		for ch, ids := range ev.peers {
			for id := range ids {
				list := byPeer[ch+"\x00"+id]
				if ch == anyChannel {
					list = byID[id]
				}
				for _, i := range list {
					hit[i] = true
				}
			}
		}
		idx := make([]int, 0, len(hit))
		for i := range hit {
			idx = append(idx, i)
		}
		sort.Ints(idx) // store order, as the entries were sorted
		for _, i := range idx {
			s := cands[i].s
			if seen[s] || !topicMatches(ev, s) {
				continue
			}
			seen[s] = true
			readSpans(s)
			cur, ok := current[s]
			switch {
			case !ok || cur.IsZero() || ev.last.IsZero():
				near = append(near, s.key+" (its current transcript has no start time to compare)")
				continue
			case ev.last.After(cur):
				near = append(near, fmt.Sprintf("%s (its current transcript began %s, before this one ended %s)", s.key, cur.Format(time.RFC3339), ev.last.Format(time.RFC3339)))
				continue
			}
			overlap := false
			for _, sp := range spans[s] {
				if !ev.first.After(sp.last) && !sp.first.After(ev.last) {
					overlap = true
				}
			}
			if overlap {
				near = append(near, s.key+" (it overlaps a conversation already linked to that key)")
				continue
			}
			fits = append(fits, s)
		}
		peer := describePeers(ev)
		switch len(fits) {
		case 1:
			s := fits[0]
			readSpans(s)
			spans[s] = append(spans[s], span{ev.first, ev.last})
			topic := ""
			if ev.topic != "" {
				topic = " in topic " + ev.topic
			}
			out[n] = orphanLink{to: s, why: fmt.Sprintf("orphaned transcript (left unreferenced by a reset): its envelopes name %s%s, and %s is the one key whose store entry holds that peer and whose later conversations all began after it ended", peer, topic, s.key)}
		case 0:
			why := fmt.Sprintf("its envelopes name %s, which no store entry of agent %s holds", peer, od.agent)
			if len(near) > 0 {
				why = fmt.Sprintf("its envelopes name %s, but the time does not fit: %s", peer, strings.Join(near, "; "))
			}
			out[n] = orphanLink{why: why}
		default:
			keys := make([]string, len(fits))
			for i, s := range fits {
				keys[i] = s.key
			}
			sort.Strings(keys)
			out[n] = orphanLink{why: fmt.Sprintf("its envelopes name %s, which several keys hold and whose times all fit (%s): which one cannot be decided", peer, strings.Join(keys, ", "))}
		}
	}
	return out
}

// topicMatches: an orphan begun in a topic or thread belongs to a key of
// that topic; one without belongs to a key without.
func topicMatches(ev ocEvidence, s *ocSession) bool {
	k := strings.ToLower(s.key)
	has := strings.Contains(k, ":topic:") || strings.Contains(k, ":thread:")
	if ev.topic == "" {
		return !has
	}
	return strings.HasSuffix(k, ":topic:"+ev.topic) || strings.HasSuffix(k, ":thread:"+ev.topic)
}

func describePeers(ev ocEvidence) string {
	var parts []string
	for _, ch := range sortedKeys(ev.peers) {
		parts = append(parts, ch+" "+strings.Join(sortedKeys(ev.peers[ch]), ", "))
	}
	return strings.Join(parts, "; ")
}
