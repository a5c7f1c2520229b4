package redisstore

import (
	"net/url"
	"strings"
	"testing"
)

func TestFailoverOptionsFromURL(t *testing.T) {
	u, _ := url.Parse("redis+sentinel://app:s3cret@10.0.0.5:26379,10.0.0.6:26380/main/3?dial_timeout=1s")
	fo, err := failoverOptions(u)
	if err != nil {
		t.Fatal(err)
	}
	if fo.MasterName != "main" || fo.DB != 3 || fo.Username != "app" || fo.Password != "s3cret" ||
		strings.Join(fo.SentinelAddrs, ",") != "10.0.0.5:26379,10.0.0.6:26380" || fo.DialTimeout.String() != "1s" || fo.SentinelPassword != "" {
		t.Fatalf("%+v", fo)
	}
	for raw, want := range map[string]string{
		"redis+sentinel://h:26379":                   "mastername",
		"redis+sentinel://h:26379/m/x":               "not a number",
		"redis+sentinel://h:26379/m/1/2":             "mastername",
		"redis+sentinel://h/m":                       "host:port",
		"redis+sentinel://h:1/m?password=x":          "user part",
		"redis+sentinel://h:1/m?master_name=other":   "in the path",
		"redis+sentinel://h:1/m?no_such_option=true": "unexpected option",
	} {
		u, err := url.Parse(raw)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := failoverOptions(u); err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("%s: %v, want %q", raw, err, want)
		}
	}
	if r := Redact("redis+sentinel://app:s3cret@10.0.0.5:26379,10.0.0.6:26380/main"); strings.Contains(r, "s3cret") {
		t.Fatalf("redacted: %s", r)
	}
}
