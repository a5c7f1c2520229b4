package index

import "github.com/picosess/picosess/workspace"

// Internal keys of the index (bleve's key/value store beside the
// documents, written in the same batch as them).
const (
	keyFormat    = "picosess:format"
	formatValue  = `{"format":5}` // 2: tool and failed fields; 3: watermarks in picosess-state.bolt; 4: documents keyed by session number; 5: keys that sort as (number, seq)
	formatNumber = 5
)

// Watermark is how far the index has read one session file, stored in
// picosess-state.bolt (store.go) after the batch of documents it accounts
// for: after a crash it is behind them, never ahead.
type Watermark struct {
	// Offset is just after the last complete line indexed: reading resumes
	// there.
	Offset int64 `json:"offset"`
	// File is the identity of the file when it was last read; a file that
	// no longer Continues it is indexed again from the start.
	File    workspace.Identity `json:"file"`
	LastSeq int64              `json:"last_seq"`
	// Segment is the current conversation: the number of resets read.
	Segment int `json:"segment"`
	// Title is the text of the last title record ("" for none, or for a
	// title record that brought the default back); FirstUser is the
	// default title, the first user message.
	Title     string `json:"title,omitempty"`
	FirstUser string `json:"first_user,omitempty"`
	// Scope of the header, copied into every document.
	Agent   string `json:"agent,omitempty"`
	Channel string `json:"channel,omitempty"`
	Account string `json:"account,omitempty"`
	Chat    string `json:"chat,omitempty"`
	Topic   string `json:"topic,omitempty"`
	Sender  string `json:"sender,omitempty"` // scope value "sender", for messages without one
	Docs    int64  `json:"docs"`             // documents indexed for this session
	// Num is the session's number in this index, part of its documents'
	// ids (docKey); given when the session is first read and kept until
	// its watermark is deleted, never given to another session.
	Num uint64 `json:"num"`
}

// DisplayTitle is the title a hit shows.
func (w *Watermark) DisplayTitle() string {
	if w.Title != "" {
		return w.Title
	}
	return w.FirstUser
}
