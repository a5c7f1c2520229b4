// picosess dashboard: plain JavaScript, no build step, no dependency.
// Every piece of session data reaches the page through textContent (the el
// helper); nothing from a session is ever parsed as HTML.
'use strict';

const $ = (id) => document.getElementById(id);
const PAGE = 100;        // records per conversation page
const LIST_PAGE = 200;   // sessions per sidebar page

const state = {
  token: localStorage.getItem('picosess.token') || '',
  skew: 0,               // server clock minus browser clock, ms
  sessions: [],          // loaded sidebar pages, in order
  cursor: '',            // next sidebar page ('' when all loaded)
  loading: false,
  listGen: 0,
  current: null,         // meta of the open session
  first: 0, last: 0,     // seqs of the first and last records shown
  atEnd: true,           // the newest record of the file is shown
  searchGen: 0,
  lastEventId: '',
  metaTimers: new Map(),
};

// el builds an element; strings become text nodes, never HTML.
function el(tag, attrs, ...kids) {
  const e = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs || {})) {
    if (v === undefined || v === null || v === false) continue;
    if (k === 'class') e.className = v;
    else if (k === 'text') e.textContent = v;
    else if (k.startsWith('on')) e.addEventListener(k.slice(2), v);
    else e.setAttribute(k, v === true ? '' : String(v));
  }
  for (const kid of kids) {
    if (kid === null || kid === undefined || kid === false) continue;
    e.append(kid instanceof Node ? kid : document.createTextNode(String(kid)));
  }
  return e;
}

// visible shows control characters (ANSI escapes...) as their symbols:
// the text stays text, and nothing is hidden.
function visible(s) {
  return String(s ?? '').replace(/[\u0000-\u0008\u000b-\u001f\u007f]/g,
    (c) => c === '\u007f' ? '\u2421' : String.fromCharCode(0x2400 + c.charCodeAt(0)));
}

const now = () => new Date(Date.now() + state.skew);

// ---- API ----

class APIError extends Error {
  constructor(status, body) { super(body && body.error || ('HTTP ' + status)); this.status = status; this.body = body; }
}

async function api(path, opts = {}) {
  const headers = Object.assign({}, opts.headers || {});
  if (state.token) headers.Authorization = 'Bearer ' + state.token;
  let body = opts.body;
  if (body !== undefined && typeof body !== 'string') body = JSON.stringify(body);
  if (opts.method && opts.method !== 'GET') headers['Content-Type'] = 'application/json';
  const resp = await fetch(path, { method: opts.method || 'GET', headers, body, signal: opts.signal });
  if (resp.status === 401) {
    await askToken();
    return api(path, opts);
  }
  if (opts.raw) {
    if (!resp.ok) throw new APIError(resp.status, await resp.json().catch(() => null));
    return resp;
  }
  const data = await resp.json().catch(() => null);
  if (!resp.ok) throw new APIError(resp.status, data);
  return data;
}

let tokenWait = null;
function askToken() {
  if (!tokenWait) {
    tokenWait = dialog({ title: 'Token', text: 'This server needs its token (picosess serve printed it, or see <workspace>/serve-token).',
      input: '', placeholder: 'token', type: 'password' }).then((v) => {
      tokenWait = null;
      if (v === null) throw new Error('no token');
      state.token = v.trim();
      localStorage.setItem('picosess.token', state.token);
    });
  }
  return tokenWait;
}

const enc = encodeURIComponent;

// ---- dialog and toast ----

function dialog({ title, text, input, placeholder, type, ok }) {
  const d = $('dialog');
  $('dialog-title').textContent = title;
  $('dialog-text').textContent = text || '';
  const inp = $('dialog-input');
  inp.hidden = input === undefined;
  inp.value = input || '';
  inp.type = type || 'text';
  inp.placeholder = placeholder || '';
  $('dialog-ok').textContent = ok || 'OK';
  return new Promise((resolve) => {
    const done = (v) => {
      d.removeEventListener('close', onClose);
      $('dialog-cancel').removeEventListener('click', onCancel);
      resolve(v);
    };
    const onClose = () => done(d.returnValue === 'ok' ? (input === undefined ? true : inp.value) : null);
    const onCancel = () => d.close('cancel');
    d.addEventListener('close', onClose);
    $('dialog-cancel').addEventListener('click', onCancel);
    d.returnValue = '';
    d.showModal();
    (input === undefined ? $('dialog-ok') : inp).focus();
  });
}

