// Writes a Clawdbot 2026.1.24 install (OpenClaw's name then) with
// Clawdbot's own code: each inbound message is routed by resolveAgentRoute
// (as the Telegram adapter calls it), its session entry made or reset by
// the auto-reply pipeline's initSessionState (sessions.json, session id,
// transcript path), and the turn appended to the transcript by pi's
// SessionManager, as the embedded agent run does: the user prompt (the
// envelope-wrapped body initSessionState returns), an assistant tool call,
// the tool result, the answer. No model is run; the assistant messages are
// the generator's. expected.json lists each conversation's messages.
//
//	node gen.mjs ../openclaw/2026.1.24
import fs from "node:fs";
import path from "node:path";

const out = path.resolve(process.argv[2] ?? "");
if (!process.argv[2]) throw new Error("usage: node gen.mjs OUTDIR");
fs.rmSync(out, { recursive: true, force: true });
const state = path.join(out, "state");
fs.mkdirSync(state, { recursive: true });
// Read by Clawdbot when its modules load: set before importing them.
process.env.CLAWDBOT_STATE_DIR = state;
const cfg = { session: { dmScope: "per-channel-peer" } };
fs.writeFileSync(path.join(state, "clawdbot.json"), JSON.stringify(cfg, null, 2) + "\n");

const dist = new URL("./node_modules/clawdbot/dist/", import.meta.url);
const { initSessionState } = await import(new URL("auto-reply/reply/session.js", dist));
const { resolveAgentRoute } = await import(new URL("routing/resolve-route.js", dist));
const { formatInboundEnvelope, resolveEnvelopeFormatOptions } = await import(new URL("auto-reply/envelope.js", dist));
const { readSessionUpdatedAt, resolveStorePath } = await import(new URL("config/sessions.js", dist));
const { buildGroupLabel, buildSenderLabel, buildSenderName } = await import(new URL("telegram/bot/helpers.js", dist));
const { SessionManager } = await import("@mariozechner/pi-coding-agent");

// Wall-clock times, as a live run has: strictly increasing.
let last = 0;
const tick = () => (last = Math.max(Date.now(), last + 1));
let calls = 0;
const conversations = [];
const byName = {};

function conv(c) {
  if (!byName[c.name]) {
    byName[c.name] = {
      name: c.name, channel: "telegram", chat_type: c.chatType, chat_id: String(c.chatId), sender: c.sender,
      legacy_key: "", resets: 0, messages: [],
    };
    conversations.push(byName[c.name]);
  }
  return byName[c.name];
}

const usage = { input: 0, output: 0, cacheRead: 0, cacheWrite: 0, totalTokens: 0, cost: { input: 0, output: 0, cacheRead: 0, cacheWrite: 0, total: 0 } };
const assistant = (content, stopReason) => ({ role: "assistant", content, api: "openai-completions", provider: "openai", model: "gpt-5-mini", usage, stopReason, timestamp: tick() });

async function turn(spec, text, tool, answer) {
  const m = conv(spec);
  const c = spec;
  const isGroup = c.chatType === "group";
  const route = resolveAgentRoute({ cfg, channel: "telegram", accountId: undefined, peer: { kind: isGroup ? "group" : "dm", id: isGroup ? c.chatId : String(c.chatId) } });
  // The Body the Telegram adapter builds (telegram/bot-message-context.js):
  // the text in an envelope naming the channel, the sender and the time.
  const date = Math.floor(tick() / 1000);
  const msg = {
    message_id: calls + 1000, date, text,
    from: { id: Number(c.sender), first_name: c.senderName },
    chat: isGroup ? { id: Number(c.chatId), type: "supergroup", title: c.subject } : { id: Number(c.chatId), type: "private" },
  };
  const body = formatInboundEnvelope({
    channel: "Telegram",
    from: isGroup ? buildGroupLabel(msg, c.chatId, undefined) : buildSenderLabel(msg, c.sender),
    timestamp: date * 1000,
    body: text,
    chatType: isGroup ? "group" : "direct",
    sender: { name: buildSenderName(msg), id: c.sender },
    previousTimestamp: readSessionUpdatedAt({ storePath: resolveStorePath(cfg.session?.store, { agentId: route.agentId }), sessionKey: route.sessionKey }),
    envelope: resolveEnvelopeFormatOptions(cfg),
  });
  const ctx = {
    Body: body, RawBody: text, CommandBody: text,
    From: isGroup ? `telegram:group:${c.chatId}` : `telegram:${c.chatId}`, To: `telegram:${c.chatId}`,
    SessionKey: route.sessionKey, AccountId: route.accountId, ChatType: isGroup ? "group" : "direct",
    SenderName: c.senderName, SenderId: c.sender, Provider: "telegram", Surface: "telegram",
    MessageSid: String(msg.message_id), Timestamp: date * 1000, CommandAuthorized: true,
    OriginatingChannel: "telegram", OriginatingTo: `telegram:${c.chatId}`,
    GroupSubject: isGroup ? c.subject : undefined,
  };
  const st = await initSessionState({ ctx, cfg, commandAuthorized: true });
  if (m.legacy_key && m.legacy_key !== st.sessionKey) throw new Error(`${c.name}: ${st.sessionKey}, earlier ${m.legacy_key}`);
  m.legacy_key = st.sessionKey;
  if (st.resetTriggered) {
    // "/new": a new session id and transcript; the old one stays, named
    // by no entry (before 2026-02-13 nothing renamed it).
    m.resets++;
    return;
  }
  const seg = m.messages;
  const sm = SessionManager.open(st.sessionEntry.sessionFile);
  const prompt = st.sessionCtx.BodyStripped;
  sm.appendMessage({ role: "user", content: [{ type: "text", text: prompt }], timestamp: tick() });
  seg.push({ role: "user", content: prompt });
  if (tool) {
    const id = `call_${++calls}`;
    sm.appendMessage(assistant([{ type: "toolCall", id, name: tool.name, arguments: tool.args }], "toolUse"));
    seg.push({ role: "assistant", content: "" });
    sm.appendMessage({ role: "toolResult", toolCallId: id, toolName: tool.name, content: [{ type: "text", text: tool.result }], isError: false, timestamp: tick() });
    seg.push({ role: "tool", content: tool.result });
  }
  sm.appendMessage(assistant([{ type: "text", text: answer }], "stop"));
  seg.push({ role: "assistant", content: answer });
}

const dm = { name: "telegram-dm", chatType: "direct", chatId: 123456789, sender: "123456789", senderName: "Alice" };
const grp = { name: "telegram-group", chatType: "group", chatId: "-1001234567890", sender: "777", senderName: "Bob", subject: "Family" };

await turn(dm, "what is in notes.txt?", { name: "read", args: { path: "notes.txt" }, result: "buy milk\ncall bob" }, "notes.txt says: buy milk, call bob.");
await turn(grp, "@bot what time is it in Tokyo?", { name: "exec", args: { command: "TZ=Asia/Tokyo date" }, result: "Mon Jan 26 18:00:21 JST 2026" }, "It is 18:00 in Tokyo.");
await turn(dm, "thanks", null, "You're welcome.");
await turn(dm, "/new", null, null);
await turn(dm, "new topic: plan a trip to Porto", null, "Porto: 3 days, start at Ribeira.");
await turn(grp, "thanks", null, "You're welcome.");
await turn(dm, "thanks", null, "You're welcome.");

fs.writeFileSync(path.join(out, "expected.json"), JSON.stringify({ versions: ["clawdbot@2026.1.24"], dm_scope: cfg.session.dmScope, conversations }, null, 2) + "\n");
