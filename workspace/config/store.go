package config

import (
	"net/url"
	"strings"
)

// Store is the store block: where the sessions' records are kept. Absent
// or kind "files": the files of sessions/ (the default). Kind "redis": a
// Redis server (or Cluster) that several machines share; the workspace
// directory still holds config.json, the listing cache, the locks and the
// search index (docs/redis.md).
type Store struct {
	Kind string `json:"kind,omitempty"`
	// URL is redis://[user@]host:port/db (rediss:// for TLS). A password
	// belongs in the environment variable PasswordEnv names, not here.
	URL string `json:"url,omitempty"`
	// PasswordEnv names the environment variable that holds the password.
	PasswordEnv string `json:"password_env,omitempty"`
	// Prefix of every key; "" means "picosess:".
	Prefix string `json:"prefix,omitempty"`
	// Cluster: URL names a node of a Redis Cluster.
	Cluster bool `json:"cluster,omitempty"`
	// Timeouts and the pool; zero takes the defaults (docs/redis.md).
	DialTimeout  Duration `json:"dial_timeout,omitempty"`
	ReadTimeout  Duration `json:"read_timeout,omitempty"`
	WriteTimeout Duration `json:"write_timeout,omitempty"`
	PoolSize     int      `json:"pool_size,omitempty"`
	// TokenTTL is how long a retried append is recognised; "" means 24h.
	TokenTTL Duration `json:"token_ttl,omitempty"`
	// LockTTL is how long a lease (the summarize lock) outlives its
	// holder's last renewal; "" means 15s.
	LockTTL Duration `json:"lock_ttl,omitempty"`
	// MinReplicas > 0: an append is acknowledged only when that many
	// replicas have it, within WaitTimeout ("" means 1s).
	MinReplicas int      `json:"min_replicas,omitempty"`
	WaitTimeout Duration `json:"wait_timeout,omitempty"`
	// SentinelPasswordEnv names the environment variable holding the
	// password of the Sentinels of a redis+sentinel:// URL.
	SentinelPasswordEnv string `json:"sentinel_password_env,omitempty"`
}

// Store kinds.
const (
	StoreFiles = "files"
	StoreRedis = "redis"
)

func (s Store) validate(path string) error {
	switch s.Kind {
	case "", StoreFiles:
		if s.URL != "" {
			return fieldErr(path+".kind", "a url without kind \"redis\"")
		}
		return nil
	case StoreRedis:
	default:
		return fieldErr(path+".kind", "unknown store %q (known: files, redis)", s.Kind)
	}
	if s.URL == "" {
		return fieldErr(path+".url", "kind \"redis\" needs a url (redis://host:port/db)")
	}
	u, err := url.Parse(s.URL)
	if err != nil || !strings.HasPrefix(u.Scheme, "redis") && u.Scheme != "unix" {
		return fieldErr(path+".url", "want redis://host:port/db, rediss://, unix:// or redis+sentinel://host:port[,host:port]/mastername")
	}
	if _, ok := u.User.Password(); ok {
		return fieldErr(path+".url", "holds a password: config.json is not the place for it; put it in an environment variable and name it in %s.password_env", path)
	}
	if s.MinReplicas < 0 {
		return fieldErr(path+".min_replicas", "want 0 or a positive number of replicas, got %d", s.MinReplicas)
	}
	if s.MinReplicas > 0 && s.Cluster {
		return fieldErr(path+".min_replicas", "not supported with cluster")
	}
	if strings.HasSuffix(u.Scheme, "+sentinel") && s.Cluster {
		return fieldErr(path+".cluster", "a redis+sentinel:// url names Sentinels, not a Cluster")
	}
	if s.PoolSize < 0 {
		return fieldErr(path+".pool_size", "want a positive number, got %d", s.PoolSize)
	}
	return nil
}