let toastTimer = 0;
function toast(text, action, fn) {
  $('toast-text').textContent = text;
  const b = $('toast-action');
  b.hidden = !action;
  b.textContent = action || '';
  b.onclick = fn ? () => { $('toast').hidden = true; fn(); } : null;
  $('toast').hidden = false;
  clearTimeout(toastTimer);
  toastTimer = setTimeout(() => { $('toast').hidden = true; }, action ? 8000 : 4000);
}

function fail(err) {
  console.error(err);
  toast(String(err.message || err));
}

// ---- time ----

function startOfDay(d) { const x = new Date(d); x.setHours(0, 0, 0, 0); return x; }
function daysBefore(d, n) { const x = new Date(d); x.setDate(x.getDate() - n); return x; }

// group of a time in the browser's time zone: Today, Yesterday, This Week
// (the five days before yesterday), Older.
function groupOf(t) {
  const today = startOfDay(now());
  if (t >= today) return 'Today';
  if (t >= daysBefore(today, 1)) return 'Yesterday';
  if (t >= daysBefore(today, 6)) return 'This Week';
  return 'Older';
}

function when(t) {
  const d = new Date(t);
  if (d >= startOfDay(now())) return d.toLocaleTimeString([], { hour: '2-digit', minute: '2-digit' });
  return d.toLocaleDateString([], { month: 'short', day: 'numeric', year: d.getFullYear() === now().getFullYear() ? undefined : 'numeric' });
}

function stamp(t) {
  return new Date(t).toLocaleString([], { dateStyle: 'medium', timeStyle: 'short' });
}

// ---- sidebar ----

function filters() {
  const p = new URLSearchParams();
  if ($('f-agent').value) p.set('agent', $('f-agent').value);
  if ($('f-channel').value) p.set('channel', $('f-channel').value);
  return p;
}

async function loadList(reset) {
  if (reset) {
    state.listGen++;
    state.sessions = [];
    state.cursor = '';
  } else if (state.loading || !state.cursor) {
    return;
  }
  const gen = state.listGen;
  state.loading = true;
  try {
    const p = filters();
    p.set('limit', LIST_PAGE);
    if (state.cursor) p.set('cursor', state.cursor);
    const page = await api('/api/sessions?' + p);
    if (gen !== state.listGen) return;
    const from = state.sessions.length;
    // A session a live event placed already stays where it is.
    const have = new Set(state.sessions.map((x) => x.id));
    state.sessions.push(...page.sessions.filter((x) => !have.has(x.id)));
    state.cursor = page.next_cursor;
    $('count').textContent = page.total === 1 ? '1 session' : page.total + ' sessions';
    fillFilter($('f-agent'), page.agents, 'All agents');
    fillFilter($('f-channel'), page.channels, 'All channels');
    renderList(from);
  } finally {
    if (gen === state.listGen) state.loading = false;
  }
}

function fillFilter(sel, values, all) {
  const cur = sel.value;
  const have = Array.from(sel.options).map((o) => o.value).slice(1);
  if (have.join('\n') === values.join('\n')) return;
  sel.replaceChildren(el('option', { value: '' }, all), ...values.map((v) => el('option', { value: v }, v)));
  sel.value = values.includes(cur) ? cur : '';
}

function sessionItem(m) {
  const sub = [m.channel, m.agent, m.messages === 1 ? '1 message' : m.messages + ' messages', when(m.updated)].filter(Boolean);
  return el('button', { type: 'button', class: 'item', role: 'listitem', 'data-id': m.id,
    'aria-current': state.current && state.current.id === m.id ? 'true' : 'false',
    title: m.title || m.id, onclick: () => openSession(m.id) },
    el('span', { class: 't', text: visible(m.title || m.name || m.id) }),
    el('span', { class: 's' }, ...sub.map((x) => el('span', { text: visible(x) }))));
}

// renderList draws the sidebar; with from > 0 only the sessions from that
// index on are added (a new page), so that 10 000 sessions loaded page by
// page cost each page's nodes only.
function renderList(from) {
  const list = $('list');
  from = from > 0 && list.children.length ? from : 0;
  const kids = [];
  let group = from ? groupOf(new Date(state.sessions[from - 1].updated)) : '';
  for (const m of state.sessions.slice(from)) {
    const g = groupOf(new Date(m.updated));
    if (g !== group) {
      group = g;
      kids.push(el('div', { class: 'group', role: 'presentation', 'data-group': g, text: g }));
    }
    kids.push(sessionItem(m));
  }
  if (from) list.append(...kids);
  else list.replaceChildren(...kids);
  $('more').textContent = state.cursor ? 'Loading more…' : (state.sessions.length ? '' : 'No sessions.');
}

