package index

import "github.com/picosess/picosess/workspace"

// ErrOff is returned by Open for an encrypted workspace whose config does
// not set encryption.index (docs/encryption.md): the index's terms would
// reveal the words of every message.
var ErrOff = workspace.ErrIndexOff
