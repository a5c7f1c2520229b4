package summarize

import (
	"bytes"
	"encoding/json"
	"fmt"

	"github.com/picosess/picosess/workspace"
)

// FromConfig turns one agent's settings from config.json (as
// workspace.Config.Agent returns them) into Settings. Unset fields stay
// zero (defaults); an explicit 0 for keep_recent means "keep none"
// (Disabled). The summarizer block is decoded strictly: an unknown field is
// an error naming it.
func FromConfig(a workspace.AgentConfig) (Settings, error) {
	var s Settings
	get := func(p *int) int {
		if p == nil {
			return 0
		}
		if *p == 0 {
			return Disabled
		}
		return *p
	}
	c := a.Summarize
	s.MessageThreshold = get(c.MessageThreshold)
	s.TokenPercent = get(c.TokenPercent)
	s.ContextWindow = get(c.ContextWindow)
	s.KeepRecent = get(c.KeepRecent)
	s.Limits.MaxMessages = get(a.Limits.MaxMessages)
	s.Limits.MaxTokens = get(a.Limits.MaxTokens)
	switch c.Encoding {
	case "":
	case CounterEstimate:
		s.Counter = CounterEstimate
	default:
		s.Counter, s.Encoding = CounterTiktoken, c.Encoding
	}
	if raw := bytes.TrimSpace(c.Summarizer); len(raw) > 0 && string(raw) != "null" {
		dec := json.NewDecoder(bytes.NewReader(raw))
		dec.DisallowUnknownFields()
		if err := dec.Decode(&s.Summarizer); err != nil {
			return Settings{}, fmt.Errorf("%w: summarize.summarizer: %v", ErrSettings, err)
		}
	}
	if err := s.Validate(); err != nil {
		return Settings{}, err
	}
	return s, nil
}