// A session changed (a record arrived): fetch its meta and move it to the
// top, debounced per session.
function touchSession(id) {
  if (state.metaTimers.has(id)) return;
  state.metaTimers.set(id, setTimeout(async () => {
    state.metaTimers.delete(id);
    try {
      const m = await api('/api/sessions/' + enc(id));
      const f = filters();
      if (f.get('agent') && f.get('agent') !== m.agent || f.get('channel') && f.get('channel') !== m.channel) return;
      const known = state.sessions.findIndex((x) => x.id === id);
      if (known >= 0) state.sessions.splice(known, 1);
      if (known < 0) refreshCount();
      // In its place by last activity (newest first), as the server pages
      // the list. One older than every loaded session while more pages
      // remain comes with its page instead (an event that arrives late,
      // an import with old times): placed now it would be out of order
      // and then listed twice.
      const t = Date.parse(m.updated) || 0;
      let at = state.sessions.findIndex((x) => (Date.parse(x.updated) || 0) < t);
      if (at < 0) at = state.sessions.length;
      if (known >= 0 || at < state.sessions.length || !state.cursor) state.sessions.splice(at, 0, m);
      renderList();
      if (state.current && state.current.id === id) showMeta(m);
    } catch (e) { /* deleted meanwhile */ }
  }, 250));
}

function bumpCount(d) {
  const n = parseInt($('count').textContent, 10) || 0;
  $('count').textContent = (n + d) === 1 ? '1 session' : (n + d) + ' sessions';
}

// refreshCount asks the server for the count under the current filters:
// after an event about a session the list has not loaded, whether it
// counts is the server's to say.
let countTimer = 0;
function refreshCount() {
  clearTimeout(countTimer);
  countTimer = setTimeout(async () => {
    try {
      const p = filters();
      p.set('limit', 1);
      const page = await api('/api/sessions?' + p);
      $('count').textContent = page.total === 1 ? '1 session' : page.total + ' sessions';
    } catch (e) { /* the next event or page says it */ }
  }, 300);
}

function dropSession(id) {
  const i = state.sessions.findIndex((x) => x.id === id);
  if (i >= 0) {
    state.sessions.splice(i, 1);
    bumpCount(-1);
    renderList();
  } else {
    refreshCount();
  }
  if (state.current && state.current.id === id) closeSession();
}

// ---- search ----

let searchTimer = 0;
function onSearch() {
  clearTimeout(searchTimer);
  searchTimer = setTimeout(runSearch, 200);
}

async function runSearch() {
  const q = $('search').value.trim();
  const gen = ++state.searchGen;
  if (!q) {
    $('hits').hidden = true;
    $('list').hidden = false;
    $('more').hidden = false;
    return;
  }
  const p = filters();
  p.set('q', q);
  p.set('limit', 50);
  let res;
  try {
    res = await api('/api/search?' + p);
  } catch (e) {
    if (gen === state.searchGen) {
      $('hits').replaceChildren(el('div', { class: 'more', text: e.message }));
      $('hits').hidden = false; $('list').hidden = true; $('more').hidden = true;
    }
    return;
  }
  if (gen !== state.searchGen) return;
  const kids = [el('div', { class: 'count', text: res.total === 1 ? '1 message found' : res.total + ' messages found' })];
  for (const h of res.hits) {
    const snip = el('span', { class: 'snip' },
      ...h.parts.map((p) => p.match ? el('mark', { text: visible(p.text) }) : visible(p.text)));
    kids.push(el('button', { type: 'button', class: 'item hit', role: 'listitem', 'data-id': h.session, 'data-seq': h.seq,
      onclick: () => openSession(h.session, h.seq) },
      el('span', { class: 't', text: visible(h.title || h.session) }),
      el('span', { class: 's' }, el('span', { text: h.role + (h.sender ? ' · ' + h.sender : '') }), el('span', { text: when(h.time) }), el('span', { text: '#' + h.seq })),
      snip));
  }
  $('hits').replaceChildren(...kids);
  $('hits').hidden = false; $('list').hidden = true; $('more').hidden = true;
}

