//go:build !linux

package workspace

import "context"

// combineArea is not built here: combining needs futexes (Linux). Batch
// appends take the lock themselves and share fsyncs (syncqueue.go).
type combineArea struct{}

func (st *sessionState) detachArea() {}

func (a *combineArea) noteWhere(*claimedSlot) {}

func (a *combineArea) anyReady(bool) bool { return false }

func (w *Workspace) areaLocked(*sessionState, bool) *combineArea { return nil }

func (s *Session) flushCombining(context.Context, []*appendReq) bool { return false }
