package keying

// The channel and account of a shared session: the one session that the
// direct messages of a person (an identity-links name with sharedSession)
// share across every channel and account of an agent.
//
// SharedAccount is what keeps shared sessions apart from every routed
// one: a routed scope's account is always NormalizeAccountID's output,
// [a-z0-9][a-z0-9_-]{0,63}, which never equals "*". The channel is a
// plain word so that listings and reset.by_channel can name it; a real
// channel called "shared" still gets its own sessions, because its
// account is never "*".
const (
	SharedChannel = "shared"
	SharedAccount = "*"
)

// SharedScope returns the scope of the session that the direct messages
// of canonical (an identity-links name, lowercased) share across every
// channel and account of agent:
//
//	v=1|agent=<agent>|channel=shared|account=*|sender=<canonical>
//
// Its id is Opaque of that signature, like any scope's, so Scope.ID, the
// session header and `picosess check` agree on it. An empty canonical name
// has no shared session: the scope then carries no sender value.
func SharedScope(agent, canonical string) Scope {
	s := Scope{Version: ScopeVersion, AgentID: NormalizeAgentID(agent), Channel: SharedChannel, Account: SharedAccount}
	if c := lower(canonical); c != "" {
		s.Dimensions = []string{DimSender}
		s.Values = map[string]string{DimSender: c}
	}
	return s
}

// sharedMatchedBy is Route.MatchedBy of a shared session.
func sharedMatchedBy(canonical string) string { return "identity_links:" + canonical + ":shared" }
