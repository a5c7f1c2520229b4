package migrate

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"sort"
	"strings"
	"time"

	"github.com/picosess/picosess/keying"
	"github.com/picosess/picosess/workspace"
)

// Rule says how a session id was chosen.
type Rule string

// The id rules.
const (
	RuleK Rule = "K" // kept: the PicoClaw sk_v1_ key is the id
	RuleA Rule = "A" // derived from the scope, as live traffic would route it
	RuleB Rule = "B" // sk_v1_ + SHA-256 of lower(trim(raw key))
)

// Action is what Apply will do for one session.
type Action string

// Plan actions.
const (
	ActionCreate Action = "create" // no such session yet
	ActionAppend Action = "append" // an earlier, interrupted import of the same sources: add the rest
	ActionMerge  Action = "merge"  // the session exists with other content: add the history as an earlier conversation
	ActionSkip   Action = "skip"   // already migrated: everything is there
	// ActionRebuild: the session holds an earlier import of the same
	// conversation and nothing else, and this version places records
	// before ones it holds (an OpenClaw orphan it now links): the file
	// goes to the trash and the session is written again, in order.
	ActionRebuild Action = "rebuild"
)

// PlanOptions controls NewPlan.
type PlanOptions struct {
	// Read says how to read the source directory.
	Read Options
	// Policy is the target keying policy; nil means the workspace's
	// config.json (session.dimensions, dm_scope, identity links, rules).
	Policy *keying.Policy
}

// PlannedSession is one target session.
type PlannedSession struct {
	ID     string        `json:"id"`
	Rule   Rule          `json:"rule"`
	Action Action        `json:"action"`
	Keys   []string      `json:"keys"` // raw keys of its sources, the one that names it first
	Scope  *keying.Scope `json:"scope,omitempty"`
	// Aliases go into the header; Aliases[0] is the raw key.
	Aliases     []string `json:"aliases"`
	Name        string   `json:"name,omitempty"` // a named session (redischat)
	Messages    int      `json:"messages"`
	Records     int      `json:"records"`
	Present     int      `json:"present,omitempty"` // records already in the workspace
	Generations int      `json:"generations"`
	Warnings    []string `json:"warnings,omitempty"`
	// Era names the legacy era of the session's first source, in words
	// (docs/migration.md, "Terms").
	Era string `json:"era"`
	// Reason says, in words, why a session stays under its old key (Rule
	// B); "" for the others.
	Reason string `json:"reason,omitempty"`
	// Origin is the header's origin: system, files with their SHA-256, keys.
	Origin json.RawMessage `json:"origin"`

	// ContinuedIn is the live session this conversation went on in: its
	// earlier import was moved there by the assistant's route (adoption,
	// docs/migration.md "Continuing an imported DM") and is in the trash.
	// The plan is applied to that session.
	ContinuedIn string `json:"continued_in,omitempty"`

	// explain holds the warnings that only explain the id or the action
	// (not problems).
	explain map[string]bool
	// elsewhere are planned messages another live session holds (an
	// earlier import written to since): not imported again.
	elsewhere []heldRecord
	// planFP holds the fingerprint of every record of the plan (shared)
	planFP map[string]bool
	// planLoose holds them without their times (shared)
	planLoose map[string]bool
	records   []workspace.Record
	prov      []Provenance
	sources   []*Source
}

// Plan is what a migration will do. Making it writes nothing.
type Plan struct {
	From     string            `json:"from"`
	System   System            `json:"system"`
	Sessions []*PlannedSession `json:"sessions"`
	Files    []FileReport      `json:"files"`
	Warnings []string          `json:"warnings,omitempty"`
	SetAside []SetAside        `json:"set_aside,omitempty"`
	// Config says which config the ids follow and what the source
	// install's own config proposes; set by the caller (the CLI).
	Config *TargetConfig `json:"config,omitempty"`
	// Retire lists the earlier imports of this install under ids the
	// plan does not use: superseded (to the trash after applying) or left
	// live (written to since).
	Retire []Retirement `json:"retire,omitempty"`
	// Read is the read result the plan was made from.
	Read *Result `json:"-"`
}

// Messages counts the messages the plan carries.
func (p *Plan) Messages() int {
	n := 0
	for _, s := range p.Sessions {
		n += s.Messages
	}
	return n
}

