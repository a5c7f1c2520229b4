package main

import (
	"fmt"
	"math/rand/v2"
	"strings"
	"time"

	"github.com/spf13/cobra"
)

// The named session of append when it is given no SESSION, --session or
// route, as the Redis chat CLI does it: $PICOSESS_SESSION, else the
// config's session.name, else a new session with a generated name.

// envSession names the default session of append.
const envSession = "PICOSESS_SESSION"

// defaultSessionName chooses the session append writes to when the
// command line names none; generated is true for a new generated name.
// Scope flags other than --sender (which says who wrote the message)
// need --channel.
func (a *app) defaultSessionName(cmd *cobra.Command) (name string, generated bool, err error) {
	for _, n := range []string{"agent", "account", "chat-type", "chat", "topic", "space-type", "space", "dimensions", "scope", "mentioned"} {
		if cmd.Flags().Changed(n) {
			return "", false, usageErrorf("which session? --%s is part of a route, which needs --channel C (see picosess key); or give SESSION or --session NAME", n)
		}
	}
	if n := strings.TrimSpace(a.getenv(envSession)); n != "" {
		return n, false, nil
	}
	cfg, err := a.loadConfig()
	if err != nil {
		return "", false, err
	}
	if n := strings.TrimSpace(cfg.Session.Name); n != "" {
		return n, false, nil
	}
	return generateSessionName(time.Now()), true, nil
}

// generateSessionName is session-<unix ms>-<4 random hex digits>: names
// sort by creation time (the milliseconds have 13 digits until the year
// 2286), and two made in the same millisecond differ.
func generateSessionName(now time.Time) string {
	return fmt.Sprintf("session-%d-%04x", now.UnixMilli(), rand.N(0x10000))
}

// noteGeneratedSession tells on stderr which session was created and how
// to continue it.
func (a *app) noteGeneratedSession(name, id string) {
	fmt.Fprintf(a.stderr, "new session %s (%s); continue it with --session %s or %s=%s\n", name, shortID(id), name, envSession, name)
}

// currentSession is the SESSION argument of a command that reads or
// changes one session: the argument when given, else the session
// $PICOSESS_SESSION names, else config.json's session.name, as append
// writes to; with none of them, a usage error that says so.
func (a *app) currentSession(args []string) (string, error) {
	if len(args) > 0 {
		return args[0], nil
	}
	if n := strings.TrimSpace(a.getenv(envSession)); n != "" {
		return n, nil
	}
	cfg, err := a.loadConfig()
	if err != nil {
		return "", err
	}
	if n := strings.TrimSpace(cfg.Session.Name); n != "" {
		return n, nil
	}
	return "", usageErrorf("which session? give SESSION, or set %s (or session.name in config.json) to the session to use", envSession)
}
