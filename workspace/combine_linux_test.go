//go:build linux

package workspace

import (
	"bufio"
	"context"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"os"
	"strconv"
	"strings"
	"sync/atomic"
	"syscall"
	"testing"
	"time"
)

// The line a combiner makes from a slot is the line the slot's owner
// would have written itself, for any record an Append may carry.
func TestSlotLinesAreTheEncoderLines(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	texts := []string{"", "plain", "quote \" and \\ back", "ünïcødé ✓ 🎉", "line\nbreak\ttab", "<b>&amp;</b>", strings.Repeat("long ", 200)}
	pick := func() string { return texts[rng.IntN(len(texts))] }
	now := time.Date(2026, 12, 7, 11, 0, 0, 123456789, time.UTC)
	compared := 0
	for n := 0; n < 2000; n++ {
		var recs []Record
		for k := 1 + rng.IntN(3); k > 0; k-- {
			r := Record{Type: TypeMessage, Role: []string{RoleUser, RoleAssistant, RoleTool, RoleSystem}[rng.IntN(4)], Content: pick()}
			if rng.IntN(3) == 0 {
				r.Sender = pick()
			}
			if rng.IntN(4) == 0 {
				r.Media = []string{pick(), pick()}
			}
			if rng.IntN(4) == 0 {
				r.Attachments = json.RawMessage(`[{"name":` + strconv.Quote(pick()) + `}]`)
			}
			if rng.IntN(3) == 0 {
				r.Tokens = rng.IntN(5000)
			}
			if rng.IntN(5) == 0 {
				r.At = now.Add(-time.Duration(rng.IntN(1e6)) * time.Millisecond)
			}
			if rng.IntN(6) == 0 && r.Role == RoleAssistant {
				r.ToolCalls = json.RawMessage(`[{"id":"c1","type":"function","function":{"name":"f","arguments":` + strconv.Quote(`{"q":`+strconv.Quote(pick())+`}`) + `}}]`)
			}
			if r.Tokens == 0 {
				r.Tokens = EstimateTokens(r) // Append counts before the lock
			}
			recs = append(recs, r)
		}
		last := rng.Int64N(1 << 40)
		want, seqs, err := (&Workspace{opts: Options{CountTokens: EstimateTokens}}).encodeRecords(nil, recs, last, now, appendRecord, nil)
		if err != nil {
			continue // not a valid record to append: the usual path refuses it
		}
		req := &appendReq{build: func(lockedView) ([]Record, error) { return recs, nil }, plain: true}
		payload, counts, ok := slotPayload([]*appendReq{req}, 0)
		if !ok {
			if len(want) < slotPayloadMax/2 {
				t.Fatalf("records of %d bytes refused by the slot: %+v", len(want), recs)
			}
			continue // too big for a slot: appended the usual way
		}
		got, gotLast, ok := slotLines(nil, payload, counts[0], last, now)
		if !ok {
			t.Fatalf("slot payload of %+v does not parse", recs)
		}
		if string(got) != string(want) {
			t.Fatalf("slot lines differ from the encoder's:\n got %s\nwant %s", got, want)
		}
		if gotLast != seqs[len(seqs)-1] {
			t.Fatalf("last seq %d, want %d", gotLast, seqs[len(seqs)-1])
		}
		compared++
	}
	if compared < 1000 {
		t.Fatalf("only %d of 2000 random appends compared", compared)
	}
}