// NewPlan reads the legacy directory from and plans its import into ws.
func NewPlan(ctx context.Context, from string, ws *workspace.Workspace, opts PlanOptions) (*Plan, error) {
	res, err := Read(ctx, from, opts.Read)
	if err != nil {
		return nil, err
	}
	return PlanResult(ctx, res, ws, opts)
}

// PlanResult plans the import of an already read result into ws. ws may be
// nil: every session is then planned as created.
func PlanResult(ctx context.Context, res *Result, ws *workspace.Workspace, opts PlanOptions) (*Plan, error) {
	pol, err := targetPolicy(ws, opts.Policy)
	if err != nil {
		return nil, err
	}
	resolver, err := keying.NewResolver(pol)
	if err != nil {
		return nil, fmt.Errorf("migrate: target keying policy: %w", err)
	}
	names := linkedNames(pol.IdentityLinks)
	p := &Plan{From: res.Root, System: res.System, Files: res.Files, Warnings: append([]string(nil), res.Warnings...), SetAside: append([]SetAside(nil), res.SetAside...), Read: res}
	type assigned struct {
		src   *Source
		id    string
		rule  Rule
		scope *keying.Scope
		lk    keying.LegacyKey
		why   string
		kept  string // why it stays under its old key, in words
	}
	var all []*assigned
	for _, s := range res.Sources {
		if err := ctx.Err(); err != nil {
			return nil, err
		}
		a := &assigned{src: s}
		a.id, a.rule, a.scope, a.lk, a.why = assignID(s, resolver, names)
		if a.rule == RuleB {
			a.kept = keptReason(s, a.lk, a.why)
		}
		all = append(all, a)
		p.SetAside = append(p.SetAside, s.SetAside...)
	}
	// collisions: a thread and its parent, ids differing only in case
	byID := map[string][]*assigned{}
	for _, a := range all {
		byID[a.id] = append(byID[a.id], a)
	}
	for id, group := range byID {
		if len(group) < 2 || group[0].rule != RuleA {
			continue
		}
		sort.Slice(group, func(i, j int) bool {
			ti, tj := keyTokens(group[i].src.Key), keyTokens(group[j].src.Key)
			if ti != tj {
				return ti < tj
			}
			return group[i].src.Key < group[j].src.Key
		})
		var keep []*assigned
		for _, a := range group {
			collides := a.lk.Thread != ""
			for _, k := range keep {
				if strings.EqualFold(k.src.Key, a.src.Key) && k.src.Key != a.src.Key {
					collides = true
				}
			}
			if collides && a.rule == RuleA {
				a.id, a.rule = keying.LegacyHash(a.src.Key), RuleB
				a.scope = partialScope(a.src, a.lk)
				msg := fmt.Sprintf("%s reaches %s together with another conversation (a thread under its parent, or a case variant): it takes Rule B", a.src.Key, id)
				a.why, a.kept = msg, KeptCollision
				p.Warnings = append(p.Warnings, msg)
				continue
			}
			keep = append(keep, a)
		}
	}
	// the :dm: and :direct: spellings of one Rule B key are generations of
	// one session, named by the spelling that sorts first
	ruleB := map[string]*assigned{}
	for _, a := range all {
		if a.rule == RuleB {
			ruleB[strings.ToLower(a.src.Key)] = a
		}
	}
	for _, a := range all {
		alt := keying.AlternateSpelling(a.src.Key)
		if o := ruleB[alt]; a.rule == RuleB && o != nil && strings.ToLower(a.src.Key) > alt {
			a.id = keying.LegacyHash(alt)
			a.why = fmt.Sprintf("%s and %s name one conversation (dm/direct): one session, two generations", alt, a.src.Key)
		}
	}
	byID = map[string][]*assigned{}
	var ids []string
	for _, a := range all {
		if byID[a.id] == nil {
			ids = append(ids, a.id)
		}
		byID[a.id] = append(byID[a.id], a)
	}
	sort.Strings(ids)
	for _, id := range ids {
		group := byID[id]
		sort.SliceStable(group, func(i, j int) bool {
			return sourceStart(group[i].src).Before(sourceStart(group[j].src))
		})
		ps := &PlannedSession{ID: id, Rule: group[0].rule, Scope: group[0].scope, Era: eraOf(group[0].src), explain: map[string]bool{}, Name: group[0].src.Name}
		// the key that names the session first: for Rule B the one whose
		// hash is the id, for Rule K the id itself
		var keys []string
		for _, a := range group {
			keys = append(keys, a.src.Key)
			if a.why != "" {
				ps.Warnings = append(ps.Warnings, a.why)
				ps.explain[a.why] = true
			}
			if ps.Reason == "" {
				ps.Reason = a.kept
			}
			if a.rule == RuleK {
				ps.Rule = RuleK
				if a.scope != nil {
					ps.Scope = a.scope
				}
			}
		}
		if ps.Rule != RuleB {
			ps.Reason = ""
		}
		sort.SliceStable(keys, func(i, j int) bool { return keyRank(keys[i], id) < keyRank(keys[j], id) })
		ps.Keys = uniqKeep(keys)
		for _, a := range group {
			ps.addSource(a.src)
		}
		ps.Generations = 0
		for _, a := range group {
			ps.Generations += a.src.Generations
		}
		p.Sessions = append(p.Sessions, ps)
	}
	assignAliases(p)
	if err := p.earlierImports(ctx, ws); err != nil {
		return nil, err
	}
	// every record the plan writes, whichever session: a record an
	// earlier import left in a session that this plan places in another
	// is the import's, not an assistant's
	planFP, planLoose := map[string]bool{}, map[string]bool{}
	if ws != nil {
		for _, ps := range p.Sessions {
			for i := range ps.records {
				k := recFP(&ps.records[i])
				planFP[k] = true
				planLoose[k[:strings.LastIndexByte(k, 0)]] = true
			}
		}
	}
	for _, ps := range p.Sessions {
		ps.planFP, ps.planLoose = planFP, planLoose
		ps.Origin = originOf(res, ps)
		if err := ps.decideAction(ctx, ws); err != nil {
			return nil, err
		}
	}
	return p, nil
}

