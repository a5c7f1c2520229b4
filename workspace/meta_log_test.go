package workspace

import (
	"bytes"
	"context"
	"encoding/binary"
	"encoding/json"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/picosess/picosess/keying"
)

// listIn lists the workspace of dir from a new Workspace, as a new ls
// process does.
func listIn(t *testing.T, dir string) []Meta {
	t.Helper()
	w, err := Open(dir, &Options{NoConfig: true, Durability: DurabilityNever})
	if err != nil {
		t.Fatal(err)
	}
	defer w.Close()
	l, err := w.List(context.Background(), ListOptions{})
	if err != nil {
		t.Fatal(err)
	}
	return l
}

// fixtureSessions makes n sessions with a scope, a title and usage.
func fixtureSessions(t *testing.T, w *Workspace, n int) []*Session {
	t.Helper()
	var out []*Session
	for i := 0; i < n; i++ {
		s := namedSession(t, w, fmt.Sprintf("s%02d", i))
		mustAppend(t, s, UserMessage("", fmt.Sprintf("question %d", i)), AssistantMessage("", "answer").WithUsage(10, 2))
		out = append(out, s)
	}
	return out
}

// One append to one session of many makes the next listing append one
// frame to the log, whatever the number of sessions: no file of them all
// is rewritten. A session gone appends a frame that forgets it.
func TestListingLogGrowsByOneFrame(t *testing.T) {
	ctx := context.Background()
	w := openTest(t, &Options{Durability: DurabilityNever, NoConfig: true})
	ss := fixtureSessions(t, w, 20)
	dir := w.Root()
	log := filepath.Join(dir, CacheDir, listingLogName)
	listIn(t, dir)
	before, err := os.Stat(log)
	if err != nil {
		t.Fatalf("no listing log: %v", err)
	}
	mustAppend(t, ss[7], UserMessage("", "one more"))
	l := listIn(t, dir)
	after, _ := os.Stat(log)
	if !os.SameFile(before, after) {
		t.Fatal("the log was rewritten for one append")
	}
	e := metaOfList(l, ss[7].ID())
	frame := frameHeader + int64(len(appendEntry(nil, &metaEntry{Meta: e}))) // about one entry
	// and the state frame after it (meta_trust.go), at its largest
	big := &listingState{Journal: Identity{Dev: math.MaxUint64, Inode: math.MaxUint64},
		Cursor: ChangeCursor{End: math.MaxInt64, Tail: math.MaxUint32},
		Dir:    DirState{Dev: math.MaxUint64, Ino: math.MaxUint64, Mtime: math.MinInt64, Ctime: math.MinInt64},
		Full:   time.Unix(0, math.MinInt64), Boot: BootID()}
	state := frameHeader + int64(len(appendState(nil, big)))
	if grew := after.Size() - before.Size(); grew <= 0 || grew > frame+64+state {
		t.Fatalf("log grew by %d bytes for one append (one frame is ~%d, a state frame at most %d)", grew, frame, state)
	}
	if e.Messages != 3 {
		t.Fatalf("listed %+v", e)
	}
	if _, err := ss[3].Delete(ctx); err != nil {
		t.Fatal(err)
	}
	if l := listIn(t, dir); len(l) != 19 {
		t.Fatalf("%d listed after a delete", len(l))
	}
	gone, _ := os.Stat(log)
	if !os.SameFile(before, gone) || gone.Size()-after.Size() > 100+state {
		t.Fatalf("log after a delete: %d bytes, was %d", gone.Size(), after.Size())
	}
	// A third process sees the same.
	if l := listIn(t, dir); len(l) != 19 || metaOfList(l, ss[7].ID()).Messages != 3 {
		t.Fatalf("listing: %+v", l)
	}
}

func metaOfList(l []Meta, id string) Meta {
	for _, m := range l {
		if m.ID == id {
			return m
		}
	}
	return Meta{}
}

// The log is rewritten (compacted) once it holds more than twice as many
// frames as there are sessions (plus a slack), so it stays proportional to
// the sessions however many appends it followed.
func TestListingLogCompacts(t *testing.T) {
	w := openTest(t, &Options{Durability: DurabilityNever, NoConfig: true})
	ss := fixtureSessions(t, w, 3)
	dir := w.Root()
	listIn(t, dir)
	w2, _ := Open(dir, &Options{NoConfig: true, Durability: DurabilityNever})
	defer w2.Close()
	for i := 0; i < 1100; i++ {
		mustAppend(t, ss[i%3], UserMessage("", "more"))
		if _, err := w2.List(context.Background(), ListOptions{}); err != nil {
			t.Fatal(err)
		}
	}
	if f := w2.meta.log.frames; f > 2*3+1024+1 {
		t.Fatalf("%d frames for 3 sessions", f)
	}
	fi, _ := os.Stat(filepath.Join(dir, CacheDir, listingLogName))
	if fi.Size() > 1100*500 {
		t.Fatalf("log of %d bytes", fi.Size())
	}
	if l := listIn(t, dir); len(l) != 3 || l[0].Messages+l[1].Messages+l[2].Messages != 6+1100 {
		t.Fatalf("listing after compactions: %+v", l)
	}
}

