package main

import (
	"strconv"
	"strings"
	"time"
)

// sinceForms names the forms parseSince accepts, for help texts and
// errors.
const sinceForms = "a duration back from now (90m, 36h, 7d, 2w, 1d12h), a date (2026-12-01), " +
	"a local time (2026-12-01T08:30), an RFC 3339 time (2026-12-01T08:30:00Z), today or yesterday"

// parseSince parses the time of ls --since and search --since/--until, in
// the zone loc (the local zone; tests inject one), now being now:
//
//   - a duration back from now: Go's units (90m, 36h, 1h30m) plus days and
//     weeks (7d, 2w, 1d12h); a day is 24 hours;
//   - today, yesterday: the midnight that began that day;
//   - a date (2026-12-01): the midnight that began it;
//   - a time without a zone (2026-12-01T08:30, 2026-12-01 08:30[:05]);
//   - an RFC 3339 time with its zone (2026-12-01T08:30:00Z, ...+01:00).
//
// Dates and times without a zone are in loc. The error names the flag.
func parseSince(flag, s string, now time.Time, loc *time.Location) (time.Time, error) {
	v := strings.TrimSpace(s)
	now = now.In(loc)
	midnight := func(days int) time.Time {
		y, m, d := now.Date()
		return time.Date(y, m, d+days, 0, 0, 0, 0, loc)
	}
	switch strings.ToLower(v) {
	case "today":
		return midnight(0), nil
	case "yesterday":
		return midnight(-1), nil
	}
	if n := len(v); n > 0 && 'a' <= v[n-1] && v[n-1] <= 'z' {
		// 90m, 7d (dates and times end in a digit or Z): no failed
		// layouts first.
		if d, ok := parseDuration(v); ok {
			return now.Add(-d), nil
		}
	}
	if t, err := time.Parse(time.RFC3339Nano, v); err == nil {
		return t, nil
	}
	for _, layout := range []string{"2006-01-02", "2006-01-02T15:04", "2006-01-02T15:04:05", "2006-01-02 15:04", "2006-01-02 15:04:05"} {
		if t, err := time.ParseInLocation(layout, v, loc); err == nil {
			return t, nil
		}
	}
	if d, ok := parseDuration(v); ok {
		return now.Add(-d), nil
	}
	return time.Time{}, usageErrorf("%s %q: want %s", flag, s, sinceForms)
}

// parseDuration parses a positive duration in Go's units plus d (24h) and
// w (7d), in any sequence: 7d, 2w, 1d12h, 90m.
func parseDuration(s string) (time.Duration, bool) {
	if s == "" || !strings.ContainsAny(s, "dw") {
		d, err := time.ParseDuration(s)
		return d, err == nil && d > 0
	}
	// Turn each <n>d and <n>w into hours, leave the rest to ParseDuration.
	var b strings.Builder
	for i := 0; i < len(s); {
		j := i
		for j < len(s) && ('0' <= s[j] && s[j] <= '9') {
			j++
		}
		if j == i || j == len(s) {
			return 0, false
		}
		k := j
		for k < len(s) && !('0' <= s[k] && s[k] <= '9') && s[k] != '.' {
			k++
		}
		n, unit := s[i:j], s[j:k]
		switch unit {
		case "d", "w":
			x, err := strconv.Atoi(n)
			if err != nil || x > 1e6 {
				return 0, false
			}
			if unit == "w" {
				x *= 7
			}
			b.WriteString(strconv.Itoa(x*24) + "h")
		default:
			b.WriteString(s[i:k])
		}
		i = k
	}
	d, err := time.ParseDuration(b.String())
	return d, err == nil && d > 0
}