// ---- conversation ----

function showMeta(m) {
  state.current = m;
  $('title').textContent = visible(m.title || m.name || m.id);
  const bits = [m.channel && 'channel ' + m.channel, m.agent && 'agent ' + m.agent, m.name && 'name ' + m.name,
    m.messages === 1 ? '1 message' : m.messages + ' messages', 'last activity ' + stamp(m.updated)];
  $('meta').replaceChildren(visible(bits.filter(Boolean).join(' · ')), ' ',
    el('span', { class: 'id', title: m.id, text: '· ' + m.id.slice(0, 18) + '…' }));
  for (const b of document.querySelectorAll('#list .item')) b.setAttribute('aria-current', b.dataset.id === m.id ? 'true' : 'false');
}

function closeSession() {
  state.current = null;
  $('session').hidden = true;
  $('empty').hidden = false;
  document.body.classList.remove('show-conv');
  for (const b of document.querySelectorAll('#list .item')) b.setAttribute('aria-current', 'false');
}

async function openSession(id, seq) {
  let m;
  try {
    m = await api('/api/sessions/' + enc(id));
  } catch (e) { return fail(e); }
  showMeta(m);
  $('empty').hidden = true;
  $('session').hidden = false;
  document.body.classList.add('show-conv');
  $('items').replaceChildren();
  const p = new URLSearchParams({ all: 1, limit: PAGE });
  if (seq) p.set('before', seq + Math.floor(PAGE / 2));
  const page = await api('/api/sessions/' + enc(m.id) + '/history?' + p).catch(fail);
  if (!page || !state.current || state.current.id !== m.id) return;
  withSkipped(page);
  state.first = page.records.length ? page.records[0].seq : 0;
  state.last = page.records.length ? page.records[page.records.length - 1].seq : 0;
  state.atEnd = state.last >= page.last_seq;
  $('items').append(...page.records.map(renderRecord));
  $('older').hidden = !page.more;
  $('newer').hidden = state.atEnd;
  const box = $('records');
  const target = seq && $('items').querySelector('[data-seq="' + seq + '"]');
  if (target) {
    target.scrollIntoView({ block: 'center' });
    target.classList.add('flash');
  } else {
    box.scrollTop = box.scrollHeight;
  }
}

async function loadOlder() {
  const m = state.current;
  if (!m || !state.first) return;
  const page = await api('/api/sessions/' + enc(m.id) + '/history?' + new URLSearchParams({ all: 1, limit: PAGE, before: state.first })).catch(fail);
  if (!page || state.current !== m) return;
  withSkipped(page);
  const box = $('records');
  const h = box.scrollHeight;
  $('items').prepend(...page.records.map(renderRecord));
  if (page.records.length) state.first = page.records[0].seq;
  $('older').hidden = !page.more;
  box.scrollTop += box.scrollHeight - h;
}

async function loadNewer() {
  const m = state.current;
  if (!m) return;
  const page = await api('/api/sessions/' + enc(m.id) + '/history?' + new URLSearchParams({ all: 1, limit: PAGE, after: state.last })).catch(fail);
  if (!page || state.current !== m) return;
  withSkipped(page);
  appendRecords(page.records);
  state.atEnd = !page.more;
  $('newer').hidden = state.atEnd;
}

function appendRecords(recs) {
  const box = $('records');
  const stick = box.scrollHeight - box.scrollTop - box.clientHeight < 80;
  for (const r of recs) {
    if (r.seq <= state.last) continue;
    $('items').append(renderRecord(r));
    state.last = r.seq;
    if (!state.first) state.first = r.seq;
  }
  if (stick) box.scrollTop = box.scrollHeight;
}

function pretty(raw) {
  try { return JSON.stringify(typeof raw === 'string' ? JSON.parse(raw) : raw, null, 2); } catch (e) { return String(raw); }
}

function toolCallNames(calls) {
  if (!Array.isArray(calls)) return '';
  return calls.map((c) => (c.function && c.function.name) || c.name || '?').join(', ');
}

// withSkipped puts the page's records over the server's read limit (not
// read, so not sent) among its records, in seq order, as placeholders.
function withSkipped(page) {
  if (!page.skipped || !page.skipped.length) return;
  const holes = page.skipped.filter((k) => k.seq > 0).map((k) => ({ type: 'skipped', seq: k.seq, at: k.at, role: k.role, of: k.type, bytes: k.bytes, limit: k.limit }));
  page.records = page.records.concat(holes).sort((a, b) => a.seq - b.seq);
}

