// Package config is the one schema of <root>/config.json: a json-tagged
// File decoded once, with PicoClaw's and OpenClaw's spellings of the
// session block accepted, validated with errors that name the field path,
// line and column. The workspace, its lifecycle policy and summarize take
// the decoded File; none of them parses the file again.
//
//	f, warnings, err := config.Load(root) // a missing file gives the defaults
//	p := f.Policy()                       // keying policy: dimensions, dm_scope, links, dispatch rules
//	a := f.Agent("support")               // summarize, reset and limits for one agent, laid field by field
//	// errors.Is(err, config.ErrConfig); a *config.Error has File, Line, Column, Field
//
// workspace.Open calls Load (workspace.Config is File, workspace.LoadConfig
// is Load); docs/config.md documents every field.
//
// # Files it owns
//
// None: it reads <root>/config.json and never writes it.
package config
