package workspace

import (
	"context"
	"crypto/rand"
	"encoding/binary"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"time"
)

// Appends to a Store. No lock is taken: the records are built on the
// session as the store last said it was (its size, generation and last
// seq, remembered from this process's previous append or asked for), and
// Store.Append stores them only if the session is still that; if another
// process (on any machine) appended meanwhile, they are built again on
// what it is now. So every caller's records get contiguous seqs and are
// never interleaved with another's, as under the file lock; a builder that
// decides on the history (Update, AppendIf, AppendTurn's resets) decides
// on the history its records follow.

// storeRetryFor bounds how long an append keeps retrying a store that
// cannot be reached, with the same token (so a call stored before its
// reply was lost is not stored twice).
const storeRetryFor = 5 * time.Second

// storeMaxConflicts bounds the rebuilds of one append under contention.
const storeMaxConflicts = 1000

// appendToken is the idempotency token of one append call: a retry of the
// call (after a lost reply, a restarted server) reuses it, and the store
// keeps it for a while so that the retry stores nothing twice.
func appendToken() string {
	var b [16]byte
	_, _ = rand.Read(b[:])
	return hex.EncodeToString(b[:])
}

func newGen() uint64 {
	var b [8]byte
	_, _ = rand.Read(b[:])
	g := binary.LittleEndian.Uint64(b[:]) >> 1
	if g == 0 {
		g = 1
	}
	return g
}

// storeTokenKey is the context key of an idempotency token given by the
// caller (WithAppendToken).
type storeTokenKey struct{}

// WithAppendToken makes the next append under ctx use token as its
// idempotency token on a Store: a caller that retries a failed append
// (the store went away before it answered) with the same token gets the
// seqs of the first attempt if it was stored, and the records are stored
// once. Ignored by file workspaces (an append there either returns its
// seqs or stored nothing).
func WithAppendToken(ctx context.Context, token string) context.Context {
	return context.WithValue(ctx, storeTokenKey{}, token)
}

func (s *Session) flushStore(ctx context.Context, reqs []*appendReq) {
	fail := func(err error) {
		for _, r := range reqs {
			if r.err == nil {
				r.seqs, r.err = nil, err
			}
		}
	}
	// The in-process semaphore keeps this process's appends to the
	// session in order, and the remembered state valid.
	st := s.st
	select {
	case st.sem <- struct{}{}:
	case <-ctx.Done():
		fail(fmt.Errorf("workspace: append to %s: %w", s.id, ctx.Err()))
		return
	}
	defer func() { <-st.sem }()
	token, _ := ctx.Value(storeTokenKey{}).(string)
	if token == "" {
		token = appendToken()
	}
	var down time.Time
	for conflicts := 0; ; {
		for _, r := range reqs {
			r.seqs, r.err = nil, nil
		}
		err := s.flushStoreOnce(ctx, reqs, token)
		var ce *ConflictError
		switch {
		case err == nil:
			return
		case errors.As(err, &ce):
			st.known = false
			if conflicts++; conflicts < storeMaxConflicts {
				continue
			}
			fail(fmt.Errorf("workspace: append to %s: gave up after %d concurrent changes: %w", s.id, conflicts, err))
			return
		case errors.Is(err, ErrStoreUnavailable) && ctx.Err() == nil:
			st.known = false
			if down.IsZero() {
				down = time.Now()
			}
			if time.Since(down) < storeRetryFor {
				t := time.NewTimer(100 * time.Millisecond)
				select {
				case <-t.C:
					continue
				case <-ctx.Done():
					t.Stop()
				}
			}
		}
		st.known = false
		fail(err)
		return
	}
}

