package config

import (
	"strings"
	"testing"
	"time"
)

func TestStoreBlock(t *testing.T) {
	f, _, err := Parse("config.json", []byte(`{"store": {"kind": "redis", "url": "redis://10.0.0.5:6379/2", "password_env": "PW",
	  "prefix": "team:", "pool_size": 32, "dial_timeout": "500ms", "token_ttl": "2h"}}`))
	if err != nil {
		t.Fatal(err)
	}
	s := f.Store
	if s.Kind != StoreRedis || s.URL != "redis://10.0.0.5:6379/2" || s.PasswordEnv != "PW" || s.Prefix != "team:" || s.PoolSize != 32 ||
		time.Duration(s.DialTimeout) != 500*time.Millisecond || time.Duration(s.TokenTTL) != 2*time.Hour {
		t.Fatalf("store = %+v", s)
	}
	f, _, err = Parse("config.json", []byte(`{"store": {"kind": "redis", "url": "redis+sentinel://10.0.0.5:26379,10.0.0.6:26379/main/2",
	  "min_replicas": 1, "wait_timeout": "500ms", "lock_ttl": "30s", "sentinel_password_env": "SPW"}}`))
	if err != nil {
		t.Fatal(err)
	}
	if s := f.Store; s.MinReplicas != 1 || time.Duration(s.WaitTimeout) != 500*time.Millisecond || time.Duration(s.LockTTL) != 30*time.Second || s.SentinelPasswordEnv != "SPW" {
		t.Fatalf("sentinel store = %+v", s)
	}
	if f, _, err := Parse("config.json", []byte(`{}`)); err != nil || f.Store.Kind != "" {
		t.Fatalf("no block: %+v %v", f.Store, err)
	}
	for _, c := range []struct{ doc, want string }{
		{`{"store": {"kind": "etcd"}}`, `store.kind: unknown store "etcd"`},
		{`{"store": {"kind": "redis"}}`, "store.url: kind \"redis\" needs a url"},
		{`{"store": {"kind": "redis", "url": "http://x"}}`, "store.url: want redis://"},
		{`{"store": {"kind": "redis", "url": "redis://u:secret@h:6379"}}`, "store.url: holds a password"},
		{`{"store": {"url": "redis://h:6379"}}`, "store.kind: a url without kind"},
		{`{"store": {"kind": "redis", "url": "redis://h", "pool_size": -1}}`, "store.pool_size"},
		{`{"store": {"kind": "redis", "url": "redis://h", "min_replicas": -1}}`, "store.min_replicas"},
		{`{"store": {"kind": "redis", "url": "redis://h", "cluster": true, "min_replicas": 1}}`, "store.min_replicas: not supported with cluster"},
		{`{"store": {"kind": "redis", "url": "redis+sentinel://h:26379/m", "cluster": true}}`, "store.cluster"},
	} {
		_, _, err := Parse("config.json", []byte(c.doc))
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%s: err = %v, want %q", c.doc, err, c.want)
		}
		if err != nil && strings.Contains(err.Error(), "secret") {
			t.Errorf("the password is in the error: %v", err)
		}
	}
}