// combineHelper runs the combining helper modes:
//
//	combine <root> <name> <n> <tag> [turn]
//	                                  wait for stdin to close, append n
//	                                  messages (batch; AppendTurn with
//	                                  turn), print "seq content" for
//	                                  each, then "combined N"
//	combinedie <root> <name> <stage>  take the session lock, wait for
//	                                  records in a slot, claim them and
//	                                  die: before writing them, after
//	                                  writing them all, or after writing
//	                                  one and a half lines ("torn")
func combineHelper(args []string, w *Workspace, s *Session) error {
	ctx := context.Background()
	switch args[0] {
	case "combine":
		n, _ := strconv.Atoi(args[3])
		fmt.Println("ready")
		_, _ = io.Copy(io.Discard, os.Stdin)
		out := bufio.NewWriter(os.Stdout)
		for i := 0; i < n; i++ {
			content := fmt.Sprintf("%s-%d", args[4], i)
			var seqs []int64
			var err error
			if len(args) > 5 && args[5] == "turn" {
				var turn Turn
				turn, err = s.AppendTurn(ctx, msg(RoleUser, content))
				seqs = turn.Seqs
			} else {
				seqs, err = s.Append(ctx, msg(RoleUser, content))
			}
			if err != nil {
				return err
			}
			fmt.Fprintf(out, "%d %s\n", seqs[0], content)
		}
		fmt.Fprintf(out, "combined %d\n", w.combined.Load())
		return out.Flush()
	case "combinedie":
		lk, err := w.lock(ctx, s.st)
		if err != nil {
			return err
		}
		a := w.areaLocked(s.st, true)
		fmt.Println("locked")
		for deadline := time.Now().Add(10 * time.Second); !a.anyReady(false); time.Sleep(time.Millisecond) {
			if time.Now().After(deadline) {
				return fmt.Errorf("no records came to a slot")
			}
		}
		w.combineHook = func(f File, buf []byte) {
			switch args[3] {
			case "hang":
				time.Sleep(time.Hour) // stuck (the test kills it)
			case "all":
				_, _ = f.Write(buf)
			case "torn":
				nl := strings.IndexByte(string(buf), '\n') + 1
				_, _ = f.Write(buf[:nl+(len(buf)-nl)/2])
			}
			_ = syscall.Kill(os.Getpid(), syscall.SIGKILL)
			time.Sleep(time.Minute)
		}
		s.combineLead(lk, nil)
		return fmt.Errorf("the combiner outlived its hook")
	}
	return fmt.Errorf("bad combine helper mode %q", args)
}

// Eight processes append to one session with durability batch: most of
// their appends are written by another process (combined), every
// acknowledged message is in the file once, under the seq it was
// acknowledged with, and seqs are contiguous. With AppendTurn too, when
// no automatic reset is configured (the default): the turn is then its
// records as given.
func TestCombiningAcrossProcesses(t *testing.T) {
	for _, how := range []string{"append", "turn"} {
		t.Run(how, func(t *testing.T) { combiningAcrossProcesses(t, how) })
	}
}

