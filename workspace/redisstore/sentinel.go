package redisstore

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/picosess/picosess/workspace"
)

// Failover: a redis+sentinel:// URL names the Sentinels that watch a
// primary and its replicas, and the primary's name:
//
//	redis+sentinel://[user:password@]host:port[,host:port...]/mastername[/db][?options]
//
// (rediss+sentinel:// for TLS). The client asks the Sentinels where the
// primary is, and again when they announce a failover; the password is
// the servers' (the Sentinels' own, if they require one, is
// Options.SentinelPassword). Appends during a failover fail with
// workspace.ErrStoreUnavailable and are retried with their token as after
// any lost connection. Replication is asynchronous: an append the old
// primary acknowledged but had not passed on is lost by a failover, unless
// MinReplicas makes an append wait for that many replicas (WAIT).

// ErrNotReplicated wraps (with workspace.ErrStoreUnavailable) the failure
// of an append that the primary stored but fewer than MinReplicas replicas
// acknowledged within WaitTimeout: it was not acknowledged, and a failover
// may lose it. Retried with its token it is not stored twice, and succeeds
// once the replicas have it.
var ErrNotReplicated = errors.New("redisstore: not acknowledged by enough replicas")

func isSentinel(scheme string) bool {
	return scheme == "redis+sentinel" || scheme == "rediss+sentinel"
}

// failoverOptions reads a redis+sentinel:// URL (our options already
// taken from its query) into go-redis's FailoverOptions.
func failoverOptions(u *url.URL) (*redis.FailoverOptions, error) {
	hosts := strings.Split(u.Host, ",")
	for _, h := range hosts {
		if _, _, err := net.SplitHostPort(h); err != nil {
			return nil, fmt.Errorf("sentinel address %q: want host:port", h)
		}
	}
	parts := strings.FieldsFunc(u.Path, func(r rune) bool { return r == '/' })
	if len(parts) == 0 || len(parts) > 2 {
		return nil, errors.New("want redis+sentinel://host:port[,host:port]/mastername[/db]")
	}
	q := u.Query()
	if q.Has("master_name") || q.Has("password") {
		return nil, errors.New("name the master in the path and the password in the user part, not in the query")
	}
	q.Set("master_name", parts[0])
	if len(parts) == 2 {
		if _, err := strconv.Atoi(parts[1]); err != nil {
			return nil, fmt.Errorf("database %q is not a number", parts[1])
		}
		q.Set("db", parts[1])
	}
	for _, h := range hosts[1:] {
		q.Add("addr", h)
	}
	g := url.URL{Scheme: strings.TrimSuffix(u.Scheme, "+sentinel"), Host: hosts[0], RawQuery: q.Encode()}
	fo, err := redis.ParseFailoverURL(g.String())
	if err != nil {
		return nil, err
	}
	if u.User != nil {
		fo.Username = u.User.Username()
		fo.Password, _ = u.User.Password()
	}
	return fo, nil
}

// waitReplicas is the WAIT that follows an append when MinReplicas is set,
// sent in the same round trip on the same connection (WAIT counts the
// replicas that have everything this connection wrote).
func (s *Store) waitReplicas(ctx context.Context, pipe redis.Pipeliner) *redis.Cmd {
	return pipe.Do(ctx, "wait", s.minRepl, s.waitFor.Milliseconds())
}

// replicated checks a WAIT's answer.
func (s *Store) replicated(id string, w *redis.Cmd) error {
	n, err := w.Int64()
	if err != nil {
		return s.fail("wait for replicas of "+id+" at", err)
	}
	if int(n) < s.minRepl {
		return fmt.Errorf("redisstore: append to %s at %s: %d of %d replicas within %s: %w: %w", id, s.addr, n, s.minRepl, s.waitFor, workspace.ErrStoreUnavailable, ErrNotReplicated)
	}
	return nil
}

// waitIf is how long an append's WAIT may block (0 without MinReplicas).
func (s *Store) waitIf() time.Duration {
	if s.minRepl == 0 {
		return 0
	}
	return s.waitFor
}

// waitReadTimeout makes sure a WAIT's timeout fits in a read's.
func waitReadTimeout(read, wait time.Duration) time.Duration {
	if wait > 0 && read > 0 && read < wait+time.Second {
		return wait + time.Second
	}
	return read
}

// Replication is what the primary says of its replicas (check).
type Replication struct {
	MinReplicas int `json:"min_replicas"` // the store's setting
	Connected   int `json:"connected"`    // replicas the primary has now
}

// Warning says why appends would fail or not survive a failover, or "".
func (r Replication) Warning() string {
	if r.MinReplicas > 0 && r.Connected < r.MinReplicas {
		return fmt.Sprintf("min_replicas is %d but the primary has %d replica(s) connected: every append fails until enough replicas follow it (docs/redis.md)", r.MinReplicas, r.Connected)
	}
	return ""
}

// Replication reads INFO replication of the primary; nil on a Cluster
// (min_replicas is refused there).
func (s *Store) Replication(ctx context.Context) (*Replication, error) {
	if s.cluster {
		return nil, nil
	}
	info, err := s.c.Info(ctx, "replication").Result()
	if err != nil {
		return nil, s.fail("replication of", err)
	}
	r := &Replication{MinReplicas: s.minRepl}
	for _, line := range strings.Split(info, "\n") {
		if v, ok := strings.CutPrefix(strings.TrimSpace(line), "connected_slaves:"); ok {
			r.Connected, _ = strconv.Atoi(v)
		}
	}
	return r, nil
}
