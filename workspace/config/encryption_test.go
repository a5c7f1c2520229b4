package config

import (
	"strings"
	"testing"
)

func TestEncryptionBlock(t *testing.T) {
	f, _, err := Parse("config.json", []byte(`{"encryption": {"enabled": true, "key_file": "keys/master.key"}}`))
	if err != nil {
		t.Fatal(err)
	}
	if !f.Encryption.Enabled || f.Encryption.KeyFile != "keys/master.key" || f.Encryption.Index {
		t.Fatalf("encryption = %+v", f.Encryption)
	}
	for _, c := range []struct{ doc, want string }{
		{`{"encryption": {"enabled": "yes"}}`, "encryption.enabled: want true or false"},
		{`{"encryption": {"key_file": "k"}}`, "encryption.enabled: key_file and index have no effect unless enabled is true"},
		{`{"encryption": {"enabled": true, "key": "abc"}}`, "encryption.key: a key is never kept in config.json"},
		{`{"encryption": {"enabled": true, "key_file": " k"}}`, "encryption.key_file: leading or trailing white space"},
	} {
		_, _, err := Parse("config.json", []byte(c.doc))
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%s: err = %v, want %q", c.doc, err, c.want)
		}
	}
}