func targetPolicy(ws *workspace.Workspace, pol *keying.Policy) (keying.Policy, error) {
	if pol != nil {
		return *pol, nil
	}
	if ws == nil {
		return keying.Policy{}, nil
	}
	cfg, _, err := workspace.LoadConfig(ws.Root())
	if err != nil {
		return keying.Policy{}, fmt.Errorf("migrate: target config: %w", err)
	}
	return cfg.Policy(), nil
}

func keyRank(k, id string) int {
	switch {
	case k == id:
		return 0
	case keying.LegacyHash(k) == id:
		return 1
	}
	return 2
}

func uniqKeep(in []string) []string {
	seen := map[string]bool{}
	var out []string
	for _, s := range in {
		if !seen[s] {
			seen[s] = true
			out = append(out, s)
		}
	}
	return out
}

func sourceStart(s *Source) time.Time {
	for _, r := range s.Records {
		if r.Type == workspace.TypeMessage {
			return r.At
		}
	}
	if len(s.Records) > 0 {
		return s.Records[0].At
	}
	return time.Time{}
}

// linkedNames are the target's canonical identity-link names, lowercased:
// a legacy DM peer spelt like one is a linked name, never a chat id.
func linkedNames(l keying.IdentityLinks) map[string]bool {
	out := map[string]bool{}
	for n := range l {
		out[strings.ToLower(strings.TrimSpace(n))] = true
	}
	return out
}

