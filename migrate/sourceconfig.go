package migrate

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"reflect"
	"sort"
	"strings"

	"github.com/titanous/json5"

	"github.com/picosess/picosess/keying"
	"github.com/picosess/picosess/workspace"
)

// ErrSourceConfig: the source install's own config could not be read.
var ErrSourceConfig = errors.New("migrate: the source install's config cannot be read")

// SourceConfig is what a legacy install's own config file says about
// session keying, and the target config proposed from it.
type SourceConfig struct {
	System System `json:"system"`
	// Path is the config file read; "" when the install has none (the
	// system's defaults are proposed).
	Path string `json:"path,omitempty"`
	// Settings lists what was read, in words: `dmScope "per-peer"`.
	Settings []string `json:"settings,omitempty"`
	// Proposal is the target config proposed: a config.json holding the
	// keying settings, in the source system's own spelling.
	Proposal json.RawMessage `json:"proposal"`
	// StoreDirs are session directories the config moved outside the
	// install (OpenClaw session.store, PicoClaw agent workspaces), absolute.
	StoreDirs []string `json:"store_dirs,omitempty"`
	Warnings  []string `json:"warnings,omitempty"`

	policy keying.Policy
}

// Policy is the keying policy of the proposal.
func (c *SourceConfig) Policy() keying.Policy { return c.policy }

// configNames are the config file names of each system, newest name first.
var configNames = map[System][]string{
	SystemPicoClaw: {"config.json"},
	SystemOpenClaw: {"openclaw.json", "moltbot.json", "clawdbot.json", "clawdis.json"},
	SystemClodds:   {"clodds.json"},
}

// findSourceConfig looks for sys's config in root and up to three parents
// (root may be a sessions directory inside the install), stopping below
// the user's home and the file system root. It returns every candidate of
// the first directory holding one, newest name first.
func findSourceConfig(root string, sys System) []string {
	names := configNames[sys]
	if len(names) == 0 {
		return nil
	}
	home, _ := os.UserHomeDir()
	dir := root
	for i := 0; i < 4; i++ {
		var found []string
		for _, n := range names {
			p := filepath.Join(dir, n)
			if st, err := os.Stat(p); err == nil && st.Mode().IsRegular() && looksLikeConfig(p, sys) {
				found = append(found, p)
			}
		}
		if len(found) > 0 {
			return found
		}
		parent := filepath.Dir(dir)
		if parent == dir || parent == home || dir == home {
			break
		}
		dir = parent
	}
	return nil
}

// looksLikeConfig rejects a PicoClaw session file that happens to be named
// config.json (a key "config"): a config has none of a session's fields.
func looksLikeConfig(p string, sys System) bool {
	if sys != SystemPicoClaw {
		return true
	}
	b, err := os.ReadFile(p)
	if err != nil {
		return false
	}
	var top map[string]json.RawMessage
	if json5.Unmarshal(b, &top) != nil {
		return true // reported when read
	}
	_, key := top["key"]
	_, msgs := top["messages"]
	return !key && !msgs
}