function size(n) {
  const u = ['bytes', 'KiB', 'MiB', 'GiB'];
  let i = 0;
  while (n >= 1024 && i < u.length - 1) { n /= 1024; i++; }
  return (i ? n.toFixed(1) : String(n)) + ' ' + u[i];
}

function renderRecord(r) {
  const at = stamp(r.at);
  const base = { 'data-seq': r.seq, class: 'rec', title: '#' + r.seq + ' · ' + at };
  switch (r.type) {
    case 'message': {
      const kids = [el('div', { class: 'h' },
        el('span', { class: 'role', text: r.role }),
        r.sender ? el('span', { class: 'sender', text: visible(r.sender) }) : null,
        r.model_name ? el('span', { text: visible(r.model_name) }) : null,
        el('span', { text: at }), el('span', { text: '#' + r.seq }))];
      if (r.role === 'tool') {
        kids.push(el('details', {}, el('summary', { text: 'Tool result' + (r.tool_call_id ? ' · ' + visible(r.tool_call_id) : '') + ' (' + (r.content || '').length + ' chars)' }),
          el('pre', { class: 'body', text: visible(r.content) })));
      } else if (r.content) {
        kids.push(el('div', { class: 'body', text: visible(r.content) }));
      }
      if (r.reasoning_content) {
        kids.push(el('details', {}, el('summary', { text: 'Reasoning' }), el('pre', { text: visible(r.reasoning_content) })));
      }
      if (r.tool_calls) {
        const n = Array.isArray(r.tool_calls) ? r.tool_calls.length : 1;
        kids.push(el('details', {}, el('summary', { text: 'Tool call' + (n === 1 ? '' : 's') + ': ' + visible(toolCallNames(r.tool_calls)) }),
          el('pre', { text: visible(pretty(r.tool_calls)) })));
      }
      if (r.media && r.media.length) kids.push(el('div', { class: 'meta', text: 'media: ' + visible(r.media.join(', ')) }));
      base.class += ' msg ' + r.role;
      return el('div', base, ...kids);
    }
    case 'summary':
      base.class += ' summary';
      return el('div', base, el('div', { class: 'h', text: 'Summary of the conversation through #' + r.through + ' · ' + at }),
        el('div', { class: 'body', text: visible(r.text) }));
    case 'reset':
      base.class += ' marker reset';
      return el('div', base, el('span', { text: 'New conversation — reset (' + (r.reason || 'manual') + (r.trigger ? ', ' + visible(r.trigger) : '') + ') · ' + at }));
    case 'checkpoint':
      base.class += ' marker checkpoint';
      return el('div', base, el('span', { text: '⚑ Checkpoint “' + visible(r.name) + '” through #' + r.through + (r.description ? ' — ' + visible(r.description) : '') }));
    case 'restore':
      base.class += ' marker restore';
      return el('div', base, el('span', { text: '↶ Checkpoint #' + r.checkpoint + ' restored · ' + at }));
    case 'checkpoint_delete':
      base.class += ' marker';
      return el('div', base, el('span', { text: 'Checkpoint #' + r.checkpoint + ' deleted' }));
    case 'title':
      base.class += ' marker';
      return el('div', base, el('span', { text: r.text ? 'Renamed to “' + visible(r.text) + '”' : 'Title reset to the default' }));
    case 'session':
      base.class += ' marker';
      return el('div', base, el('span', { text: 'Session started · ' + at }));
    case 'aliases': {
      base.class += ' marker';
      const keys = visible((r.aliases || []).join(', '));
      const text = r.moved ? 'The conversation of ' + visible(r.continues) + ' moved here (the ' + r.moved + ' records below); now also answers to ' + keys
        : r.continues ? 'Continues ' + visible(r.continues) + '; now also answers to ' + keys
          : 'Now also answers to ' + keys;
      return el('div', base, el('span', { text: text + ' · ' + at }));
    }
    case 'untrash':
      base.class += ' marker';
      return el('div', base, el('span', { text: 'Brought back from the trash · ' + at }));
    case 'skipped':
      base.class += ' marker skipped';
      return el('div', base, el('span', { text: '#' + r.seq + ': a ' + (r.role ? visible(r.role) + ' ' : '') + visible(r.of || 'record') + ' of ' + size(r.bytes) +
        ', over the read limit of ' + size(r.limit) + ', not shown (picosess check lists it)' + (r.at ? ' · ' + at : '') }));
  }
  base.class += ' marker';
  return el('div', base, el('span', { text: '[' + visible(r.type) + ']' }));
}