// assignID applies Rule K, A or B to one source.
func assignID(s *Source, r *keying.Resolver, linked map[string]bool) (id string, rule Rule, scope *keying.Scope, lk keying.LegacyKey, why string) {
	if keying.IsID(s.Key) {
		return s.Key, RuleK, s.Scope, lk, ""
	}
	if s.Route != nil {
		id, rule, scope, why = assignRoute(s, r)
		return id, rule, scope, lk, why
	}
	if s.System == SystemClodds {
		// Clodds keys look like OpenClaw's but are not: never parse them
		why := ""
		if !s.KeyInferred {
			why = fmt.Sprintf("%s is Clodds' one session for every direct chat (its dmScope main), or names no chat: kept under its own key, which stays an alias", s.Key)
		}
		return keying.LegacyHash(s.Key), RuleB, nil, lk, why
	}
	lk, err := keying.ParseLegacy(s.Key)
	if err != nil {
		return keying.LegacyHash(s.Key), RuleB, partialScope(s, lk), lk, fmt.Sprintf("%s: %v: Rule B", s.Key, err)
	}
	b := func(reason string) (string, Rule, *keying.Scope, keying.LegacyKey, string) {
		return keying.LegacyHash(s.Key), RuleB, partialScope(s, lk), lk, reason
	}
	if s.KeyInferred || strings.HasPrefix(s.Key, "openclaw:") || strings.HasPrefix(s.Key, "pocketpaw:") {
		// the key is the importer's: its parts say nothing of a channel
		// (picoclaw:empty-key is no chat "empty-key" on a channel
		// "picoclaw"), only the agent the source named is known
		return keying.LegacyHash(s.Key), RuleB, partialScope(s, keying.LegacyKey{}), lk, fmt.Sprintf("%s: key reconstructed by the importer: Rule B", s.Key)
	}
	switch lk.Shape {
	case keying.ShapeMain:
		return b("")
	case keying.ShapeCronRun, keying.ShapeAgentKind, keying.ShapeAgentOther, keying.ShapeOther, keying.ShapeSlash, keying.ShapeOpaque:
		return b("")
	}
	for _, m := range lk.Missing {
		if m == "chat_type" {
			return b(fmt.Sprintf("%s: the chat type is unknown (group or direct?): Rule B (deterministic id)", s.Key))
		}
	}
	if s.System == SystemPicoClaw && lk.Shape == keying.ShapeChannelChat && lk.Channel == "cli" {
		return b("") // cli:default and picoclaw agent -s names
	}
	agent := lk.Agent
	if agent == "" {
		agent = s.Agent
	}
	if agent == "" {
		agent = keying.DefaultAgent
	}
	in, _ := lk.Inbound(nil)
	// account and DM chat id from what the store knew
	store, _ := s.Meta["store"].(map[string]any)
	if in.Account == "" {
		in.Account = firstString(store, "deliveryContext.accountId", "origin.accountId", "lastAccountId")
	}
	dmWhy := ""
	if in.ChatID == "" && (lk.Shape == keying.ShapeChannelPeer || lk.Shape == keying.ShapeAccountChannelPeer) {
		// the per-channel DM table (docs/migration.md §3), then the reply
		// target the store knew
		ch, chat, rule, ok, why := lk.DMChatID()
		switch {
		case ok && linked[strings.ToLower(lk.Peer)]:
			ok, why = false, fmt.Sprintf("peer %q is an identity-linked name, not a chat id", lk.Peer)
		case ok && rule.AccountFromMeta:
			// the key's account (default, or the sender) is not the
			// bot's id the adapter uses now: only the store knows it
			if acct := firstString(store, "deliveryContext.accountId", "origin.accountId", "lastAccountId"); acct != "" {
				in.Account = acct
			} else {
				ok, why = false, fmt.Sprintf("a %s DM is keyed under the bot's own account id, which the legacy key does not hold", lk.Channel)
			}
		}
		if ok {
			in.Channel, in.ChatID, in.ChatType = ch, chat, "direct"
		} else if to := firstString(store, "deliveryContext.to", "lastTo"); to != "" {
			in.ChatID, in.ChatType = strings.TrimPrefix(to, lk.Channel+":"), "direct"
		} else {
			dmWhy = why
		}
	}
	if in.Channel == "" {
		return b(fmt.Sprintf("%s names no channel: Rule B (deterministic id, warned)", s.Key))
	}
	rt, err := r.Resolve(agent, in)
	if err != nil {
		return b(fmt.Sprintf("%s: %v: Rule B", s.Key, err))
	}
	if rt.Main {
		return b(fmt.Sprintf("%s: the target policy routes it to the main session, which is never merged: Rule B", s.Key))
	}
	if !complete(r, agent, in, rt) {
		if dmWhy != "" {
			return b(fmt.Sprintf("%s: the DM's chat id cannot be derived (%s): kept under its legacy key, which stays an alias", s.Key, dmWhy))
		}
		return b(fmt.Sprintf("%s lacks a value the target dimensions need: Rule B (deterministic id)", s.Key))
	}
	sc := rt.Scope
	return rt.ID, RuleA, &sc, lk, ""
}