// ReadSourceConfig reads the config of the sys install at root (PicoClaw
// config.json; OpenClaw openclaw.json, moltbot.json, clawdbot.json or
// clawdis.json; Clodds clodds.json; JSON5 is accepted everywhere) and
// proposes the target config that keys sessions as the install did:
// dimensions, dm_scope/dmScope and identity links, spelt as the source
// spells them, the system's defaults made explicit. A config that cannot
// be parsed is an error naming the file (ErrSourceConfig).
func ReadSourceConfig(root string, sys System) (*SourceConfig, error) {
	c := &SourceConfig{System: sys}
	found := findSourceConfig(root, sys)
	var top map[string]any
	if len(found) > 0 {
		c.Path = found[0]
		for _, other := range found[1:] {
			c.Warnings = append(c.Warnings, fmt.Sprintf("%s is an older name of the config; %s is used", other, filepath.Base(c.Path)))
		}
		b, err := os.ReadFile(c.Path)
		if err != nil {
			return nil, fmt.Errorf("%w: %v", ErrSourceConfig, err)
		}
		if err := json5.Unmarshal(b, &top); err != nil {
			return nil, fmt.Errorf("%w: %s: %v (JSON5 expected)", ErrSourceConfig, c.Path, err)
		}
	}
	session, _ := top["session"].(map[string]any)
	prop := map[string]any{}
	set := func(name string, v any, note string) {
		prop[name] = v
		b, _ := json.Marshal(v)
		s := fmt.Sprintf("session.%s %s", name, b)
		if note != "" {
			s += " (" + note + ")"
		}
		c.Settings = append(c.Settings, s)
	}
	switch sys {
	case SystemPicoClaw:
		if v, ok := session["dimensions"]; ok {
			set("dimensions", v, "")
		}
		if v, ok := session["dm_scope"]; ok {
			set("dm_scope", v, "")
		}
		if v, ok := session["identity_links"]; ok {
			set("identity_links", v, "")
		}
		c.StoreDirs = picoWorkspaces(top, c.Path)
	case SystemOpenClaw:
		if v, ok := session["dmScope"]; ok {
			set("dmScope", v, "")
		} else {
			set("dmScope", "main", "OpenClaw's default")
		}
		if v, ok := session["identityLinks"]; ok {
			set("identityLinks", v, "")
		}
		if v, ok := session["store"].(string); ok && v != "" {
			dirs, warn := openClawStoreDirs(v, top, c.Path)
			c.StoreDirs = dirs
			c.Warnings = append(c.Warnings, warn...)
			c.Settings = append(c.Settings, fmt.Sprintf("session.store %q", v))
		}
	case SystemClodds:
		if v, ok := session["dmScope"]; ok {
			set("dmScope", v, "")
		} else {
			set("dmScope", "per-channel-peer", "Clodds' default")
		}
	}
	doc := map[string]any{}
	if len(prop) > 0 {
		doc["session"] = prop
	}
	b, err := json.MarshalIndent(doc, "", "  ")
	if err != nil {
		return nil, fmt.Errorf("%w: %v", ErrSourceConfig, err)
	}
	c.Proposal = append(b, '\n')
	name := "proposed config"
	if c.Path != "" {
		name = c.Path
	}
	cfg, _, err := workspace.ParseConfig(name, c.Proposal)
	if err != nil {
		return nil, fmt.Errorf("%w: %v", ErrSourceConfig, err)
	}
	c.policy = cfg.Policy()
	return c, nil
}

// expandHome expands a leading ~ to the home directory of the user running
// migrate (the source install's paths were written for its own user).
func expandHome(p string) string {
	if p == "~" || strings.HasPrefix(p, "~/") {
		if home, err := os.UserHomeDir(); err == nil {
			return filepath.Join(home, strings.TrimPrefix(p, "~"))
		}
	}
	return p
}

// openClawStoreDirs resolves session.store: the directories of the store
// files it names, {agentId} replaced by each agent that has one.
func openClawStoreDirs(store string, top map[string]any, cfgPath string) (dirs []string, warnings []string) {
	p := expandHome(store)
	if !filepath.IsAbs(p) {
		p = filepath.Join(filepath.Dir(cfgPath), p)
	}
	if strings.Contains(p, "{agentId}") {
		matches, _ := filepath.Glob(strings.ReplaceAll(p, "{agentId}", "*"))
		for _, m := range matches {
			dirs = append(dirs, filepath.Dir(m))
		}
	} else if _, err := os.Stat(p); err == nil {
		dirs = append(dirs, filepath.Dir(p))
	}
	if len(dirs) == 0 {
		warnings = append(warnings, fmt.Sprintf("session.store %q names no store that exists here (%s): nothing read from it", store, p))
	}
	sort.Strings(dirs)
	return dirs, warnings
}

// picoWorkspaces are the sessions directories of PicoClaw agent
// workspaces set in the config (agents.defaults.workspace,
// agents.list[].workspace), where they exist.
func picoWorkspaces(top map[string]any, cfgPath string) []string {
	agents, _ := top["agents"].(map[string]any)
	var ws []string
	if d, ok := agents["defaults"].(map[string]any); ok {
		if w, ok := d["workspace"].(string); ok && w != "" {
			ws = append(ws, w)
		}
	}
	if l, ok := agents["list"].([]any); ok {
		for _, e := range l {
			if m, ok := e.(map[string]any); ok {
				if w, ok := m["workspace"].(string); ok && w != "" {
					ws = append(ws, w)
				}
			}
		}
	}
	var out []string
	for _, w := range ws {
		p := expandHome(w)
		if !filepath.IsAbs(p) {
			p = filepath.Join(filepath.Dir(cfgPath), p)
		}
		d := filepath.Join(p, "sessions")
		if st, err := os.Stat(d); err == nil && st.IsDir() {
			out = append(out, d)
		}
	}
	sort.Strings(out)
	return out
}

// SameKeying reports whether two policies key sessions alike (dimensions,
// direct-message policy, identity links, shared sessions, rules).
func SameKeying(a, b keying.Policy) bool {
	norm := func(p keying.Policy) keying.Policy {
		if p.Dimensions == nil {
			p.Dimensions = []string{keying.DimChat}
		}
		return p
	}
	return reflect.DeepEqual(norm(a), norm(b))
}

