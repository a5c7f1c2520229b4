package redisstore

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"strings"
	"sync"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/picosess/picosess/workspace"
)

// Leases (Session.TryLock): the key P{<id>}:lease:<name>, under the
// session's hash tag, set with SET NX PX to the holder's text and a random
// token; renewed every third of its time to live while held, and deleted
// on release, both only while it still holds that value (scripts), so a
// holder never extends or removes a lease another has taken since its own
// expired.

// renewScript: KEYS: the lease. ARGV: value, ttl (ms).
var renewScript = redis.NewScript(`
if redis.call('GET', KEYS[1]) == ARGV[1] then
  return redis.call('PEXPIRE', KEYS[1], ARGV[2])
end
return 0
`)

// releaseScript: KEYS: the lease. ARGV: value.
var releaseScript = redis.NewScript(`
if redis.call('GET', KEYS[1]) == ARGV[1] then
  return redis.call('DEL', KEYS[1])
end
return 0
`)

// LeaseKey is the key of lease name of session id (tests, operators).
func (s *Store) LeaseKey(id, name string) string { return s.key(id, "lease:"+name) }

// TryLock takes lease name of session id without waiting (workspace.Store).
func (s *Store) TryLock(ctx context.Context, id, name, holder string) (workspace.Lease, error) {
	var b [12]byte
	_, _ = rand.Read(b[:])
	val := holder + " token " + hex.EncodeToString(b[:])
	key := s.LeaseKey(id, name)
	ok, err := s.c.SetNX(ctx, key, val, s.lockTTL).Result()
	if err != nil {
		return nil, s.fail("take lease "+name+" of "+id+" at", err)
	}
	if !ok {
		return nil, nil
	}
	l := &lease{s: s, key: key, val: val, lost: make(chan struct{}), stop: make(chan struct{}), done: make(chan struct{})}
	go l.renew(time.Now())
	return l, nil
}

type lease struct {
	s        *Store
	key, val string
	lost     chan struct{} // closed when the lease could not be kept
	stop     chan struct{} // closed by Release
	done     chan struct{} // closed when renew returns
	once     sync.Once
}

func (l *lease) Lost() <-chan struct{} { return l.lost }

// renew extends the lease every third of its time to live. When the key
// holds another value (expired and taken) or it could not be renewed
// before it would have expired, the lease is lost.
func (l *lease) renew(taken time.Time) {
	defer close(l.done)
	ttl := l.s.lockTTL
	every := ttl / 3
	t := time.NewTicker(every)
	defer t.Stop()
	good := taken // the last time the server confirmed the lease
	for {
		select {
		case <-l.stop:
			return
		case <-t.C:
		}
		ctx, cancel := context.WithTimeout(context.Background(), every)
		n, err := renewScript.Run(ctx, l.s.c, []string{l.key}, l.val, ttl.Milliseconds()).Int64()
		cancel()
		switch {
		case err == nil && n == 1:
			good = time.Now()
		case err == nil:
			close(l.lost) // expired, and perhaps taken by another
			return
		case time.Since(good) >= ttl-every/2:
			close(l.lost) // could not be renewed in time: assume expired
			return
		}
	}
}

// Release stops the renewal and deletes the lease if it is still ours.
func (l *lease) Release() {
	l.once.Do(func() {
		close(l.stop)
		<-l.done
		select {
		case <-l.lost:
			return
		default:
		}
		ctx, cancel := context.WithTimeout(context.Background(), l.s.lockTTL/3)
		defer cancel()
		// A release that cannot reach the server leaves the lease to
		// expire on its own.
		_ = releaseScript.Run(ctx, l.s.c, []string{l.key}, l.val).Err()
	})
}

// LeaseHolder returns the holder text of lease name of session id, ""
// when it is not held.
func (s *Store) LeaseHolder(ctx context.Context, id, name string) (string, error) {
	v, err := s.c.Get(ctx, s.LeaseKey(id, name)).Result()
	if errors.Is(err, redis.Nil) {
		return "", nil
	}
	if err != nil {
		return "", s.fail("read lease "+name+" of "+id+" at", err)
	}
	holder, _, _ := strings.Cut(v, " token ")
	return holder, nil
}