// assignRoute derives the id of a source whose store recorded its route
// (Clodds): Rule A when the route fills every dimension the target config
// needs, else Rule B.
func assignRoute(s *Source, r *keying.Resolver) (string, Rule, *keying.Scope, string) {
	agent := s.Agent
	if agent == "" {
		agent = keying.DefaultAgent
	}
	in := *s.Route
	partial := &keying.Scope{Version: keying.ScopeVersion, AgentID: agent, Channel: in.Channel, Account: in.Account}
	b := func(why string) (string, Rule, *keying.Scope, string) {
		return keying.LegacyHash(s.Key), RuleB, partial, why
	}
	rt, err := r.Resolve(agent, in)
	switch {
	case err != nil:
		return b(fmt.Sprintf("%s: %v: kept under its own key", s.Key, err))
	case rt.Main:
		return b(fmt.Sprintf("%s: the target config sends it to the main session, which never takes imported history: kept under its own key", s.Key))
	case !complete(r, agent, in, rt):
		return b(fmt.Sprintf("%s: the target config needs a value the store did not record (a group chat's sender): kept under its own key", s.Key))
	}
	sc := rt.Scope
	return rt.ID, RuleA, &sc, ""
}

// complete reports whether the route filled every dimension the target
// policy asks for (topic excepted: a message without one has none). The
// resolver leaves out dimensions without a value, so the configured ones
// are found by resolving again with every value present.
func complete(r *keying.Resolver, agent string, in keying.Inbound, rt keying.Route) bool {
	full := in
	for _, v := range []*string{&full.ChatID, &full.SenderID, &full.SpaceID} {
		if *v == "" {
			*v = "x"
		}
	}
	rf, err := r.Resolve(agent, full)
	if err != nil {
		return false
	}
	for _, d := range rf.Scope.Dimensions {
		if d != keying.DimTopic && !hasDim(rt, d) {
			return false
		}
	}
	return true
}

func hasDim(rt keying.Route, d string) bool {
	for _, x := range rt.Scope.Dimensions {
		if x == d {
			return true
		}
	}
	return false
}

func firstString(m map[string]any, paths ...string) string {
	for _, p := range paths {
		var cur any = m
		for _, part := range strings.Split(p, ".") {
			mm, ok := cur.(map[string]any)
			if !ok {
				cur = nil
				break
			}
			cur = mm[part]
		}
		if s, ok := cur.(string); ok && s != "" {
			return s
		}
	}
	return ""
}

// partialScope is the header scope of a Rule B session: only what the key
// revealed.
func partialScope(s *Source, lk keying.LegacyKey) *keying.Scope {
	agent := lk.Agent
	if agent == "" {
		agent = s.Agent
	}
	if agent == "" && lk.Channel == "" {
		return nil
	}
	sc := keying.Scope{Version: keying.ScopeVersion, AgentID: agent, Channel: lk.Channel, Account: lk.Account}
	return &sc
}

// addSource appends one source's records as a generation of ps: the
// first as is, the next after a reset, unless its messages are all there
// already (a duplicate).
func (ps *PlannedSession) addSource(s *Source) {
	ps.sources = append(ps.sources, s)
	if len(ps.records) > 0 {
		if covered(ps.records, s.Records) {
			ps.Warnings = append(ps.Warnings, fmt.Sprintf("%s: every message is already in %s: imported once", s.Key, ps.ID))
			return
		}
		at := sourceStart(s)
		ps.records = append(ps.records, workspace.Record{Type: workspace.TypeReset, Seq: int64(len(ps.records)) + 2, At: at, Reason: workspace.ReasonImported})
		ps.prov = append(ps.prov, Provenance{Path: "", EntryID: "generation:" + s.Key})
	}
	off := int64(len(ps.records))
	for _, r := range s.Records {
		r.Seq += off
		if r.Through != 0 {
			r.Through += off
		}
		ps.records = append(ps.records, r)
		if r.Type == workspace.TypeMessage {
			ps.Messages++
		}
	}
	ps.prov = append(ps.prov, s.Provenance...)
	ps.Records = len(ps.records)
	ps.Warnings = append(ps.Warnings, s.Warnings...)
}

// recFP is how a workspace record is recognised again: type, role, text,
// tool ids and time.
func recFP(r *workspace.Record) string {
	var tc string
	if len(r.ToolCalls) > 0 {
		var calls []struct {
			ID string `json:"id"`
		}
		if json.Unmarshal(r.ToolCalls, &calls) == nil {
			for _, c := range calls {
				tc += c.ID + ","
			}
		}
	}
	return r.Type + "\x00" + r.Role + "\x00" + r.Content + "\x00" + r.Text + "\x00" + r.Name + "\x00" + r.ToolCallID + "\x00" + tc + "\x00" + r.At.UTC().Format(time.RFC3339Nano)
}