// ConfigChange is what writing a proposed config into a workspace does.
type ConfigChange string

// Outcomes of WriteProposedConfig.
const (
	ConfigWritten   ConfigChange = "written"   // there was no config.json
	ConfigMerged    ConfigChange = "merged"    // config.json had no keying settings: the proposal's were added
	ConfigUnchanged ConfigChange = "unchanged" // config.json keys sessions the same way already
	// ConfigBeside: config.json cannot be edited in place safely (a
	// symbolic link, other hard links, a key twice): the merged config is
	// written beside it (ConfigBesideName) and config.json left as it is.
	ConfigBeside ConfigChange = "beside"
)

// ErrConfigConflict: the workspace's config.json keys sessions differently
// from the proposal; nothing was written.
var ErrConfigConflict = errors.New("migrate: the workspace's config.json keys sessions differently")

var keyingFields = []string{"dimensions", "dm_scope", "identity_links", "dmScope", "identityLinks"}

// CheckProposedConfig says what WriteProposedConfig would do, without
// writing: ErrConfigConflict names the differing settings.
func CheckProposedConfig(root string, proposal json.RawMessage) (ConfigChange, error) {
	e, err := ProposedConfigEdit(root, proposal)
	if err != nil {
		return "", err
	}
	return e.Change, nil
}

// WriteProposedConfig writes the proposal as <root>/config.json. An
// existing config.json that keys sessions the same way is left alone; one
// without keying settings gets the proposal's session settings added, its
// text otherwise unchanged (or, where it cannot be edited in place safely,
// the merged config goes beside it: ConfigBeside); one that keys sessions
// differently is never overwritten (ErrConfigConflict).
func WriteProposedConfig(root string, proposal json.RawMessage) (ConfigChange, error) {
	e, err := ProposedConfigEdit(root, proposal)
	if err != nil {
		return "", err
	}
	return e.Change, e.Write()
}

// ProposedConfigEdit says what writing the proposal into <root> does, and
// holds the text to write (configedit.go); nothing is written.
func ProposedConfigEdit(root string, proposal json.RawMessage) (*ConfigEdit, error) {
	return planConfigEdit(root, proposal)
}

// Write carries the edit out.
func (e *ConfigEdit) Write() error { return e.write() }

func oneLine(b []byte) string {
	var buf bytes.Buffer
	if json.Compact(&buf, b) != nil {
		return string(b)
	}
	return buf.String()
}

// Reconcile checks the proposal against the keys the sessions were
// written under, which say how the install was configured then: an
// OpenClaw or Clodds store whose direct-chat keys all have one shape
// was written under the dmScope of that shape, whatever the config says
// now, and that scope is proposed (with a warning when the config names
// another). PicoClaw opaque sessions record their dimensions: one outside
// the proposal's is reported.
func (c *SourceConfig) Reconcile(res *Result) error {
	switch c.System {
	case SystemOpenClaw:
		shapes := map[string]int{}
		for _, s := range res.Sources {
			if s.KeyInferred {
				continue
			}
			lk, err := keying.ParseLegacy(s.Key)
			if err != nil {
				continue
			}
			switch lk.Shape {
			case keying.ShapePeer:
				shapes[keying.ScopePerPeer]++
			case keying.ShapeChannelPeer:
				shapes[keying.ScopePerChannelPeer]++
			case keying.ShapeAccountChannelPeer:
				shapes[keying.ScopePerAccountChannelPeer]++
			}
		}
		if len(shapes) != 1 {
			if len(shapes) > 1 {
				c.Warnings = append(c.Warnings, fmt.Sprintf("direct chats were keyed under several scopes over time (%s): the proposal keeps %s", countList(shapes), c.setting("dmScope")))
			}
			return nil
		}
		var written string
		for k := range shapes {
			written = k
		}
		now, _ := c.value("dmScope").(string)
		if strings.EqualFold(now, written) {
			return nil
		}
		why := "OpenClaw's default"
		if c.Path != "" && !strings.Contains(c.setting("dmScope"), "default") {
			why = filepath.Base(c.Path)
		}
		c.Warnings = append(c.Warnings, fmt.Sprintf("the direct chats' keys were written under dmScope %q, but %s says %q: proposing %q, as the sessions were written", written, why, now, written))
		return c.put("dmScope", written, "as the sessions were written")
	case SystemPicoClaw:
		pol := c.policy
		dims := pol.Dimensions
		if dims == nil {
			dims = []string{keying.DimChat}
		}
		outside := map[string]int{}
		for _, s := range res.Sources {
			if s.Scope == nil {
				continue
			}
			for _, d := range s.Scope.Dimensions {
				if !containsString(dims, d) {
					outside[d]++
				}
			}
		}
		if len(outside) > 0 {
			c.Warnings = append(c.Warnings, fmt.Sprintf("opaque sessions were written with dimensions the proposal lacks (%s): the config changed since they were written; set session.dimensions by hand (--config) if those chats should continue", countList(outside)))
		}
	}
	return nil
}

