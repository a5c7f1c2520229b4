package redisstore

import (
	"context"
	"fmt"
	"strings"
	"sync"

	"github.com/redis/go-redis/v9"
)

// Persistence is what a Redis server keeps on disk (docs/redis.md): an
// append only file (AOF) and how often it is fsynced, and RDB snapshots.
type Persistence struct {
	AOF   bool   `json:"aof"`
	Fsync string `json:"appendfsync,omitempty"` // always, everysec, no; "" unknown
	// Save is the RDB save points ("" none); Unknown when CONFIG GET is
	// refused (managed services).
	Save    string `json:"save,omitempty"`
	Unknown bool   `json:"unknown,omitempty"`
}

// Off says that nothing is kept: a restart loses every session.
func (p Persistence) Off() bool { return !p.Unknown && !p.AOF && strings.TrimSpace(p.Save) == "" }

// Warning says what a crash or restart of the server loses under these
// settings; "" for AOF with appendfsync always.
func (p Persistence) Warning() string {
	switch {
	case p.Unknown:
		return "the server's persistence settings cannot be read (CONFIG GET refused): make sure it runs with appendonly yes and appendfsync always (docs/redis.md)"
	case p.Off():
		return "the server runs with persistence off (appendonly no, no save points): a restart of Redis loses every session; set appendonly yes and appendfsync always (docs/redis.md)"
	case !p.AOF:
		return fmt.Sprintf("the server keeps only RDB snapshots (save %q): a crash loses every append since the last snapshot; set appendonly yes and appendfsync always (docs/redis.md)", p.Save)
	case p.Fsync == "everysec":
		return "appendfsync everysec: a power loss or kernel crash may lose up to about a second of acknowledged appends (a crash of Redis alone loses none); appendfsync always loses none (docs/redis.md)"
	case p.Fsync == "no":
		return "appendfsync no: a power loss or kernel crash may lose the appends of the last ~30 seconds the OS had not written; appendfsync always loses none (docs/redis.md)"
	}
	return ""
}

// Persistence reads the server's persistence settings (on a Cluster: the
// least durable of its masters).
func (s *Store) Persistence(ctx context.Context) (Persistence, error) {
	if cc, ok := s.c.(*redis.ClusterClient); ok {
		var mu sync.Mutex
		var worst *Persistence
		err := cc.ForEachMaster(ctx, func(ctx context.Context, c *redis.Client) error {
			p, err := persistenceOf(ctx, c)
			if err != nil {
				return err
			}
			mu.Lock()
			defer mu.Unlock()
			if worst == nil || rank(p) < rank(*worst) {
				worst = &p
			}
			return nil
		})
		if err != nil {
			return Persistence{}, s.fail("persistence of", err)
		}
		if worst == nil {
			return Persistence{Unknown: true}, nil
		}
		return *worst, nil
	}
	p, err := persistenceOf(ctx, s.c)
	if err != nil {
		return p, s.fail("persistence of", err)
	}
	return p, nil
}

func rank(p Persistence) int {
	switch {
	case p.Off():
		return 0
	case p.Unknown:
		return 1
	case !p.AOF:
		return 2
	case p.Fsync == "no":
		return 3
	case p.Fsync == "everysec":
		return 4
	}
	return 5
}

func persistenceOf(ctx context.Context, c redis.Cmdable) (Persistence, error) {
	var p Persistence
	m, err := c.ConfigGet(ctx, "appendonly").Result()
	if err != nil {
		if strings.Contains(err.Error(), "unknown command") || strings.Contains(err.Error(), "NOPERM") || strings.Contains(err.Error(), "ERR") {
			return persistenceFromInfo(ctx, c)
		}
		return p, err
	}
	p.AOF = m["appendonly"] == "yes"
	if m, err = c.ConfigGet(ctx, "appendfsync").Result(); err == nil {
		p.Fsync = m["appendfsync"]
	}
	if m, err = c.ConfigGet(ctx, "save").Result(); err == nil {
		p.Save = m["save"]
	}
	return p, nil
}

// persistenceFromInfo: INFO says whether AOF is on, not how it syncs.
func persistenceFromInfo(ctx context.Context, c redis.Cmdable) (Persistence, error) {
	info, err := c.Info(ctx, "persistence").Result()
	if err != nil {
		return Persistence{}, err
	}
	p := Persistence{Unknown: true}
	for _, line := range strings.Split(info, "\n") {
		if v, ok := strings.CutPrefix(strings.TrimSpace(line), "aof_enabled:"); ok {
			p.AOF = v == "1"
		}
	}
	return p, nil
}
