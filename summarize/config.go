package summarize

import (
	"github.com/picosess/picosess/workspace"
)

// FromConfig returns one agent's summarize settings (as
// workspace.Config.Agent returns them, limits included), validated.
func FromConfig(a workspace.AgentConfig) (Settings, error) {
	s := a.Summarize
	s.Limits = a.Limits
	if err := s.Validate(); err != nil {
		return Settings{}, err
	}
	return s, nil
}
