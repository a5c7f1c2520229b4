//go:build !linux

package workspace

import "time"

// storeSys is nil off Linux: a store's sessions are then known by their
// size and time only (a rewrite under a new generation is not told apart
// from an append).
func storeSys(StoreStat, time.Time) any { return nil }