// ---- actions ----

async function newSession() {
  const name = await dialog({ title: 'New session', text: 'A name for the new session (leave empty for a dated one).', input: '', placeholder: 'my-project', ok: 'Create' });
  if (name === null) return;
  try {
    const m = await api('/api/sessions', { method: 'POST', body: { name: name.trim() } });
    state.sessions = state.sessions.filter((x) => x.id !== m.id);
    state.sessions.unshift(m);
    bumpCount(1);
    renderList();
    openSession(m.id);
  } catch (e) { fail(e); }
}

async function rename() {
  const m = state.current;
  if (!m) return;
  const t = await dialog({ title: 'Rename', text: 'The new title (empty: the first message).', input: m.title, ok: 'Rename' });
  if (t === null) return;
  try {
    await api('/api/sessions/' + enc(m.id) + '/title', { method: 'PUT', body: { title: t } });
    touchSession(m.id);
    toast('Renamed.');
  } catch (e) { fail(e); }
}

async function resetSession() {
  const m = state.current;
  if (!m) return;
  const ok = await dialog({ title: 'Reset', text: 'Start a new conversation in “' + visible(m.title) + '”? Older messages stay on disk, searchable and exportable.', ok: 'Reset' });
  if (!ok) return;
  try {
    await api('/api/sessions/' + enc(m.id) + '/reset', { method: 'POST', body: {} });
  } catch (e) { fail(e); }
}

async function deleteSession() {
  const m = state.current;
  if (!m) return;
  try {
    const d = await api('/api/sessions/' + enc(m.id), { method: 'DELETE', body: {} });
    dropSession(m.id);
    toast('Deleted “' + visible(m.title || m.id) + '”.', 'Undo', async () => {
      try {
        const back = await api('/api/trash/' + enc(d.trash) + '/restore', { method: 'POST', body: {} });
        if (!state.sessions.some((x) => x.id === back.id)) { state.sessions.unshift(back); bumpCount(1); }
        state.sessions.sort((a, b) => (a.updated < b.updated) - (a.updated > b.updated));
        renderList();
        openSession(back.id);
      } catch (e) { fail(e); }
    });
  } catch (e) { fail(e); }
}

async function exportSession() {
  const m = state.current;
  if (!m) return;
  const format = $('export-format').value;
  try {
    const resp = await api('/api/sessions/' + enc(m.id) + '/export?format=' + enc(format), { raw: true });
    const blob = await resp.blob();
    const cd = resp.headers.get('Content-Disposition') || '';
    const name = (cd.match(/filename="([^"]+)"/) || [])[1] || 'session';
    const a = el('a', { href: URL.createObjectURL(blob), download: name });
    document.body.append(a);
    a.click();
    setTimeout(() => { URL.revokeObjectURL(a.href); a.remove(); }, 1000);
  } catch (e) { fail(e); }
}

// ---- live updates: Server-Sent Events read with fetch, so that the
// token goes in a header ----

async function connectEvents() {
  for (;;) {
    try {
      const headers = {};
      if (state.token) headers.Authorization = 'Bearer ' + state.token;
      if (state.lastEventId) headers['Last-Event-ID'] = state.lastEventId;
      const resp = await fetch('/api/events', { headers });
      if (resp.status === 401) { await askToken(); continue; }
      if (!resp.ok || !resp.body) throw new Error('events: HTTP ' + resp.status);
      const reader = resp.body.pipeThrough(new TextDecoderStream()).getReader();
      let buf = '';
      for (;;) {
        const { value, done } = await reader.read();
        if (done) break;
        buf += value;
        let i;
        while ((i = buf.indexOf('\n\n')) >= 0) {
          const block = buf.slice(0, i);
          buf = buf.slice(i + 2);
          const ev = { id: '', event: 'message', data: '' };
          for (const line of block.split('\n')) {
            const c = line.indexOf(':');
            if (c === 0) continue;
            const k = c < 0 ? line : line.slice(0, c);
            const v = c < 0 ? '' : line.slice(c + 1).replace(/^ /, '');
            if (k === 'data') ev.data += (ev.data ? '\n' : '') + v;
            else if (k === 'id' || k === 'event') ev[k] = v;
          }
          if (ev.id) state.lastEventId = ev.id;
          if (ev.data) onEvent(ev.event, JSON.parse(ev.data));
        }
      }
    } catch (e) {
      console.warn(e);
    }
    $('live').classList.remove('on');
    await new Promise((r) => setTimeout(r, 2000));
  }
}

