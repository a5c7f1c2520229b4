package migrate

import (
	"regexp"
	"sort"
	"strings"

	"github.com/picosess/picosess/keying"
)

// A PicoClaw file name is its raw key with ':', '/' and '\' replaced by '_'
// (docs/migration.md §3, "Keys read from file names"). When the key inside
// the file or its meta is gone, the name is the only evidence left: stemKey
// reads it back when exactly one reading is clean, and lists the readings
// otherwise.

// maxStemSeparators bounds the readings tried (3^n): real keys have fewer.
const maxStemSeparators = 10

// underscoreChannels are channel names that hold a '_' themselves, so that
// a '_' in a file name next to them may be part of the name.
var underscoreChannels = map[string]bool{
	"whatsapp_native": true, "wecom_app": true, "wecom_aibot": true,
	"slack_webhook": true, "teams_webhook": true, "google_chat": true,
}

// stemChannels are the channels whose pre-routing keys <channel>:<chat>
// were written to disk; a stem <channel>_<chat> reads back as that key.
var stemChannels = map[string]bool{
	"telegram": true, "discord": true, "slack": true, "whatsapp": true, "feishu": true, "line": true,
	"qq": true, "dingtalk": true, "onebot": true, "wecom": true, "weixin": true, "matrix": true,
	"irc": true, "vk": true, "maixcam": true, "cli": true, "pico": true,
}

var stemChannelRe = regexp.MustCompile(`^[a-z0-9][a-z0-9_-]*$`)

// stemKey reads a raw key back from a file stem. key is set when exactly one
// reading is clean: every '_' of the name a ':' of the key, except where a
// known channel name or a Telegram topic ('/') needs it otherwise, and no
// id holding '_', ':' or '/'. Otherwise candidates lists the readings that
// parse as a legacy key, clean or not, those with an agent id holding '_'
// only when there is no other (none: the name is no key at all).
func stemKey(stem string) (key string, candidates []string) {
	if keying.IsID(stem) {
		return stem, nil
	}
	if strings.Contains(stem, ":") {
		return stem, nil // names before 2026-02-15 kept the key's ':'
	}
	if strings.ContainsAny(stem, "/\\") {
		return "", nil // not a sanitized name
	}
	tokens := strings.Split(stem, "_")
	if tokens[0] != "agent" {
		// a pre-routing <channel>:<chat> key
		if len(tokens) == 2 && stemChannels[tokens[0]] && tokens[1] != "" {
			return tokens[0] + ":" + tokens[1], nil
		}
		return "", nil
	}
	if len(tokens) < 2 || len(tokens)-1 > maxStemSeparators {
		return "", nil
	}
	var clean, plainAgent []string
	seps := []string{":", "_", "/"}
	var walk func(i int, b string)
	walk = func(i int, b string) {
		if i == len(tokens) {
			valid, isClean := stemReading(b)
			if isClean {
				clean = append(clean, b)
			}
			if valid {
				candidates = append(candidates, b)
				if !strings.Contains(strings.Split(b, ":")[1], "_") {
					plainAgent = append(plainAgent, b)
				}
			}
			return
		}
		for _, s := range seps {
			walk(i+1, b+s+tokens[i])
		}
	}
	walk(1, tokens[0])
	if len(clean) == 1 {
		return clean[0], nil
	}
	// an agent id holding '_' is possible but rare: list such readings only
	// when there is no other
	if len(plainAgent) > 0 {
		candidates = plainAgent
	}
	sort.Strings(candidates)
	return "", candidates
}

// stemReading says whether k parses as a key PicoClaw writes to disk with
// plausible parts (valid), and whether none of its parts would itself hold
// a separator (clean).
func stemReading(k string) (valid, clean bool) {
	if !strings.HasPrefix(k, "agent:") {
		return false, false
	}
	lk, err := keying.ParseLegacy(k)
	if err != nil || lk.Thread != "" || strings.Contains(k, ":topic:") {
		return false, false
	}
	segs := strings.Split(k, ":")
	agent := segs[1]
	if agent == "" || keying.NormalizeAgentID(agent) != agent {
		return false, false
	}
	clean = !strings.ContainsAny(agent, "_/")
	if lk.Channel != "" {
		if !stemChannelRe.MatchString(lk.Channel) {
			return false, false
		}
		clean = clean && (!strings.Contains(lk.Channel, "_") || underscoreChannels[lk.Channel])
	}
	if lk.Account != "" {
		if keying.NormalizeAccountID(segs[3]) != segs[3] {
			return false, false
		}
		clean = clean && !strings.ContainsAny(segs[3], "_/")
	}
	idClean := func(id string) bool { return id != "" && !strings.ContainsAny(id, "_:/") }
	switch lk.Shape {
	case keying.ShapeMain:
		return len(segs) == 3, clean && len(segs) == 3
	case keying.ShapePeer, keying.ShapeChannelPeer, keying.ShapeAccountChannelPeer:
		if lk.Peer == "" || strings.Contains(lk.Peer, "/") {
			return false, false
		}
		return true, clean && idClean(lk.Peer)
	case keying.ShapePicoWeb:
		return true, clean && idClean(strings.TrimPrefix(lk.ChatID, "pico:"))
	case keying.ShapeChat:
		if lk.ChatType != "group" && lk.ChatType != "channel" || lk.ChatID == "" {
			return false, false
		}
		// a '/' is a topic only on Telegram; elsewhere it stays in the id
		return true, clean && idClean(lk.ChatID) && (lk.Topic == "" || idClean(lk.Topic))
	case keying.ShapeCronRun:
		return true, clean && len(segs) == 2
	}
	return false, false
}
