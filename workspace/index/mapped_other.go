//go:build !linux

package index

// Elsewhere the pages of a segment stay mapped until scorch closes it.
const canDropMapped = false

func dropMapped([]byte) {}