// looseFP is recFP without the time: a message imported twice by an
// earlier version with another backfilled time.
func looseFP(r *workspace.Record) string {
	k := recFP(r)
	return k[:strings.LastIndexByte(k, 0)]
}

func covered(have, add []workspace.Record) bool {
	set := map[string]int{}
	for i := range have {
		if have[i].Type == workspace.TypeMessage {
			set[recFP(&have[i])]++
		}
	}
	n := 0
	for i := range add {
		if add[i].Type != workspace.TypeMessage {
			continue
		}
		n++
		k := recFP(&add[i])
		if set[k] == 0 {
			return false
		}
		set[k]--
	}
	return n > 0
}

// assignAliases gives each session its header aliases: the
// raw key, its other spelling, then the recorded aliases, sorted;
// agent:<a>:main only on main; an alias several sessions claim goes to the
// one whose own key it is, else to none (reported).
func assignAliases(p *Plan) {
	claims := map[string][]*PlannedSession{}
	own := map[string]*PlannedSession{}
	for _, ps := range p.Sessions {
		var rest []string
		for _, k := range ps.Keys {
			if !keying.IsID(k) {
				own[strings.ToLower(k)] = ps
			}
		}
		for _, k := range ps.Keys {
			if alt := keying.AlternateSpelling(k); alt != "" {
				rest = append(rest, alt)
			}
		}
		for _, s := range ps.sources {
			rest = append(rest, s.RawKeys...)
			rest = append(rest, s.RecordedAliases...)
		}
		cand := append([]string(nil), ps.Keys...)
		sort.Strings(rest)
		cand = append(cand, rest...)
		for _, a := range uniqKeep(cand) {
			if keying.IsID(a) {
				continue
			}
			if ag, isMain := isMainKey(a); isMain && ps.ID != keying.MainID(ag) {
				continue
			}
			claims[strings.ToLower(a)] = append(claims[strings.ToLower(a)], ps)
			ps.Aliases = append(ps.Aliases, a)
		}
	}
	for _, ps := range p.Sessions {
		kept := ps.Aliases[:0]
		for _, a := range ps.Aliases {
			c := claims[strings.ToLower(a)]
			if len(uniqSessions(c)) > 1 {
				if o := own[strings.ToLower(a)]; o != ps {
					if o == nil {
						ps.Warnings = append(ps.Warnings, fmt.Sprintf("alias %q is claimed by several sessions and none holds it as its key: given to none", a))
					}
					continue
				}
			}
			kept = append(kept, a)
		}
		ps.Aliases = kept
	}
}

func uniqSessions(in []*PlannedSession) []*PlannedSession {
	seen := map[*PlannedSession]bool{}
	var out []*PlannedSession
	for _, s := range in {
		if !seen[s] {
			seen[s] = true
			out = append(out, s)
		}
	}
	return out
}

// origin is the header's origin object.
type origin struct {
	System      System         `json:"system"`
	From        string         `json:"from"`
	RawKey      string         `json:"raw_key"`
	Keys        []string       `json:"keys,omitempty"`
	Rule        Rule           `json:"rule"`
	Files       []originFile   `json:"files"`
	ApproxTimes bool           `json:"approx_times,omitempty"`
	Meta        map[string]any `json:"meta,omitempty"`
	// Extras keeps, per record seq, the source facts a record has no field
	// for: reasoning signatures, legacy roles, delivery mirrors.
	Extras map[string]map[string]any `json:"extras,omitempty"`
}

// extraKeys are the provenance facts carried into the header (usage, API
// and metadata stay in the migration report only).
var extraKeys = []string{"reasoning_signatures", "thought_only", "legacy_role", "custom_message", "custom_type", "delivery_mirror", "stale", "provider", "redischat"}

type originFile struct {
	Path   string `json:"path"`
	Size   int64  `json:"size"`
	SHA256 string `json:"sha256"`
}