func combiningAcrossProcesses(t *testing.T, how string) {
	const procs, each = 8, 150
	root := t.TempDir()
	ps := make([]*cmdPipe, procs)
	for i := range ps {
		ps[i] = startPiped(t, fmt.Sprintf("combine %s shared %d p%d %s", root, each, i, how))
	}
	for _, p := range ps {
		if line, _ := p.out.ReadString('\n'); line != "ready\n" {
			t.Fatalf("helper said %q", line)
		}
	}
	for _, p := range ps {
		p.in.Close()
	}
	acked := map[int64]string{}
	combined := 0
	for _, p := range ps {
		for {
			line, err := p.out.ReadString('\n')
			if err != nil {
				t.Fatalf("helper stopped: %v (%q)", err, line)
			}
			line = strings.TrimSuffix(line, "\n")
			if n, ok := strings.CutPrefix(line, "combined "); ok {
				c, _ := strconv.Atoi(n)
				combined += c
				break
			}
			seq, content, _ := strings.Cut(line, " ")
			n, _ := strconv.ParseInt(seq, 10, 64)
			if prev, dup := acked[n]; dup {
				t.Fatalf("seq %d acknowledged twice: %s and %s", n, prev, content)
			}
			acked[n] = content
		}
		if err := p.cmd.Wait(); err != nil {
			t.Fatal(err)
		}
	}
	w, err := Open(root, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer w.Close()
	s := namedSession(t, w, "shared")
	recs, err := s.ReadAll(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	requireEachOnce(t, recs, procs*each)
	for _, r := range recs[1:] {
		if acked[r.Seq] != r.Content {
			t.Fatalf("seq %d holds %q, acknowledged as %q", r.Seq, r.Content, acked[r.Seq])
		}
	}
	if combined == 0 {
		t.Fatal("no append was written by another process: nothing was combined")
	}
	// The slots' blocks were allocated before they were mapped: a store
	// into a hole would need disk space at the fault (a SIGBUS on a full
	// disk).
	var st syscall.Stat_t
	if err := syscall.Stat(w.LockPath(namedSession(t, w, "shared").ID()), &st); err != nil {
		t.Fatal(err)
	}
	if st.Size != combineFileSize || st.Blocks*512 < combineLen {
		t.Fatalf("lock file: %d bytes, %d allocated; want %d, at least %d", st.Size, st.Blocks*512, combineFileSize, combineLen)
	}
	if rep, err := w.Check(context.Background()); err != nil || !rep.Clean() {
		t.Fatalf("check: %v %+v", err, rep)
	}
	t.Logf("%d of %d appends written by another process", combined, procs*each)
}

// A combiner dies after claiming records of another process, before
// answering: before writing them, after writing them all (not fsynced),
// or in the middle of the second line. The owner finds its slot still
// claimed once the lock is free, keeps the lines that are complete where
// the combiner noted it would write them, appends the rest, and is
// answered with the seqs the records have in the file, each once.
func TestCombinerDiesBeforeAnswering(t *testing.T) {
	for _, stage := range []string{"before", "all", "torn"} {
		t.Run(stage, func(t *testing.T) {
			root := t.TempDir()
			w, err := Open(root, &Options{Durability: DurabilityBatch, LockTimeout: time.Minute})
			if err != nil {
				t.Fatal(err)
			}
			defer w.Close()
			s := namedSession(t, w, "victim")
			mustAppend(t, s, msg(RoleUser, "first"))
			p := startPiped(t, fmt.Sprintf("combinedie %s victim %s", root, stage))
			if line, _ := p.out.ReadString('\n'); line != "locked\n" {
				t.Fatalf("helper said %q", line)
			}
			seqs, err := s.Append(context.Background(), msg(RoleUser, "x1"), msg(RoleAssistant, "x2"))
			if err != nil {
				t.Fatal(err)
			}
			if err := p.cmd.Wait(); err == nil || !strings.Contains(err.Error(), "killed") {
				t.Fatalf("the combiner did not die as planned: %v", err)
			}
			recs, err := s.ReadAll(context.Background())
			if err != nil {
				t.Fatal(err)
			}
			var got []string
			for _, r := range recs {
				got = append(got, fmt.Sprintf("%d:%s", r.Seq, r.Content))
			}
			want := []string{"2:first", fmt.Sprintf("%d:x1", seqs[0]), fmt.Sprintf("%d:x2", seqs[1])}
			if strings.Join(got[1:], " ") != strings.Join(want, " ") || seqs[0] != 3 || seqs[1] != 4 {
				t.Fatalf("session holds %v, append answered %v", got, seqs)
			}
			if rep, err := w.Check(context.Background()); err != nil {
				t.Fatal(err)
			} else {
				for _, f := range rep.Files {
					for _, pr := range f.Problems {
						t.Errorf("problem after recovery: %v", pr)
					}
				}
			}
			if got := w.combined.Load(); got != 0 {
				t.Fatalf("answered by a dead combiner (%d)", got)
			}
		})
	}
}

// A combiner that claimed records and hangs (stopped, a stuck disk) while
// holding the session: the owner gives up after its lock timeout and says
// the records may or may not have been written.
func TestStuckCombinerTimesOut(t *testing.T) {
	root := t.TempDir()
	w, err := Open(root, &Options{Durability: DurabilityBatch, LockTimeout: 300 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	defer w.Close()
	s := namedSession(t, w, "stuck")
	mustAppend(t, s, msg(RoleUser, "first"))
	p := startPiped(t, fmt.Sprintf("combinedie %s stuck hang", root))
	if line, _ := p.out.ReadString('\n'); line != "locked\n" {
		t.Fatalf("helper said %q", line)
	}
	start := time.Now()
	_, err = s.Append(context.Background(), msg(RoleUser, "x1"))
	if err == nil || !strings.Contains(err.Error(), "may or may not be in the session") || errors.Is(err, ErrLocked) {
		t.Fatalf("append behind a stuck combiner: %v", err)
	}
	if took := time.Since(start); took > 30*time.Second {
		t.Fatalf("gave up after %s", took)
	}
}

// A slot whose owner died after it was answered (or while filling it) is
// taken again after combineAbandoned; a fresh answered slot is not.
func TestAbandonedSlotsAreTakenAgain(t *testing.T) {
	w := openTest(t, &Options{Durability: DurabilityBatch})
	if w.Store() != nil {
		t.Skip("combining is for session files")
	}
	s := namedSession(t, w, "slots")
	mustAppend(t, s, msg(RoleUser, "one"))
	s.st.holderMu.Lock()
	a := w.areaLocked(s.st, true)
	s.st.holderMu.Unlock()
	if a == nil {
		t.Fatal("no combining slots")
	}
	defer s.st.releaseArea(a)
	payload, _ := slotEntry(nil, &Record{Type: TypeMessage, Role: RoleUser, Content: "x", Tokens: 1})
	var gens [combineSlots]uint32
	for k := range gens {
		i, gen, ok := a.take(payload, 1)
		if !ok || int(i) != k {
			t.Fatalf("take %d: slot %d, %v", k, i, ok)
		}
		gens[i] = gen
	}
	if _, _, ok := a.take(payload, 1); ok {
		t.Fatal("a 17th slot was taken while 16 wait")
	}
	// All answered (their owners never came back): fresh, they stay.
	for i, gen := range gens {
		atomic.StoreUint32(a.word(uint32(i)), slotWord(gen, slotDone))
		a.stamp(uint32(i))
	}
	if _, _, ok := a.take(payload, 1); ok {
		t.Fatal("a slot answered a moment ago was taken")
	}
	// Slot 5 was answered long ago.
	binary.LittleEndian.PutUint64(a.slot(5)[slotOffSince:], uint64(time.Now().Add(-2*combineAbandoned).UnixMilli()))
	i, gen, ok := a.take(payload, 1)
	if !ok || i != 5 || gen == gens[5] {
		t.Fatalf("abandoned slot not taken again: slot %d gen %d (was %d), %v", i, gen, gens[5], ok)
	}
	// Its old owner, were it alive, could no longer free it.
	if atomic.CompareAndSwapUint32(a.word(5), slotWord(gens[5], slotDone), slotWord(gens[5], slotFree)) {
		t.Fatal("the old generation's answer freed the new use of the slot")
	}
}

// FuzzSlotLines: a message's slot form gives back the encoder's line,
// and any payload at all (a slot written by something else) either parses
// into whole JSON lines or is refused, never panics.
func FuzzSlotLines(f *testing.F) {
	f.Add("hello", "ann", int64(0), []byte{}, 1)
	f.Add("quote \" \\ \n ✓", "", int64(1765105200123), []byte{3, 0, '"', 'x', '"', 0, 2, 0, 0, 0, ',', '}'}, 1)
	f.Fuzz(func(t *testing.T, content, sender string, atMs int64, raw []byte, count int) {
		now := time.Date(2026, 12, 7, 12, 0, 0, 5, time.UTC)
		r := Record{Type: TypeMessage, Role: RoleUser, Content: content, Sender: sender, Tokens: 3}
		if atMs > 0 {
			r.At = time.UnixMilli(atMs % (1 << 45))
		}
		if want, _, err := (&Workspace{}).encodeRecords(nil, []Record{r}, 41, now, appendRecord, nil); err == nil {
			p, ok := slotEntry(nil, &r)
			if !ok {
				t.Fatalf("valid record refused: %+v", r)
			}
			got, last, ok := slotLines(nil, p, 1, 41, now)
			if !ok || last != 42 || string(got) != string(want) {
				t.Fatalf("slot line %q (%v, %d), encoder %q", got, ok, last, want)
			}
		}
		if count < 0 || count > 64 {
			return
		}
		got, _, ok := slotLines(nil, raw, count, 0, now)
		if !ok {
			return
		}
		lines := strings.SplitAfter(string(got), "\n")
		if len(lines) != count+1 || lines[count] != "" {
			t.Fatalf("%d records gave lines %q", count, lines)
		}
		for _, line := range lines[:count] {
			if !strings.HasPrefix(line, `{"type":"`) || !strings.HasSuffix(line, "}\n") {
				t.Fatalf("line %q", line)
			}
		}
	})
}