// A damaged log is never trusted: each row damages it as a crash, a power
// loss or a stray write may, and a new process must list what a listing
// without any cache lists; the listing after rewrites the log whole.
func TestListingLogDamage(t *testing.T) {
	cases := []struct {
		name   string
		damage func(b []byte) []byte
	}{
		{"empty (power loss)", func(b []byte) []byte { return nil }},
		{"torn in the last frame", func(b []byte) []byte { return b[:len(b)-5] }},
		{"torn in a frame header", func(b []byte) []byte { return b[:len(listingMagic)+3] }},
		{"NULs at the tail", func(b []byte) []byte { return append(b, make([]byte, 4096)...) }},
		{"zeroed block in the middle", func(b []byte) []byte {
			copy(b[len(b)/2:], make([]byte, 100))
			return b
		}},
		{"a byte flipped in a payload", func(b []byte) []byte {
			b[len(listingMagic)+frameHeader+10] ^= 0x40
			return b
		}},
		{"a length over the limit", func(b []byte) []byte {
			binary.LittleEndian.PutUint32(b[len(listingMagic):], maxFramePayload+1)
			return b
		}},
		{"another version", func(b []byte) []byte { return bytes.Replace(b, []byte("entries 4"), []byte("entries 3"), 1) }},
		{"garbage appended", func(b []byte) []byte { return append(b, "{\"version\":4}\n"...) }},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			w := openTest(t, &Options{Durability: DurabilityNever, NoConfig: true})
			ss := fixtureSessions(t, w, 4)
			dir := w.Root()
			listIn(t, dir)
			mustAppend(t, ss[1], UserMessage("", "later")) // a frame appended
			listIn(t, dir)
			path := filepath.Join(dir, CacheDir, listingLogName)
			b, _ := os.ReadFile(path)
			os.WriteFile(path, tc.damage(b), 0o644)
			got := listIn(t, dir)
			os.RemoveAll(filepath.Join(dir, CacheDir))
			want := listIn(t, dir)
			if fmt.Sprintf("%+v", got) != fmt.Sprintf("%+v", want) {
				t.Fatalf("listing from the damaged log:\n%+v\nfrom the files:\n%+v", got, want)
			}
		})
	}
}

// A log a listing found damaged is written anew by that listing, whole.
func TestListingLogRewrittenAfterDamage(t *testing.T) {
	w := openTest(t, &Options{Durability: DurabilityNever, NoConfig: true})
	fixtureSessions(t, w, 3)
	dir := w.Root()
	listIn(t, dir)
	path := filepath.Join(dir, CacheDir, listingLogName)
	good, _ := os.ReadFile(path)
	os.WriteFile(path, good[:len(good)-7], 0o644)
	os.Chtimes(path, time.Now(), time.Now().Add(time.Second))
	listIn(t, dir)
	w2, _ := Open(dir, &Options{NoConfig: true})
	defer w2.Close()
	w2.meta.loadIfChanged()
	if w2.meta.log.bad || len(w2.meta.entries) != 3 {
		t.Fatalf("log after the listing that found it torn: bad %v, %d entries", w2.meta.log.bad, len(w2.meta.entries))
	}
}

// Every entry survives the binary form: what a listing prints from the
// log is what it printed from the files, times with their zones included.
func TestEntryCodecRoundTrip(t *testing.T) {
	at := time.Date(2026, 3, 1, 10, 0, 0, 123456789, time.FixedZone("", 3600))
	for _, e := range []*metaEntry{
		{},
		{Meta: Meta{ID: "x", Title: "t", Created: at, Updated: at.UTC(), Aliases: []string{}, Messages: 3, Tokens: -1,
			Damaged: "empty file"}, TitleSet: true, DefaultTitle: "d", LastMsgSeq: 9, Offset: 1 << 40, TailCRC: 0xdeadbeef,
			Ident: Identity{Size: 5, Dev: 1 << 63, Inode: 7, ModTime: at.UTC()}},
		{Meta: Meta{ID: "y", Title: "same", Aliases: []string{"a", ""}, Summary: true, Segments: 2, LastSeq: 1e12,
			Corrupt: 2, UsageIn: 5, UsageOut: 6, ActiveMessages: 4, Agent: "main", Channel: "telegram",
			Scope: &keying.Scope{Version: 1, AgentID: "main", Channel: "telegram", Account: "default",
				Dimensions: []string{"chat", "sender"}, Values: map[string]string{"chat": "group:-1", "sender": "alice"}}},
			DefaultTitle: "same", FirstUser: true},
	} {
		got, _, err := newEntryDecoder().decode(appendEntry(nil, e))
		if err != nil {
			t.Fatal(err)
		}
		g, _ := json.Marshal(got)
		want, _ := json.Marshal(e)
		if !bytes.Equal(g, want) || got.Ident.ModTime.Location() != e.Ident.ModTime.Location() && !e.Ident.ModTime.IsZero() {
			t.Fatalf("round trip:\n%s\nwant\n%s", g, want)
		}
	}
}