func originOf(res *Result, ps *PlannedSession) json.RawMessage {
	o := origin{System: res.System, From: res.Root, Rule: ps.Rule}
	if len(ps.Keys) > 0 {
		o.RawKey = ps.Keys[0]
		o.Keys = ps.Keys[1:]
	}
	seen := map[string]bool{}
	for _, s := range ps.sources {
		o.ApproxTimes = o.ApproxTimes || s.ApproxTimes
		for _, f := range s.Files {
			if !seen[f.Path] {
				seen[f.Path] = true
				o.Files = append(o.Files, originFile{Path: f.Path, Size: f.Size, SHA256: f.SHA256})
			}
		}
		if len(s.Meta) > 0 {
			if o.Meta == nil {
				o.Meta = map[string]any{}
			}
			o.Meta[s.Key] = s.Meta
		}
	}
	sort.Slice(o.Files, func(i, j int) bool { return o.Files[i].Path < o.Files[j].Path })
	for i, pv := range ps.prov {
		if len(pv.Extra) == 0 {
			continue
		}
		var m map[string]any
		if json.Unmarshal(pv.Extra, &m) != nil {
			continue
		}
		keep := map[string]any{}
		for _, k := range extraKeys {
			if v, ok := m[k]; ok {
				keep[k] = v
			}
		}
		if len(keep) > 0 {
			if o.Extras == nil {
				o.Extras = map[string]map[string]any{}
			}
			o.Extras[fmt.Sprint(ps.records[i].Seq)] = keep
		}
	}
	return mustJSON(o)
}

// decideAction compares the plan with the workspace: nothing there means
// create; the same origin with records missing (an interrupted apply)
// means append; everything present means skip; other content means merge.
func (ps *PlannedSession) decideAction(ctx context.Context, ws *workspace.Workspace) error {
	ps.Action = ActionCreate
	if ws == nil {
		return nil
	}
	st, err := inspect(ctx, ws, ps)
	if err != nil {
		return err
	}
	ps.Action, ps.Present = st.action, st.present
	switch {
	case st.action == ActionRebuild:
		// the action says it; the report keeps the why
		w := fmt.Sprintf("%s holds an earlier import of this conversation and nothing else, which this version orders or places otherwise (%d record(s) it lacks come before ones it holds, %d it holds go elsewhere): written again in order, the old file to the trash", ps.ID, len(ps.records)-st.present, st.artefacts)
		ps.Warnings = append(ps.Warnings, w)
		if ps.explain == nil {
			ps.explain = map[string]bool{}
		}
		ps.explain[w] = true
	case st.artefacts > 0:
		ps.Warnings = append(ps.Warnings, fmt.Sprintf("%d record(s) an earlier import wrote in %s are placed in another session by this version; it was written to since, so they stay (the file is append-only)", st.artefacts, ps.target()))
	}
	return nil
}

// sessionState is what is already in the workspace for a planned session.
type sessionState struct {
	action  Action
	present int   // planned records already there
	lastSeq int64 // last seq of the file
	lastMsg int64 // seq of the last message of the active history
	// existing maps a record fingerprint to the seqs holding it, oldest
	// first: planned records found there are not written again.
	existing map[string][]int64
	// extra counts the records of the file (header aside) that the plan
	// does not hold here: an assistant's appends since the import, or
	// records an earlier version imported here that this one places in
	// another session (artefacts, which the plan holds elsewhere).
	extra, artefacts int
	// reordered is set when the records the file holds are in another
	// order than the plan's
	reordered bool
	// early is set when a planned record the file lacks comes before one
	// it holds: appending it would put it after records it precedes.
	early bool
}