// flushStoreOnce builds and encodes the records of reqs on the session as
// it is known and stores them in one Store.Append.
func (s *Session) flushStoreOnce(ctx context.Context, reqs []*appendReq, token string) error {
	w, st, path := s.w, s.st, s.Path()
	// Records built on the history (not plain) are built on the session
	// as the store has it now, as they are under the file lock: what this
	// process remembers may be behind another machine's appends, and a
	// builder that refuses on a stale view would never learn it.
	fresh := st.known
	for _, r := range reqs {
		fresh = fresh && (r.plain || r.build == nil)
	}
	var cur StoreStat
	if fresh {
		cur = StoreStat{ID: s.id, Size: st.ident.Size, Gen: st.ident.Inode, ModTime: st.ident.ModTime, LastSeq: st.lastSeq}
	} else {
		var err error
		cur, err = w.store.Stat(ctx, s.id)
		if errors.Is(err, ErrNotFound) {
			cur, err = StoreStat{ID: s.id}, nil
		}
		if err != nil {
			return fmt.Errorf("workspace: append to %s: %w", s.id, err)
		}
	}
	sfs, _ := w.fs.(*storeFS)
	f := &storeFile{fs: sfs, name: path, st: cur}
	ident := Identity{Size: cur.Size, Dev: storeDev, Inode: cur.Gen, ModTime: cur.ModTime}
	end, last, gen := cur.Size, cur.LastSeq, cur.Gen
	if end == 0 {
		if err := s.mayCreate(); err != nil {
			return err
		}
		if err := s.mayCreateSealed(); err != nil {
			return err
		}
		gen = newGen()
	}
	encode, _, err := s.encoderFor(f, end, ident)
	if err != nil {
		return err
	}
	now := w.opts.Now().UTC()
	sealed := w.Encrypting() || w.opts.Key != nil
	meta := map[string]string{}
	var buf []byte
	n := 0
	if end == 0 {
		h := s.newHeader(now)
		if buf, err = encode(buf, &h); err != nil {
			return fmt.Errorf("workspace: append to %s: header: %w", s.id, err)
		}
		if err := w.sizeCheck(h.Type, len(buf)); err != nil {
			return fmt.Errorf("workspace: append to %s: the header: %w; nothing was written", s.id, err)
		}
		buf = append(buf, '\n')
		last, n = 1, 1
		storeMeta(meta, &h, sealed)
	}
	first := last + 1
	for _, r := range reqs {
		if r.build == nil {
			continue
		}
		// Records that look at the session see it as it is, with what
		// this call adds before them.
		view := f
		if len(buf) > 0 && !r.plain {
			view = &storeFile{fs: sfs, name: path, st: cur, pending: buf}
		}
		recs, err := r.build(lockedView{s: s, f: view, end: end + int64(len(buf)), lastSeq: last})
		if err != nil {
			r.err = err
			continue
		}
		mark, seq0 := len(buf), last
		// The listing fields of the call's records go into meta only once
		// the whole call is encoded: a call refused leaves meta as it was.
		var these []*Record
		var seqs []int64
		if buf, seqs, err = w.encodeRecords(buf, recs, last, now, encode, func(r *Record) { c := *r; these = append(these, &c) }); err != nil {
			buf, last = buf[:mark], seq0
			r.err = fmt.Errorf("workspace: append to %s: %w", s.id, err)
			continue
		}
		for _, rec := range these {
			storeMeta(meta, rec, sealed)
		}
		last += int64(len(seqs))
		n += len(seqs)
		r.seqs = seqs
	}
	if len(buf) == 0 {
		return nil
	}
	res, err := w.store.Append(ctx, StoreAppend{ID: s.id, End: end, Gen: gen, Data: buf, First: first, LastSeq: last,
		Records: n, Token: token, Meta: meta, Now: now})
	if err != nil {
		return fmt.Errorf("workspace: append to %s: %w", s.id, err)
	}
	if res.Dup {
		// Stored by an earlier attempt of this call: its seqs.
		d := res.First - first
		for _, r := range reqs {
			for i := range r.seqs {
				r.seqs[i] += d
			}
		}
		st.known = false
		return nil
	}
	st.known, st.lastSeq = true, res.Stat.LastSeq
	st.ident = Identity{Size: res.Stat.Size, Dev: storeDev, Inode: res.Stat.Gen, ModTime: res.Stat.ModTime}
	// No hint in this machine's change journal: the store says what
	// changed, to every machine (Workspace.StoreChangedSince).
	return nil
}

// storeMeta notes the listing fields a record sets. Texts of a sealed
// session stay out: the store's metadata is readable without the key.
func storeMeta(m map[string]string, r *Record, sealed bool) {
	switch r.Type {
	case TypeSession:
		m["created"] = r.At.UTC().Format(time.RFC3339Nano)
		if r.Name != "" {
			m["name"] = r.Name
		}
		if r.Scope != nil {
			if b, err := json.Marshal(r.Scope); err == nil {
				m["scope"] = string(b)
			}
		}
		if len(r.Aliases) > 0 {
			if b, err := json.Marshal(r.Aliases); err == nil {
				m["aliases"] = string(b)
			}
		}
	case TypeMessage:
		m["updated"] = r.At.UTC().Format(time.RFC3339Nano)
	case TypeTitle:
		if !sealed {
			m["title"] = r.Text
		}
	case TypeAliases:
		if len(r.Aliases) > 0 {
			if b, err := json.Marshal(r.Aliases); err == nil {
				m["+aliases"] = string(b)
			}
		}
	}
}
