package summarize

import (
	"context"
	"fmt"
	"os"
	"sync"

	"github.com/picosess/picosess/keying"
	"github.com/picosess/picosess/workspace"
	"github.com/picosess/picosess/workspace/config"
)

// Compactors gives each session of a workspace the Compactor that its
// agent's settings in the workspace config call for (the summarize block,
// laid over by agents.defaults and the agent's agents.list entry, with the
// limits): the counter and the summarizer they name. It is what picosess
// summarize and picosess context use, so an assistant that calls it
// summarizes and builds contexts exactly as the CLI does.
//
//	cs := summarize.ForWorkspace(w)
//	k, err := cs.For(ctx, s) // the settings of s's agent
//	out, err := k.Maybe(ctx, s)
//
// Compactors are built once per agent and counters once per counter and
// encoding, then shared. A Compactors is safe for concurrent use.
type Compactors struct {
	cfg *config.File
	// Getenv reads the environment variable that an openai summarizer's
	// api_key_env names; nil means os.Getenv. Set it before the first For.
	Getenv func(string) string

	mu       sync.Mutex
	counters map[string]Counter    // by counter kind and encoding
	byAgent  map[string]*Compactor // by normalized agent id
}

// ForWorkspace returns the Compactors of w, reading its settings from
// w.Config() (config.json as Open read it, or Options.Config).
func ForWorkspace(w *workspace.Workspace) *Compactors { return ForConfig(w.Config()) }

// ForConfig returns the Compactors of a workspace config; nil gives every
// agent the default settings.
func ForConfig(cfg *config.File) *Compactors {
	if cfg == nil {
		cfg = &config.File{}
	}
	return &Compactors{cfg: cfg, counters: map[string]Counter{}, byAgent: map[string]*Compactor{}}
}

// For returns the Compactor of the session's agent: the agent of its
// header's scope (Session.Meta), "main" for a session without one.
func (c *Compactors) For(ctx context.Context, s *workspace.Session) (*Compactor, error) {
	m, err := s.Meta(ctx)
	if err != nil {
		return nil, err
	}
	return c.ForAgent(m.Agent)
}

// ForAgent returns the Compactor of one agent; "" is the default agent.
// Settings that cannot be used (a bad summarizer block, an openai
// summarizer whose api_key_env is empty) give an error naming the agent
// and wrapping ErrSettings.
func (c *Compactors) ForAgent(agent string) (*Compactor, error) {
	agent = keying.NormalizeAgentID(agent)
	c.mu.Lock()
	defer c.mu.Unlock()
	if k, ok := c.byAgent[agent]; ok {
		return k, nil
	}
	k, err := c.build(agent)
	if err != nil {
		return nil, fmt.Errorf("config for agent %q: %w", agent, err)
	}
	c.byAgent[agent] = k
	return k, nil
}

// build assembles an agent's Compactor; c.mu is held.
func (c *Compactors) build(agent string) (*Compactor, error) {
	s, err := FromConfig(c.cfg.Agent(agent))
	if err != nil {
		return nil, err
	}
	counter, err := c.counter(s)
	if err != nil {
		return nil, err
	}
	ss := s.WithDefaults().Summarizer
	var sz Summarizer
	if ss.Kind == KindOpenAI {
		getenv := c.Getenv
		if getenv == nil {
			getenv = os.Getenv
		}
		sz, err = NewOpenAI(ss, getenv)
	} else {
		sz, err = New(ss, counter)
	}
	if err != nil {
		return nil, err
	}
	return &Compactor{Settings: s, Counter: counter, Summarizer: sz}, nil
}

// counter returns the counter settings name, built once per kind and
// encoding; c.mu is held.
func (c *Compactors) counter(s Settings) (Counter, error) {
	d := s.WithDefaults()
	key := d.Counter + ":" + d.Encoding
	if k, ok := c.counters[key]; ok {
		return k, nil
	}
	k, err := NewCounter(s)
	if err != nil {
		return nil, err
	}
	c.counters[key] = k
	return k, nil
}