func countList(m map[string]int) string {
	var parts []string
	for _, k := range sortedKeys(m) {
		parts = append(parts, fmt.Sprintf("%s: %d", k, m[k]))
	}
	return strings.Join(parts, ", ")
}

func containsString(l []string, s string) bool {
	for _, x := range l {
		if x == s {
			return true
		}
	}
	return false
}

func (c *SourceConfig) value(name string) any {
	var doc struct {
		Session map[string]any `json:"session"`
	}
	_ = json.Unmarshal(c.Proposal, &doc)
	return doc.Session[name]
}

func (c *SourceConfig) setting(name string) string {
	for _, s := range c.Settings {
		if strings.HasPrefix(s, "session."+name+" ") {
			return s
		}
	}
	return ""
}

// put changes one session setting of the proposal.
func (c *SourceConfig) put(name string, v any, note string) error {
	var doc map[string]map[string]any
	if err := json.Unmarshal(c.Proposal, &doc); err != nil {
		return fmt.Errorf("%w: %v", ErrSourceConfig, err)
	}
	if doc == nil {
		doc = map[string]map[string]any{}
	}
	if doc["session"] == nil {
		doc["session"] = map[string]any{}
	}
	doc["session"][name] = v
	b, err := json.MarshalIndent(doc, "", "  ")
	if err != nil {
		return fmt.Errorf("%w: %v", ErrSourceConfig, err)
	}
	cfg, _, err := workspace.ParseConfig("proposed config", b)
	if err != nil {
		return fmt.Errorf("%w: %v", ErrSourceConfig, err)
	}
	c.Proposal, c.policy = append(b, '\n'), cfg.Policy()
	vb, _ := json.Marshal(v)
	line := fmt.Sprintf("session.%s %s (%s)", name, vb, note)
	for i, s := range c.Settings {
		if strings.HasPrefix(s, "session."+name+" ") {
			c.Settings[i] = line
			return nil
		}
	}
	c.Settings = append(c.Settings, line)
	return nil
}

// ReadInstall detects the system of the install at from (unless
// opts.System names one), reads its own config (ReadSourceConfig), reads
// its sessions, including those the config moved outside from, and
// reconciles the proposal with the keys found. A config that cannot be
// read gives an error matching ErrSourceConfig with the sessions read all
// the same (res is not nil then), so that a caller given another config
// may go on.
func ReadInstall(ctx context.Context, from string, opts Options) (*Result, *SourceConfig, error) {
	if real, err := filepath.EvalSymlinks(from); err == nil {
		from = real
	}
	sys := opts.System
	if sys == "" || sys == SystemAuto {
		d, err := Detect(ctx, from)
		if errors.Is(err, ErrNotLegacy) {
			// the store may live where the config moved it
			var cfgErr error
			for _, s := range []System{SystemOpenClaw, SystemPicoClaw} {
				c, cerr := ReadSourceConfig(from, s)
				if cerr != nil && cfgErr == nil {
					cfgErr = cerr
				}
				if cerr == nil && c.Path != "" && len(c.StoreDirs) > 0 {
					found := addExtraDirs(from, nil, c.StoreDirs)
					for _, f := range found {
						if f.systems[s] {
							d, err = s, nil
						}
					}
					if err == nil {
						break
					}
				}
			}
			if err != nil && cfgErr != nil {
				// the config that might have said where the store is
				err = fmt.Errorf("%w (and %w)", err, cfgErr)
			}
		}
		if err != nil {
			return nil, nil, err
		}
		sys = d
	}
	opts.System = sys
	cfg, cfgErr := ReadSourceConfig(from, sys)
	if cfg != nil {
		opts.ExtraDirs = append(append([]string(nil), opts.ExtraDirs...), cfg.StoreDirs...)
	}
	res, err := Read(ctx, from, opts)
	if err != nil {
		return nil, cfg, err
	}
	if cfgErr != nil {
		return res, nil, cfgErr
	}
	if err := cfg.Reconcile(res); err != nil {
		return res, nil, err
	}
	return res, cfg, nil
}
