package main

import "github.com/picosess/picosess/workspace"

// errorCodes lists the library errors that have their own exit code.
var errorCodes = []struct {
	err  error
	code int
}{
	{workspace.ErrLocked, exitLocked},
	{workspace.ErrNotWorkspace, exitNotWS},
}
