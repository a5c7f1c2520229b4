package main

import (
	"context"
	"fmt"
	"net/url"
	"strings"
	"time"

	"github.com/picosess/picosess/workspace"
	"github.com/picosess/picosess/workspace/config"
	"github.com/picosess/picosess/workspace/redisstore"
)

// exitStore: the store (Redis) could not be reached, or lost the call
// half-way; an append that exits so was not acknowledged (docs/redis.md).
const exitStore = 14

// Codes of store errors.
const (
	codeStoreUnavailable = "store_unavailable" // exit 14
	codeStoreUnsupported = "store_unsupported" // a files-only command on a Redis store
)

// storeSpec is where the records are: --store, else $PICOSESS_STORE, else
// config.json's store block. "" or "files": the files.
func (a *app) storeSpec(cfg *config.File) (config.Store, string, error) {
	from := "--store"
	v := a.storeFlag
	if v == "" {
		v, from = a.getenv("PICOSESS_STORE"), "$PICOSESS_STORE"
	}
	if v == "" {
		if cfg == nil {
			return config.Store{}, "", nil
		}
		return cfg.Store, "config.json store", nil
	}
	if v == config.StoreFiles {
		return config.Store{Kind: config.StoreFiles}, from, nil
	}
	u, err := url.Parse(v)
	if err != nil || !strings.HasPrefix(u.Scheme, "redis") && u.Scheme != "unix" {
		return config.Store{}, from, usageErrorf("%s: want files, redis://host:port/db or redis+sentinel://host:port/mastername, got %q", from, redisstore.Redact(v))
	}
	st := config.Store{Kind: config.StoreRedis, URL: v}
	if cfg != nil && cfg.Store.Kind == config.StoreRedis {
		// The config's settings (timeouts, pool, prefix) still apply.
		c := cfg.Store
		c.URL = v
		st = c
	}
	return st, from, nil
}

// onStore says whether a store other than the files is chosen (a broken
// config reads as no).
func (a *app) onStore() bool {
	var cfg *config.File
	if root, err := a.root(); err == nil {
		cfg, _, _ = config.Load(root)
	}
	spec, _, err := a.storeSpec(cfg)
	return err == nil && spec.Kind == config.StoreRedis
}

// openStore opens the store the flags, environment and config choose; nil
// for the files.
func (a *app) openStore(cfg *config.File) (workspace.Store, error) {
	if cfg == nil {
		// Opened without its config (check, repair): the store block
		// still says where the records are, if the file can be read.
		if root, err := a.root(); err == nil {
			cfg, _, _ = config.Load(root)
		}
	}
	spec, from, err := a.storeSpec(cfg)
	if err != nil || spec.Kind == "" || spec.Kind == config.StoreFiles {
		return nil, err
	}
	st, err := openStoreSpec(context.Background(), spec, from, a.getenv)
	if err != nil {
		return nil, err
	}
	if cfg != nil && cfg.Cleanup.PurgeAfter > 0 {
		// cleanup.purge_after as Redis expiry of deleted sessions: the
		// trash empties itself even where nobody runs cleanup.
		st.SetTrashTTL(time.Duration(cfg.Cleanup.PurgeAfter))
	}
	return st, nil
}

// openStoreSpec opens a Redis store from a store block.
func openStoreSpec(ctx context.Context, spec config.Store, from string, getenv func(string) string) (*redisstore.Store, error) {
	raw := spec.URL
	if spec.PasswordEnv != "" {
		pw := getenv(spec.PasswordEnv)
		if pw == "" {
			return nil, fmt.Errorf("%w: %s: store.password_env names $%s, which is empty", workspace.ErrConfig, from, spec.PasswordEnv)
		}
		u, err := url.Parse(raw)
		if err != nil {
			return nil, fmt.Errorf("%w: %s: store url does not parse", workspace.ErrConfig, from)
		}
		u.User = url.UserPassword(u.User.Username(), pw)
		raw = u.String()
	}
	o := &redisstore.Options{
		Prefix:       spec.Prefix,
		Cluster:      spec.Cluster,
		DialTimeout:  time.Duration(spec.DialTimeout),
		ReadTimeout:  time.Duration(spec.ReadTimeout),
		WriteTimeout: time.Duration(spec.WriteTimeout),
		PoolSize:     spec.PoolSize,
		TokenTTL:     time.Duration(spec.TokenTTL),
		LockTTL:      time.Duration(spec.LockTTL),
		MinReplicas:  spec.MinReplicas,
		WaitTimeout:  time.Duration(spec.WaitTimeout),
	}
	if spec.SentinelPasswordEnv != "" {
		if o.SentinelPassword = getenv(spec.SentinelPasswordEnv); o.SentinelPassword == "" {
			return nil, fmt.Errorf("%w: %s: store.sentinel_password_env names $%s, which is empty", workspace.ErrConfig, from, spec.SentinelPasswordEnv)
		}
	}
	ctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	st, err := redisstore.Open(ctx, raw, o)
	if err != nil {
		return nil, fmt.Errorf("store from %s: %w", from, err)
	}
	return st, nil
}

// isStoreURL says whether a --from/--to names a Redis store rather than a
// directory.
func isStoreURL(s string) bool {
	for _, p := range []string{"redis://", "rediss://", "unix://", "redis+sentinel://", "rediss+sentinel://"} {
		if strings.HasPrefix(s, p) {
			return true
		}
	}
	return false
}

// storeHealth is what check says of the store.
type storeHealth struct {
	Kind        string                  `json:"kind"`
	Addr        string                  `json:"addr"`
	Persistence *redisstore.Persistence `json:"persistence,omitempty"`
	Warning     string                  `json:"warning,omitempty"`
	// Replication: the primary's replicas against min_replicas.
	Replication    *redisstore.Replication `json:"replication,omitempty"`
	ReplicaWarning string                  `json:"replica_warning,omitempty"`
}

// checkStore reads the store's persistence settings; nil for the files.
func checkStore(ctx context.Context, w *workspace.Workspace) (*storeHealth, error) {
	st, ok := w.Store().(*redisstore.Store)
	if !ok {
		return nil, nil
	}
	p, err := st.Persistence(ctx)
	if err != nil {
		return nil, err
	}
	h := &storeHealth{Kind: st.Kind(), Addr: st.Addr(), Persistence: &p, Warning: p.Warning()}
	if h.Replication, err = st.Replication(ctx); err != nil {
		return nil, err
	}
	if h.Replication != nil {
		h.ReplicaWarning = h.Replication.Warning()
	}
	return h, nil
}
