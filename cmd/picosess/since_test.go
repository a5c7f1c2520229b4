package main

import (
	"errors"
	"strings"
	"testing"
	"time"
)

func TestParseSince(t *testing.T) {
	ist := time.FixedZone("IST", 5*3600+1800)
	// 01:30 on 2 Dec in IST is still 1 Dec in UTC: "today" must be IST's.
	now := time.Date(2026, 12, 2, 1, 30, 0, 0, ist)
	for _, tt := range []struct {
		in   string
		want time.Time
	}{
		{"90m", now.Add(-90 * time.Minute)},
		{"36h", now.Add(-36 * time.Hour)},
		{"1h30m", now.Add(-90 * time.Minute)},
		{"7d", now.Add(-7 * 24 * time.Hour)},
		{"2w", now.Add(-14 * 24 * time.Hour)},
		{"1d12h", now.Add(-36 * time.Hour)},
		{" 7d ", now.Add(-7 * 24 * time.Hour)},
		{"today", time.Date(2026, 12, 2, 0, 0, 0, 0, ist)},
		{"Yesterday", time.Date(2026, 12, 1, 0, 0, 0, 0, ist)},
		{"2026-12-01", time.Date(2026, 12, 1, 0, 0, 0, 0, ist)},
		{"2026-11-30T08:30", time.Date(2026, 11, 30, 8, 30, 0, 0, ist)},
		{"2026-11-30 08:30:05", time.Date(2026, 11, 30, 8, 30, 5, 0, ist)},
		{"2026-11-30T08:30:00Z", time.Date(2026, 11, 30, 8, 30, 0, 0, time.UTC)},
		{"2026-11-30T08:30:00+01:00", time.Date(2026, 11, 30, 7, 30, 0, 0, time.UTC)},
	} {
		got, err := parseSince("--since", tt.in, now, ist)
		if err != nil || !got.Equal(tt.want) {
			t.Errorf("parseSince(%q) = %v, %v; want %v", tt.in, got, err, tt.want)
		}
	}
	for _, in := range []string{"", "soon", "-7d", "0s", "7", "d", "7x", "2026-13-01", "1.5d", "7dd", "tomorrow"} {
		_, err := parseSince("--since", in, now, ist)
		var ee *exitError
		if !errors.As(err, &ee) || ee.kind != codeUsage || !strings.Contains(err.Error(), "--since") || !strings.Contains(err.Error(), "yesterday") {
			t.Errorf("parseSince(%q): %v; want a usage error naming the flag and the forms", in, err)
		}
	}
}

// Across a change to summer time, yesterday is the calendar day before,
// not 24 hours before midnight.
func TestParseSinceDST(t *testing.T) {
	berlin, err := time.LoadLocation("Europe/Berlin")
	if err != nil {
		t.Skip("no tz database:", err)
	}
	now := time.Date(2026, 3, 30, 10, 0, 0, 0, berlin) // Monday; clocks went forward on Sunday 29 March
	got, err := parseSince("--since", "yesterday", now, berlin)
	if want := time.Date(2026, 3, 29, 0, 0, 0, 0, berlin); err != nil || !got.Equal(want) || got.Format("-07:00") != "+01:00" {
		t.Fatalf("yesterday = %v, %v; want %v", got, err, want)
	}
	got, _ = parseSince("--since", "today", now, berlin)
	if got.Format("-07:00") != "+02:00" || now.Sub(got) != 10*time.Hour {
		t.Fatalf("today = %v", got)
	}
}

func BenchmarkParseSince(b *testing.B) {
	now := time.Now()
	for _, in := range []string{"7d", "1d12h", "36h", "yesterday", "2026-12-01", "2026-11-30T08:30:00Z"} {
		b.Run(in, func(b *testing.B) {
			for i := 0; i < b.N; i++ {
				if _, err := parseSince("--since", in, now, time.Local); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