function onEvent(name, d) {
  switch (name) {
    case 'ready':
      $('live').classList.add('on');
      $('live').title = 'Live updates: connected';
      if (state.current && state.atEnd) loadNewer();
      break;
    case 'record':
      touchSession(d.session);
      if (state.current && state.current.id === d.session && state.atEnd) {
        if (d.record) appendRecords([d.record]);
        else loadNewer();
      }
      break;
    case 'deleted':
      dropSession(d.session);
      break;
    case 'created':
    case 'restored':
      touchSession(d.id);
      break;
    case 'resync':
      loadList(true);
      if (state.current) openSession(state.current.id);
      break;
  }
}

// ---- keyboard ----

function items() {
  return Array.from(document.querySelectorAll($('hits').hidden ? '#list .item' : '#hits .item'));
}

function onKey(e) {
  const t = e.target;
  const typing = t instanceof HTMLInputElement || t instanceof HTMLTextAreaElement || t instanceof HTMLSelectElement;
  if ($('dialog').open) return;
  if (e.key === 'Escape') {
    if (typing && t.id === 'search' && t.value) { t.value = ''; runSearch(); return; }
    if (document.body.classList.contains('show-conv')) { closeSession(); focusCurrent(); return; }
    return;
  }
  if (typing) {
    if (t.id === 'search' && e.key === 'ArrowDown') { e.preventDefault(); const it = items(); if (it[0]) it[0].focus(); }
    return;
  }
  if (e.key === '/') { e.preventDefault(); $('search').focus(); return; }
  if (e.key === 'n' && !e.ctrlKey && !e.metaKey && !e.altKey) { e.preventDefault(); newSession(); return; }
  if (e.key === 'ArrowDown' || e.key === 'ArrowUp' || e.key === 'j' || e.key === 'k') {
    const it = items();
    if (!it.length) return;
    const i = it.indexOf(document.activeElement);
    const down = e.key === 'ArrowDown' || e.key === 'j';
    if (i < 0 && !t.closest('#sidebar')) return;
    e.preventDefault();
    const next = it[Math.max(0, Math.min(it.length - 1, i < 0 ? 0 : i + (down ? 1 : -1)))];
    next.focus();
    next.scrollIntoView({ block: 'nearest' });
  }
}

function focusCurrent() {
  const it = items();
  const cur = it.find((b) => b.getAttribute('aria-current') === 'true') || it[0];
  if (cur) cur.focus();
}

// ---- start ----

async function start() {
  if (location.hash.startsWith('#token=')) {
    state.token = decodeURIComponent(location.hash.slice(7));
    localStorage.setItem('picosess.token', state.token);
    history.replaceState(null, '', location.pathname + location.search);
  }
  $('search').addEventListener('input', onSearch);
  $('f-agent').addEventListener('change', () => { loadList(true); runSearch(); });
  $('f-channel').addEventListener('change', () => { loadList(true); runSearch(); });
  $('new').addEventListener('click', newSession);
  $('rename').addEventListener('click', rename);
  $('reset').addEventListener('click', resetSession);
  $('delete').addEventListener('click', deleteSession);
  $('export').addEventListener('click', exportSession);
  $('back').addEventListener('click', () => { closeSession(); focusCurrent(); });
  $('older').addEventListener('click', loadOlder);
  $('newer').addEventListener('click', loadNewer);
  $('records').addEventListener('scroll', () => { if ($('records').scrollTop < 40 && !$('older').hidden) $('older').click(); });
  document.addEventListener('keydown', onKey);
  new IntersectionObserver((es) => { if (es.some((x) => x.isIntersecting)) loadList(false).catch(fail); }, { root: $('sidebar') }).observe($('more'));
  try {
    const info = await api('/api/info');
    state.skew = new Date(info.now) - Date.now();
  } catch (e) { fail(e); }
  connectEvents();
  await loadList(true).catch(fail);
  document.body.dataset.ready = '1';
}

start();
