package workspace

import (
	"context"
	"time"

	"github.com/picosess/picosess/keying"
	"github.com/picosess/picosess/workspace/policy"
)

// PolicyReport is every lifecycle setting that applies to one session,
// where each came from, and what they decide now: the answer of
// picosess policy and of the HTTP API's policy route.
type PolicyReport struct {
	ID string `json:"id"`
	// Agent, Channel and ChatType are what the cascades look at.
	Agent    string `json:"agent"`
	Channel  string `json:"channel"`
	ChatType string `json:"chat_type"`
	// Reset are the effective reset settings.
	Reset policy.Effective `json:"reset"`
	// LastMessage is the time of the last message of the current
	// conversation (zero when it is empty).
	LastMessage time.Time `json:"last_message,omitzero"`
	// At is the time the next message is assumed to arrive.
	At time.Time `json:"at"`
	// Next says whether a user message arriving At would start a new
	// conversation, and why.
	Next policy.Decision `json:"next"`
	// Send says whether an assistant may send into the session.
	Send policy.SendDecision `json:"send"`
	// Limits bound the active history an assistant reads.
	Limits policy.Limits `json:"limits"`
	// ExpirySeconds is the inactivity after which cleanup moves the
	// session to the trash (cleanup.older_than or cleanup.ttl; 0 never),
	// and ExpiresAt when that is, from the session's last message (or its
	// return from the trash, when later).
	ExpirySeconds int64     `json:"expiry_seconds"`
	ExpiresAt     time.Time `json:"expires_at,omitzero"`
}

// Policy reports the lifecycle policy of the session and what it decides
// for a user message arriving at (zero: now, by the workspace clock). It
// asks the same evaluation AppendTurn applies, and writes nothing.
func (s *Session) Policy(ctx context.Context, at time.Time) (PolicyReport, error) {
	if at.IsZero() {
		at = s.w.opts.Now()
	}
	t, h := s.policyTarget(ctx)
	rep := PolicyReport{ID: s.id, Agent: t.Agent, Channel: t.Channel, ChatType: t.ChatType, At: at.UTC(),
		Reset: s.effective(), Send: s.send(t, h), Limits: policy.ResolveLimits(s.w.opts.Config, t.Agent)}
	hist, err := s.History(ctx, 1)
	if err != nil {
		return PolicyReport{}, err
	}
	st := policyState(hist)
	rep.LastMessage = st.LastMessage
	rep.Next = policy.Evaluate(rep.Reset, st, policy.Arrival{Role: RoleUser, At: at})
	if exp := s.w.opts.Config.Cleanup.Expiry(); exp > 0 {
		rep.ExpirySeconds = int64(exp / time.Second)
		if m, err := s.Meta(ctx); err == nil && !m.Updated.IsZero() {
			from := m.Updated
			if at, err := s.untrashedAt(ctx); err == nil && at.After(from) {
				from = at // brought back from the trash since: cleanup counts from then
			}
			rep.ExpiresAt = from.Add(exp).UTC()
		}
	}
	return rep, nil
}

// MaySend says whether an assistant may send into the session under the
// config's send_policy (the first matching rule wins; the default is
// allow). Storage never depends on it: an inbound message is always kept.
func (s *Session) MaySend(ctx context.Context) policy.SendDecision {
	t, h := s.policyTarget(ctx)
	return s.send(t, h)
}

func (s *Session) send(t policy.Target, h Record) policy.SendDecision {
	st := policy.SendTarget{Agent: t.Agent, Channel: t.Channel, ChatType: t.ChatType, Name: h.Name, Keys: []string{s.id}}
	if h.Scope != nil {
		st.Keys = append(st.Keys, keying.Signature(*h.Scope))
	}
	st.Keys = append(st.Keys, h.Aliases...)
	return policy.Send(s.w.opts.Config.SendPolicy, st)
}

// policyState is what the reset evaluation needs of an active history:
// the time of its last message. A conversation whose every message is
// summarized dates from its summary; a summary carried over by a reset
// (through 0) is not a message of this conversation.
func policyState(h History) policy.State {
	var st policy.State
	switch n := len(h.Messages); {
	case n > 0:
		st.LastMessage = h.Messages[n-1].At
	case h.Summary != nil && h.Summary.Through > 0:
		st.LastMessage = h.Summary.At
	}
	return st
}

// policyTarget is what the cascades look at, from the session's header
// (or the header it will be created with): its agent, channel and chat
// type. A named session is of agent main, chat type "named"; a session
// without a scope or a name counts as direct.
func (s *Session) policyTarget(ctx context.Context) (policy.Target, Record) {
	h := s.header
	if hr, err := s.Header(ctx); err == nil {
		h = hr
	}
	t := policy.Target{Agent: "main"}
	switch {
	case h.Scope != nil:
		t.Agent, t.Channel, t.ChatType = h.Scope.AgentID, h.Scope.Channel, policy.ChatTypeOf(h.Scope.Values)
	case h.Name != "":
		t.ChatType = "named"
	default:
		t.ChatType = "direct"
	}
	return t, h
}

// effective is the reset policy of the session, resolved once per
// process from the config and the session's scope.
func (s *Session) effective() policy.Effective {
	s.st.polMu.Lock()
	defer s.st.polMu.Unlock()
	if s.st.pol != nil {
		return *s.st.pol
	}
	t, _ := s.policyTarget(context.Background())
	e := policy.Resolve(s.w.opts.Config, t, s.w.opts.Location)
	s.st.pol = &e
	return e
}