func inspect(ctx context.Context, ws *workspace.Workspace, ps *PlannedSession) (sessionState, error) {
	s, err := ws.OpenID(ps.target())
	if errors.Is(err, workspace.ErrNotFound) {
		return sessionState{action: ActionCreate}, nil
	}
	if err != nil {
		return sessionState{}, fmt.Errorf("migrate: open %s: %w", ps.ID, err)
	}
	recs, err := s.ReadAll(ctx)
	if err != nil {
		return sessionState{}, fmt.Errorf("migrate: read %s: %w", ps.ID, err)
	}
	if len(recs) == 0 || recs[0].Type != workspace.TypeSession {
		// a file created but never written (killed right after creating
		// it): Session writes our header into it
		return sessionState{action: ActionCreate}, nil
	}
	st := sessionState{lastSeq: recs[len(recs)-1].Seq, existing: map[string][]int64{}}
	sameSource := sameSourceOrigin(recs[0].Origin, ps.Origin)
	body := 0
	have := make([]string, len(recs))
	for i := 1; i < len(recs); i++ {
		r := &recs[i]
		body++
		k := recFP(r)
		have[i] = k
		st.existing[k] = append(st.existing[k], r.Seq)
		switch r.Type {
		case workspace.TypeMessage:
			st.lastMsg = r.Seq
		case workspace.TypeReset:
			st.lastMsg = 0
		}
	}
	// count the planned records already there (each existing one once)
	used := map[string]int{}
	missingMsgs, missingOther := 0, 0
	missing := false // a planned message the file lacks came before
	fps := make([]string, len(ps.records))
	for i := range ps.records {
		k := recFP(&ps.records[i])
		fps[i] = k
		switch {
		case used[k] < len(st.existing[k]):
			used[k]++
			st.present++
			st.early = st.early || missing
		case ps.records[i].Type == workspace.TypeMessage:
			missing = true
			missingMsgs++
		case ps.records[i].Type != workspace.TypeReset:
			// a reset only bounds messages: one the file lacks while it
			// holds every message (the boundary a late import replaced
			// by its restore) is nothing to write
			missingOther++
		}
	}
	st.extra = body - st.present
	// the file's records in its order: each matched to a planned record
	// (the n-th occurrence of a fingerprint to the n-th planned one), or
	// left over. Matched ones out of the plan's order, or left over ones
	// this plan writes in another session, mean an earlier version
	// imported this conversation otherwise.
	planIdx := make(map[string][]int, len(fps))
	for i, k := range fps {
		planIdx[k] = append(planIdx[k], i)
	}
	seen := map[string]int{}
	last, maxAt := -1, time.Time{}
	var leftover []*workspace.Record
	for i := 1; i < len(recs); i++ {
		k := have[i]
		if n := seen[k]; n < len(planIdx[k]) {
			seen[k]++
			if j := planIdx[k][n]; j < last {
				st.reordered = true
			} else {
				last = j
			}
			if recs[i].At.After(maxAt) {
				maxAt = recs[i].At
			}
			continue
		}
		leftover = append(leftover, &recs[i])
	}
	for _, r := range leftover {
		// the plan holds it in another session: exactly, or (legacy
		// messages without times take their own file's time) by
		// everything but the time, when it is no later than the imported
		// records: an assistant's append is later than the import
		if ps.planFP[recFP(r)] || !r.At.After(maxAt) && ps.planLoose[looseFP(r)] {
			st.artefacts++
		}
	}
	foreign := st.extra - st.artefacts
	switch {
	case sameSource && foreign == 0 && (st.early || st.reordered || st.artefacts > 0):
		// an earlier import of the same conversation and nothing else,
		// which this version orders differently (an orphan it now links
		// before the current conversation) or holds records this version
		// places in another session: written again, in order, the old
		// file to the trash
		st.action = ActionRebuild
	case st.present == len(ps.records), missingMsgs == 0 && !sameSource && body > 0,
		missingMsgs == 0 && missingOther == 0 && body > 0:
		st.action = ActionSkip
	case sameSource && st.early:
		// the same, but the session was written to since: the records it
		// lacks arrive late, as an earlier conversation (checkpoint,
		// reset, the records, restore), and the user's lines stay
		st.action = ActionMerge
	case sameSource:
		// an earlier import of the same conversation, interrupted or made
		// before the legacy system wrote more: add what is missing
		st.action = ActionAppend
	default:
		st.action = ActionMerge
	}
	return st, nil
}

// sameSourceOrigin reports whether a header's origin names the same legacy
// conversation (system, directory, and its raw key or one of its other
// keys) as the plan's, whatever the file hashes: a source that grew since
// it was imported is continued.
func sameSourceOrigin(a, b json.RawMessage) bool {
	if string(a) == string(b) {
		return len(a) > 0
	}
	var x, y origin
	if json.Unmarshal(a, &x) != nil || json.Unmarshal(b, &y) != nil {
		return false
	}
	if x.System == "" || x.System != y.System || x.From != y.From {
		return false
	}
	// the same conversation: the same raw key, or (a version that names
	// the session by another of its keys) one key in common
	return x.RawKey == y.RawKey || containsString(y.Keys, x.RawKey) || containsString(x.Keys, y.RawKey)
}