// A process that appended frames to the log, or compacted it, afterwards
// reads its entries back from the log, never from the session files.
func TestListingLogPlacesAreRight(t *testing.T) {
	ctx := context.Background()
	w := openTest(t, &Options{Durability: DurabilityNever, NoConfig: true})
	ss := fixtureSessions(t, w, 5)
	dir := w.Root()
	ffs := &faultFS{}
	w2, err := Open(dir, &Options{FS: ffs, NoConfig: true})
	if err != nil {
		t.Fatal(err)
	}
	defer w2.Close()
	for round := 0; round < 3; round++ {
		// Round 0 writes the log whole (compaction); later rounds append
		// the frames of the sessions that grew.
		for _, s := range ss[:round+1] {
			mustAppend(t, s, UserMessage("", "more"))
		}
		if _, err := w2.List(ctx, ListOptions{}); err != nil {
			t.Fatal(err)
		}
		ffs.mu.Lock()
		ffs.readBytes = 0
		ffs.mu.Unlock()
		l, err := w2.List(ctx, ListOptions{})
		if err != nil || len(l) != 5 {
			t.Fatal(l, err)
		}
		if ffs.readBytes != 0 {
			t.Fatalf("round %d: %d bytes of session files read by a listing with nothing changed", round, ffs.readBytes)
		}
	}
}

// Every field of an entry survives the binary form: each exported field of
// metaEntry and Meta is set in turn to a value other than its zero, and
// must come back. A field added to either without a place in
// appendEntry fails here.
func TestEntryCodecKeepsEveryField(t *testing.T) {
	at := time.Date(2026, 3, 1, 10, 0, 0, 5, time.UTC)
	values := map[reflect.Type]reflect.Value{
		reflect.TypeOf(""):              reflect.ValueOf("v"),
		reflect.TypeOf(0):               reflect.ValueOf(7),
		reflect.TypeOf(int64(0)):        reflect.ValueOf(int64(9)),
		reflect.TypeOf(uint32(0)):       reflect.ValueOf(uint32(11)),
		reflect.TypeOf(true):            reflect.ValueOf(true),
		reflect.TypeOf(time.Time{}):     reflect.ValueOf(at),
		reflect.TypeOf([]string{}):      reflect.ValueOf([]string{"a"}),
		reflect.TypeOf(&keying.Scope{}): reflect.ValueOf(&keying.Scope{Version: 1, AgentID: "a"}),
		reflect.TypeOf(Identity{}):      reflect.ValueOf(Identity{Size: 1, Dev: 2, Inode: 3, ModTime: at}),
	}
	var fields func(v reflect.Value, path string)
	fields = func(v reflect.Value, path string) {
		for i := 0; i < v.NumField(); i++ {
			f := v.Type().Field(i)
			if !f.IsExported() {
				continue
			}
			if f.Anonymous {
				fields(v.Field(i), path+f.Name+".")
				continue
			}
			val, ok := values[f.Type]
			if !ok {
				t.Errorf("%s%s: no test value for %s", path, f.Name, f.Type)
				continue
			}
			t.Run(path+f.Name, func(t *testing.T) {
				e := &metaEntry{}
				target := fieldOf(reflect.ValueOf(e).Elem(), path+f.Name)
				target.Set(val)
				if f.Name == "TitleSeq" || f.Name == "FirstUserSeq" {
					e.Encrypted = true // kept for encrypted sessions only
				}
				got, _, err := newEntryDecoder().decode(appendEntry(nil, e))
				if err != nil {
					t.Fatal(err)
				}
				if g, w := fieldOf(reflect.ValueOf(got).Elem(), path+f.Name).Interface(), val.Interface(); fmt.Sprint(g) != fmt.Sprint(w) {
					t.Fatalf("came back as %v, want %v", g, w)
				}
			})
		}
	}
	fields(reflect.ValueOf(metaEntry{}), "")
}

// fieldOf is the field of v at a dotted path of field names.
func fieldOf(v reflect.Value, path string) reflect.Value {
	for _, name := range strings.Split(path, ".") {
		v = v.FieldByName(name)
	}
	return v
}
