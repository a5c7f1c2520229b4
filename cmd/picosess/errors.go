package main

import "github.com/picosess/picosess/workspace"

// errorCodes lists the library errors and their exit codes (DESIGN.md
// section 6), matched with errors.Is in order by exitCode. Errors not
// listed exit 1; context.Canceled after an interrupt exits 130 (exitCode).
// The not-found and ambiguity rows are explicit so that the table documents
// every sentinel a command may meet; their messages come from lookup, which
// adds what to do next.
var errorCodes = []struct {
	err  error
	code int
}{
	{workspace.ErrLocked, exitLocked},
	{workspace.ErrNotWorkspace, exitNotWS},
	{workspace.ErrNotFound, exitFailure},
	{workspace.ErrAmbiguous, exitFailure},
	{workspace.ErrExists, exitFailure},
	{workspace.ErrConfig, exitFailure},
	{workspace.ErrCorrupt, exitFailure},
}
