// AgentSend web UI: one ES module, no framework, no build step, no network but the same-origin API.
//
// Stable hooks for browser tests (data-test attributes):
//   signin-key         the API key input (type=password)       signin-submit   its submit button
//   signin-error       role=alert message under the sign-in form
//   signout            header button
//   nav-inboxes nav-webhooks nav-domains nav-account           main navigation links
//   inbox-create-open  button that shows the create-inbox form
//   inbox-create-form  the form (inputs: mode radios, prefix, address, domainId, displayName)
//   inbox-row          one inbox (table row), data-id = inbox id
//   inbox-rename / inbox-delete   per-row buttons; confirm-ok / confirm-cancel in confirm dialogs
//   message-row        one message in a list (link), data-id = message id
//   thread-row         one thread in a list (link), data-id = thread id
//   load-more          "Load more" button under a list
//   search-input       the search box (mail view);  search-clear  its clear button
//   tab-messages / tab-threads   the two list tabs of an inbox
//   message-view       the open message (article);  message-subject  its heading
//   message-frame      the sandboxed iframe with the HTML body;  load-images  its button
//   tab-html / tab-text / tab-raw   body tabs;  body-text  text <pre>;  raw-source  raw <pre>
//   attachment-link    download link per attachment;  recipient-row  per-recipient outcome row
//   auth-badge         SPF / DKIM / DMARC badge;  status-badge  any message status badge
//   thread-message     a message of the open message's thread (link), data-id
//   reply-open reply-form reply-body reply-attach (file input) reply-send
//   compose-open compose-form compose-attach (file input) compose-send
//   webhook-row (data-id) webhook-create-open webhook-create-form webhook-secret webhook-copy
//   webhook-edit-form webhook-rotate webhook-test webhook-delete deliveries-refresh delivery-row
//   domain-row (data-id) domain-create-form dns-record-row dns-copy zone-file zone-open
//   zone-copy domain-verify domain-delete
//   apikey-row (data-id) apikey-create-form apikey-secret apikey-revoke
//   sandbox-banner     the sandbox notice;  toast  each notice in the polite live region
//
// URL paths: /ui/inboxes, /ui/inboxes/{id}, /ui/inboxes/{id}/threads, /ui/messages/{id},
//   /ui/threads/{id}, /ui/webhooks, /ui/webhooks/{id}, /ui/domains, /ui/domains/{id},
//   /ui/account; "/" and "/ui" show the inbox list.
//
// Benchmark signals: performance.mark('agentsend:interactive') once after the first view's
// data is rendered; performance.mark('agentsend:list-rendered') after each message-list page;
// document.body.dataset.listCount = rows shown once a list has rendered a load.

const KEY_STORE = 'agentsend.apiKey';
const PAGE = 100;
const STATUSES = ['queued', 'sending', 'sent', 'delivered', 'bounced', 'failed', 'complained', 'received'];
const EVENTS = ['message.received', 'message.sent', 'message.delivered', 'message.bounced',
  'message.complained', 'message.updated', 'domain.verified'];
const SCOPES = ['read', 'send', 'manage', 'approve'];

// ---------------------------------------------------------------- small helpers

/** Creates an element: h('a', {href, class, dataset?, on: {click}}, ...children). */
function h(tag, attrs, ...children) {
  const el = document.createElement(tag);
  if (attrs) {
    for (const [k, v] of Object.entries(attrs)) {
      if (v === null || v === undefined || v === false) continue;
      if (k === 'class') el.className = v;
      else if (k === 'text') el.textContent = v;
      else if (k === 'on') for (const [ev, fn] of Object.entries(v)) el.addEventListener(ev, fn);
      else if (k === 'test') el.setAttribute('data-test', v);
      else if (k === 'value' || k === 'checked' || k === 'selected' || k === 'disabled') el[k] = v;
      else el.setAttribute(k, v === true ? '' : String(v));
    }
  }
  append(el, ...children);
  return el;
}
function append(el, ...children) {
  for (const c of children) {
    if (c === null || c === undefined || c === false) continue;
    if (Array.isArray(c)) append(el, ...c);
    else el.append(c instanceof Node ? c : String(c));
  }
  return el;
}
function clear(el) { el.replaceChildren(); return el; }
const $ = (sel, root = document) => root.querySelector(sel);
const $$ = (sel, root = document) => [...root.querySelectorAll(sel)];
const sleep = (ms, signal) => new Promise((resolve) => {
  if (signal?.aborted) { resolve(); return; }
  const onAbort = () => { clearTimeout(t); resolve(); };
  const t = setTimeout(() => { signal?.removeEventListener('abort', onAbort); resolve(); }, ms);
  signal?.addEventListener('abort', onAbort, { once: true });
});
/** Aborts `child` when `parent` aborts; returns a function that drops the link again. */
function linkAbort(parent, child) {
  if (parent.aborted) { child.abort(); return () => {}; }
  const onAbort = () => child.abort();
  parent.addEventListener('abort', onAbort, { once: true });
  return () => parent.removeEventListener('abort', onAbort);
}

const dateFmt = new Intl.DateTimeFormat(undefined, { dateStyle: 'medium', timeStyle: 'short' });
const timeFmt = new Intl.DateTimeFormat(undefined, { timeStyle: 'short' });
const dayFmt = new Intl.DateTimeFormat(undefined, { month: 'short', day: 'numeric' });
const numFmt = new Intl.NumberFormat();
function fmtDate(s) {
  if (!s) return '—';
  const d = new Date(s);
  return Number.isNaN(d.getTime()) ? String(s) : dateFmt.format(d);
}
function fmtShort(s) {
  if (!s) return '';
  const d = new Date(s);
  if (Number.isNaN(d.getTime())) return String(s);
  const now = new Date();
  if (d.toDateString() === now.toDateString()) return timeFmt.format(d);
  if (d.getFullYear() === now.getFullYear()) return dayFmt.format(d);
  return dateFmt.format(d);
}
function time(s, short) {
  return h('time', { datetime: s || null, title: s ? fmtDate(s) : null }, short ? fmtShort(s) : fmtDate(s));
}
function fmtSize(n) {
  if (n == null) return '';
  const u = ['bytes', 'KB', 'MB', 'GB'];
  let i = 0; let v = Number(n);
  while (v >= 1024 && i < u.length - 1) { v /= 1024; i++; }
  return i === 0 ? `${v} ${v === 1 ? 'byte' : 'bytes'}` : `${v.toFixed(v < 10 ? 1 : 0)} ${u[i]}`;
}
const num = (n) => numFmt.format(n ?? 0);

function badgeClass(value) {
  switch (value) {
    case 'delivered': case 'sent': case 'pass': case 'verified': case 'succeeded': case 'active': return 'b-ok';
    case 'bounced': case 'failed': case 'complained': case 'fail': case 'permerror': case 'suspended': case 'deleted': return 'b-bad';
    case 'queued': case 'sending': case 'pending': case 'delivering': case 'softfail': case 'temperror': return 'b-warn';
    case 'received': case 'unread': return 'b-info';
    default: return 'b-neutral';
  }
}
function badge(text, cls, test) {
  return h('span', { class: `badge ${cls || badgeClass(text)}`, test }, text);
}
const statusBadge = (s) => badge(s || 'unknown', null, 'status-badge');

// ---------------------------------------------------------------- notices

function toast(text, kind = 'info') {
  const box = $('#toasts');
  const t = h('div', { class: `toast t-${kind}`, test: 'toast' }, text);
  box.append(t);
  setTimeout(() => t.remove(), kind === 'error' ? 9000 : 5000);
}
let interactiveMarked = false;
function markInteractive() {
  if (interactiveMarked) return;
  interactiveMarked = true;
  performance.mark('agentsend:interactive');
}

// ---------------------------------------------------------------- API

class ApiError extends Error {
  constructor(message, status, code, body) { super(message); this.status = status; this.code = code; this.body = body; }
}
let apiKey = sessionStorage.getItem(KEY_STORE) || '';

async function api(method, path, opts = {}) {
  const headers = { ...opts.headers, Authorization: `Bearer ${opts.key ?? apiKey}` };
  let body;
  if (opts.form) body = opts.form;
  else if (opts.body !== undefined) { headers['Content-Type'] = 'application/json'; body = JSON.stringify(opts.body); }
  let r;
  try {
    r = await fetch(path, { method, headers, body, signal: opts.signal, cache: 'no-store', credentials: 'omit' });
  } catch (e) {
    if (e.name === 'AbortError') throw e;
    throw new ApiError('The server could not be reached. Check your connection and try again.', 0, 'NETWORK');
  }
  if (!r.ok) {
    let message = `The server answered ${r.status} ${r.statusText}`.trim();
    let code = '';
    let data = null;
    try {
      data = await r.json();
      if (data?.error?.message) { message = data.error.message; code = data.error.code || ''; }
    } catch { /* not JSON */ }
    const err = new ApiError(message, r.status, code, data);
    if (r.status === 401 && !opts.signin) unauthorized(message);
    throw err;
  }
  if (r.status === 204) return null;
  if (opts.text) return r.text();
  const ct = r.headers.get('content-type') || '';
  return ct.includes('json') ? r.json() : r.text();
}
const qs = (o) => {
  const p = new URLSearchParams();
  for (const [k, v] of Object.entries(o)) if (v !== undefined && v !== null && v !== '') p.set(k, v);
  const s = p.toString();
  return s ? `?${s}` : '';
};
const enc = encodeURIComponent;

function unauthorized(message) {
  if (!apiKey) return;
  apiKey = '';
  sessionStorage.removeItem(KEY_STORE);
  account = null;
  teardown();
  showSignin(`Your API key is no longer accepted: ${message}. Sign in again.`);
}

/** A random UUID; crypto.randomUUID exists in secure contexts only (not plain http by host name). */
function newUuid() {
  if (crypto.randomUUID) return crypto.randomUUID();
  const b = crypto.getRandomValues(new Uint8Array(16));
  b[6] = (b[6] & 0x0f) | 0x40;
  b[8] = (b[8] & 0x3f) | 0x80;
  const x = [...b].map((v) => v.toString(16).padStart(2, '0')).join('');
  return `${x.slice(0, 8)}-${x.slice(8, 12)}-${x.slice(12, 16)}-${x.slice(16, 20)}-${x.slice(20)}`;
}

/**
 * One send form's POST, made safe to retry: it carries an Idempotency-Key of the form, so a
 * retry after a lost answer replays the first send instead of sending again, and it reuses the
 * attachments already uploaded for the same files (new ids would make it another request). The
 * key is replaced once the server has answered (an edited resend is a new request); it is kept
 * while the outcome is unknown (no answer, or the first attempt still running).
 */
function sendOnce() {
  let key = newUuid();
  let uploaded = null;
  return async (path, files, makeBody, signal) => {
    const list = [...files];
    const same = uploaded && uploaded.files.length === list.length && uploaded.files.every((f, i) => f === list[i]);
    const ids = same ? uploaded.ids : await uploadFiles(list, signal);
    uploaded = { files: list, ids };
    try {
      const sent = await api('POST', path, { body: makeBody(ids), signal, headers: { 'Idempotency-Key': key } });
      key = newUuid();
      uploaded = null;
      return sent;
    } catch (e) {
      if (e instanceof ApiError && e.status && e.code !== 'IDEMPOTENCY_KEY_IN_USE') key = newUuid();
      throw e;
    }
  };
}

async function uploadFiles(files, signal) {
  const ids = [];
  for (const f of files) {
    const form = new FormData();
    form.append('file', f, f.name);
    const a = await api('POST', '/attachments', { form, signal });
    ids.push(a.id);
  }
  return ids;
}

/** Seconds or an HTTP date in a Retry-After header, as milliseconds (0 when absent or unreadable). */
function retryAfterMs(value) {
  if (!value) return 0;
  if (/^\s*\d+\s*$/.test(value)) return Number(value) * 1000;
  const t = Date.parse(value);
  return Number.isNaN(t) ? 0 : Math.max(0, t - Date.now());
}

const STREAM_HEALTHY_MS = 10000; // a stream up this long (or one that delivered an event) resets the backoff
const STREAM_MAX_WAIT_MS = 60000;

/**
 * Reads GET /events as a stream (fetch, so the Authorization header goes along), parses the
 * SSE lines and reconnects with Last-Event-ID until `signal` aborts. Each reconnect waits at
 * least the server's `retry:` (3 s), doubling per attempt up to 60 s, with jitter; a 429 or 503
 * waits at least its Retry-After. The backoff starts over only after a stream stayed up 10 s or
 * delivered an event, so a stream that is accepted and closed at once does not spin (every
 * attempt counts against the account's request rate limit, shared with its agents).
 */
function streamEvents({ inboxId, signal, onEvent, onReset, onState }) {
  let lastId = null;
  let retry = 3000;
  (async () => {
    let attempt = 0;
    let connected = false;
    while (!signal.aborted) {
      let closeReason = null;
      let openedAt = 0;
      let delivered = false;
      let retryAfter = 0;
      try {
        const headers = { Authorization: `Bearer ${apiKey}`, Accept: 'text/event-stream' };
        if (lastId) headers['Last-Event-ID'] = lastId;
        const r = await fetch(`/events${qs({ inboxId })}`, { headers, signal, cache: 'no-store', credentials: 'omit' });
        if (r.status === 401) {
          let m = 'unauthorized';
          try { m = (await r.json()).error.message; } catch { /* ignore */ }
          unauthorized(m);
          return;
        }
        if (!r.ok || !r.body) {
          if (r.status === 429 || r.status === 503) retryAfter = retryAfterMs(r.headers.get('Retry-After'));
          r.body?.cancel().catch(() => {});
          throw new Error(`HTTP ${r.status}`);
        }
        openedAt = Date.now();
        onState?.('live');
        // Reconnected without an event id to resume from: what happened meanwhile is unknown.
        if (connected && !lastId) onReset?.(null);
        connected = true;
        const reader = r.body.pipeThrough(new TextDecoderStream()).getReader();
        let buf = '';
        let ev = { id: null, event: 'message', data: [] };
        for (;;) {
          const { value, done } = await reader.read();
          if (done) break;
          buf += value;
          let m;
          while ((m = /\r\n|\n|\r(?=[^\n])/.exec(buf))) {
            const line = buf.slice(0, m.index);
            buf = buf.slice(m.index + m[0].length);
            if (line === '') {
              if (ev.id !== null) lastId = ev.id;
              if (ev.data.length) {
                const data = ev.data.join('\n');
                let parsed = null;
                try { parsed = JSON.parse(data); } catch { /* not JSON */ }
                if (ev.event === 'reset') onReset?.(parsed);
                else if (ev.event === 'close') {
                  closeReason = parsed?.reason || 'closed';
                  if (parsed?.lastEventId) lastId = parsed.lastEventId;
                } else { delivered = true; onEvent?.(ev.event, parsed); }
              }
              ev = { id: null, event: 'message', data: [] };
              continue;
            }
            if (line.startsWith(':')) continue;
            const i = line.indexOf(':');
            const field = i < 0 ? line : line.slice(0, i);
            let val = i < 0 ? '' : line.slice(i + 1);
            if (val.startsWith(' ')) val = val.slice(1);
            if (field === 'id') ev.id = val;
            else if (field === 'event') ev.event = val;
            else if (field === 'data') ev.data.push(val);
            else if (field === 'retry' && /^\d+$/.test(val)) retry = Number(val);
          }
          if (closeReason) { reader.cancel().catch(() => {}); break; }
        }
        if (closeReason === 'key_revoked') { unauthorized('the key was revoked'); return; }
      } catch {
        if (signal.aborted) return;
      }
      if (signal.aborted) return;
      onState?.('reconnecting');
      if (delivered || (openedAt && Date.now() - openedAt >= STREAM_HEALTHY_MS)) attempt = 0;
      const floor = Math.max(retry, 3000);
      const base = Math.min(STREAM_MAX_WAIT_MS, floor * 2 ** attempt);
      const wait = Math.max(floor, retryAfter, Math.min(STREAM_MAX_WAIT_MS, base * (0.8 + Math.random() * 0.4)));
      attempt = Math.min(attempt + 1, 6);
      await sleep(wait, signal);
    }
  })();
}

// ---------------------------------------------------------------- shell, routing

let account = null;
let viewCtl = null; // AbortController of the current view
let mail = null; // the mail view's state while it is shown
const main = () => $('#main');

function teardown() {
  viewCtl?.abort();
  viewCtl = null;
  mail = null;
}
function newView() {
  teardown();
  for (const dlg of $$('dialog[open]')) dlg.close();
  viewCtl = new AbortController();
  return viewCtl.signal;
}

function navigate(path, { replace = false } = {}) {
  if (replace) history.replaceState(null, '', path);
  else if (location.pathname + location.search !== path) history.pushState(null, '', path);
  route();
}

document.addEventListener('click', (e) => {
  if (e.defaultPrevented || e.button !== 0 || e.metaKey || e.ctrlKey || e.shiftKey || e.altKey) return;
  const a = e.target.closest?.('a[href]');
  if (!a || a.target || a.hasAttribute('download')) return;
  // Same-page fragment links (the "Skip to content" link): move focus, do not route.
  if (a.getAttribute('href').startsWith('#')) {
    e.preventDefault(); // a hash change would fire popstate, which re-renders the view
    const target = document.getElementById(a.getAttribute('href').slice(1));
    if (target) {
      if (!target.hasAttribute('tabindex')) target.tabIndex = -1;
      target.focus();
      target.scrollIntoView?.({ block: 'start' });
    }
    return;
  }
  const url = new URL(a.href, location.href);
  if (url.origin !== location.origin || !url.pathname.startsWith('/ui')) return;
  if (url.pathname.startsWith('/ui/assets/') || url.pathname.startsWith('/ui/frame')) return;
  e.preventDefault();
  navigate(url.pathname + url.search);
});
window.addEventListener('popstate', () => route());

function setNav(which) {
  for (const a of $$('#nav a')) {
    if (a.dataset.nav === which) a.setAttribute('aria-current', 'page');
    else a.removeAttribute('aria-current');
  }
}

let openCtl = null; // a message being fetched to open it within the current mail view
function route() {
  openCtl?.abort();
  openCtl = null;
  if (!apiKey) { showSignin(); return; }
  $('#top').hidden = false;
  $('#nav').hidden = false;
  document.body.classList.remove('signed-out');
  const p = location.pathname.replace(/\/+$/, '');
  try { return routeTo(p); } catch (e) {
    if (!(e instanceof URIError)) throw e;
  }
  notFound();
}
function routeTo(p) {
  let m;
  if (p === '' || p === '/ui' || p === '/ui/inboxes') return viewInboxes();
  if ((m = p.match(/^\/ui\/inboxes\/([^/]+)$/))) return viewMail(decodeURIComponent(m[1]), 'messages', null);
  if ((m = p.match(/^\/ui\/inboxes\/([^/]+)\/threads$/))) return viewMail(decodeURIComponent(m[1]), 'threads', null);
  if ((m = p.match(/^\/ui\/messages\/([^/]+)$/))) return viewMessageRoute(decodeURIComponent(m[1]));
  if ((m = p.match(/^\/ui\/threads\/([^/]+)$/))) return viewThreadRoute(decodeURIComponent(m[1]));
  if (p === '/ui/webhooks') return viewWebhooks();
  if ((m = p.match(/^\/ui\/webhooks\/([^/]+)$/))) return viewWebhook(decodeURIComponent(m[1]));
  if (p === '/ui/domains') return viewDomains();
  if ((m = p.match(/^\/ui\/domains\/([^/]+)$/))) return viewDomain(decodeURIComponent(m[1]));
  if (p === '/ui/account') return viewAccount();
  return notFound();
}
function notFound() {
  newView();
  setNav(null);
  render(h('h1', { tabindex: '-1' }, 'Page not found'),
    h('p', null, 'There is nothing at this address. ', h('a', { href: '/ui/inboxes' }, 'Go to your inboxes'), '.'));
  markInteractive();
}

/** Replaces the main area's content and sets the document title from the first heading. */
function render(...nodes) {
  const m = main();
  clear(m);
  append(m, nodes);
  const h1 = $('h1', m);
  document.title = h1 ? `${h1.textContent} · AgentSend` : 'AgentSend';
}
function focusHeading(root = main()) {
  const hd = $('h1, h2', root);
  if (hd) { hd.tabIndex = -1; hd.focus({ preventScroll: false }); }
}
function loading(text = 'Loading…') { return h('p', { class: 'loading', role: 'status' }, text); }
function errorBox(err, retry) {
  return h('div', { class: 'error', role: 'alert' },
    h('p', null, err?.message || String(err)),
    retry ? h('button', { type: 'button', class: 'btn', on: { click: retry } }, 'Try again') : null);
}
function isAbort(e) { return e?.name === 'AbortError'; }

// ---------------------------------------------------------------- sign in

function showSignin(message) {
  teardown();
  clear($('#toasts'));
  // Closing (not just removing) settles what waits on a dialog: a pending confirm resolves
  // as cancelled; the close handler removes the element.
  for (const dlg of $$('dialog')) { if (dlg.open) dlg.close(); else dlg.remove(); }
  $('#top').hidden = true;
  $('#nav').hidden = true;
  $('#sandbox').hidden = true;
  document.body.classList.add('signed-out');
  const err = h('p', { class: 'error', role: 'alert', test: 'signin-error', id: 'signin-error', hidden: !message }, message || '');
  const input = h('input', {
    type: 'password', id: 'signin-key', name: 'apiKey', test: 'signin-key', required: true,
    autocomplete: 'off', spellcheck: 'false', placeholder: 'ask_…', 'aria-describedby': 'signin-help',
  });
  const submit = h('button', { type: 'submit', class: 'btn primary', test: 'signin-submit' }, 'Sign in');
  const form = h('form', { class: 'card signin', novalidate: true },
    h('label', { for: 'signin-key' }, 'API key'),
    input,
    h('p', { class: 'hint', id: 'signin-help' }, 'The key stays in this browser tab only and is forgotten when the tab closes.'),
    err,
    submit);
  form.addEventListener('submit', async (e) => {
    e.preventDefault();
    const key = input.value.trim();
    if (!key) { err.hidden = false; err.textContent = 'Enter an API key.'; input.focus(); return; }
    submit.disabled = true;
    submit.textContent = 'Signing in…';
    try {
      const acc = await api('GET', '/account', { key, signin: true });
      apiKey = key;
      sessionStorage.setItem(KEY_STORE, key);
      setAccount(acc);
      const p = location.pathname;
      navigate(p.startsWith('/ui/') && p !== '/ui/' ? p + location.search : '/ui/inboxes', { replace: true });
    } catch (e2) {
      err.hidden = false;
      err.textContent = e2.status === 401
        ? `That API key was not accepted: ${e2.message}`
        : `Could not sign in: ${e2.message}`;
      submit.disabled = false;
      submit.textContent = 'Sign in';
      input.focus();
    }
  });
  render(h('div', { class: 'signin-wrap' },
    h('h1', null, 'Sign in to AgentSend'),
    h('p', { class: 'muted' }, 'Use an API key of your account to see its inboxes, mail, webhooks and domains.'),
    form));
  document.title = 'Sign in · AgentSend';
  input.focus();
  markInteractive();
}

function setAccount(acc) {
  account = acc;
  const who = clear($('#who'));
  append(who, h('span', { class: 'who-name' }, acc.name || acc.email), ' ',
    h('span', { class: 'who-mail' }, acc.email), ' ', badge(acc.plan, acc.plan === 'sandbox' ? 'b-warn' : 'b-neutral'));
  const sb = clear($('#sandbox'));
  if (acc.plan === 'sandbox') {
    sb.hidden = false;
    sb.setAttribute('data-test', 'sandbox-banner');
    append(sb, h('p', null,
      h('strong', null, 'Sandbox account. '),
      `Up to ${num(acc.dailySendLimit)} messages a day`,
      acc.sandboxExpiresAt ? `; it stops sending on ${fmtDate(acc.sandboxExpiresAt)}` : '',
      '. ',
      acc.claimUrl ? h('a', { href: acc.claimUrl, target: '_blank', rel: 'noopener noreferrer' }, 'Claim this account') : null,
      acc.claimUrl ? ' to lift the limits.' : ''));
  } else sb.hidden = true;
}

$('#signout')?.addEventListener('click', () => {
  apiKey = '';
  account = null;
  sessionStorage.removeItem(KEY_STORE);
  history.pushState(null, '', '/ui/inboxes');
  showSignin();
  toast('Signed out.');
});

// ---------------------------------------------------------------- dialogs

/** A modal <dialog> with a heading; resolves when closed. Esc closes it (native). */
function dialog(title, body, { onClose } = {}) {
  const id = `dlg-${Math.random().toString(36).slice(2, 8)}`;
  const d = h('dialog', { class: 'dialog', 'aria-labelledby': id },
    h('div', { class: 'dialog-head' },
      h('h2', { id }, title),
      h('button', { type: 'button', class: 'btn ghost icon', 'aria-label': 'Close', on: { click: () => d.close() } }, '✕')),
    body);
  const back = document.activeElement;
  d.addEventListener('close', () => { d.remove(); onClose?.(); if (back?.isConnected) back.focus(); });
  document.body.append(d);
  d.showModal();
  return d;
}
function confirmStep(title, text, okLabel = 'Delete') {
  return new Promise((resolve) => {
    let ok = false;
    const okBtn = h('button', { type: 'button', class: 'btn danger', test: 'confirm-ok', on: { click: () => { ok = true; d.close(); } } }, okLabel);
    const body = h('div', null, h('p', null, text),
      h('div', { class: 'actions' },
        h('button', { type: 'button', class: 'btn', test: 'confirm-cancel', on: { click: () => d.close() } }, 'Cancel'),
        okBtn));
    const d = dialog(title, body, { onClose: () => resolve(ok) });
    okBtn.focus();
  });
}

function secretBox(label, secret, test, warning) {
  const id = `sec-${Math.random().toString(36).slice(2, 8)}`;
  const input = h('input', { id, type: 'text', readonly: true, value: secret, test, class: 'mono', spellcheck: 'false' });
  input.addEventListener('focus', () => input.select());
  return h('div', { class: 'secret', role: 'region', 'aria-label': label },
    h('label', { for: id }, label),
    h('div', { class: 'row-inline' }, input, copyButton(() => secret, `Copy ${label.toLowerCase()}`, test === 'webhook-secret' ? 'webhook-copy' : 'secret-copy')),
    h('p', { class: 'warn' }, warning || 'Store it now: it will not be shown again.'));
}
function copyButton(get, label, test) {
  return h('button', {
    type: 'button', class: 'btn small', 'aria-label': label, test,
    on: {
      click: async (e) => {
        const b = e.currentTarget;
        try {
          await navigator.clipboard.writeText(get());
          b.textContent = 'Copied';
          toast('Copied to the clipboard.');
        } catch {
          toast('Could not copy: select the text and copy it yourself.', 'error');
        }
        setTimeout(() => { b.textContent = 'Copy'; }, 2000);
      },
    },
  }, 'Copy');
}

function formError(form) {
  let el = $('.form-error', form);
  if (!el) { el = h('p', { class: 'error form-error', role: 'alert' }); form.append(el); }
  return (msg) => { el.textContent = msg || ''; el.hidden = !msg; };
}
function field(label, input, hint) {
  const id = input.id || `f-${input.name}-${Math.random().toString(36).slice(2, 7)}`;
  input.id = id;
  const hintEl = hint ? h('span', { class: 'hint', id: `${id}-hint` }, hint) : null;
  if (hintEl) input.setAttribute('aria-describedby', hintEl.id);
  return h('div', { class: 'field' }, h('label', { for: id }, label), input, hintEl);
}
function checkbox(name, value, label, checked, test) {
  const id = `cb-${name}-${value}-${Math.random().toString(36).slice(2, 6)}`;
  return h('div', { class: 'check' },
    h('input', { type: 'checkbox', id, name, value, checked, test }),
    h('label', { for: id }, label));
}
async function busy(button, fn) {
  const label = button?.textContent;
  if (button) { button.disabled = true; button.setAttribute('aria-busy', 'true'); }
  try { return await fn(); } finally {
    if (button) { button.disabled = false; button.removeAttribute('aria-busy'); button.textContent = label; }
  }
}

// Responsive tables: each cell carries its column name for the narrow (card) layout.
function table(caption, headers, rows, cls = '') {
  return h('table', { class: `table ${cls}` },
    caption ? h('caption', { class: 'sr-only' }, caption) : null,
    h('thead', null, h('tr', null, headers.map((x) => h('th', { scope: 'col' }, x)))),
    h('tbody', null, rows));
}
const td = (label, ...c) => h('td', { 'data-label': label }, h('div', { class: 'cell' }, ...c));

// ---------------------------------------------------------------- inboxes

async function viewInboxes() {
  const signal = newView();
  setNav('inboxes');
  const listBox = h('div', null, loading('Loading inboxes…'));
  const formBox = h('div', { hidden: true });
  const openBtn = h('button', { type: 'button', class: 'btn primary', test: 'inbox-create-open', 'aria-expanded': 'false', 'aria-controls': 'inbox-create' }, 'New inbox');
  formBox.id = 'inbox-create';
  openBtn.addEventListener('click', () => {
    const show = formBox.hidden;
    formBox.hidden = !show;
    openBtn.setAttribute('aria-expanded', String(show));
    if (show) { clear(formBox); formBox.append(inboxCreateForm(signal, reload)); $('input', formBox)?.focus(); }
  });
  render(h('div', { class: 'page-head' }, h('h1', null, 'Inboxes'), openBtn), formBox, listBox);

  const rowsById = new Map();
  async function reload(highlight) {
    try {
      const items = [];
      let cursor = null;
      do {
        const page = await api('GET', `/inboxes${qs({ limit: PAGE, cursor })}`, { signal });
        items.push(...page.data);
        cursor = page.nextCursor;
      } while (cursor && items.length < 1000);
      clear(listBox);
      rowsById.clear();
      if (!items.length) {
        listBox.append(h('p', { class: 'empty' }, 'No inboxes yet — create one with “New inbox”.'));
      } else {
        const frag = document.createDocumentFragment();
        for (const ib of items) { const tr = inboxRow(ib); rowsById.set(ib.id, tr); frag.append(tr); }
        const t = table('Inboxes', ['Address', 'Status', 'Unread', 'Sent', 'Today', 'Bounces', 'Actions'], frag, 'inboxes');
        t.querySelector('tbody').setAttribute('data-klist', '');
        listBox.append(t);
        if (highlight) rowsById.get(highlight)?.classList.add('sel');
      }
      document.body.dataset.listCount = String(items.length);
      markInteractive();
    } catch (e) {
      if (isAbort(e)) return;
      append(clear(listBox), errorBox(e, () => reload()));
      markInteractive();
    }
  }

  function inboxRow(ib) {
    const renameBtn = h('button', { type: 'button', class: 'btn small', test: 'inbox-rename', 'aria-label': `Rename ${ib.address}` }, 'Rename');
    const delBtn = h('button', { type: 'button', class: 'btn small danger-text', test: 'inbox-delete', 'aria-label': `Delete ${ib.address}` }, 'Delete');
    renameBtn.addEventListener('click', () => renameInbox(ib, reload));
    delBtn.addEventListener('click', async () => {
      if (!await confirmStep('Delete inbox?', `Delete ${ib.address}? Its address stays reserved and mail to it is refused from now on.`)) return;
      try {
        await api('DELETE', `/inboxes/${enc(ib.id)}`, { signal });
        toast(`Deleted ${ib.address}.`);
        reload();
      } catch (e) { if (!isAbort(e)) toast(e.message, 'error'); }
    });
    return h('tr', { 'data-row': '', test: 'inbox-row', 'data-id': ib.id, class: ib.unreadCount ? 'has-unread' : '' },
      td('Address', h('a', { href: `/ui/inboxes/${enc(ib.id)}`, class: 'rowlink' }, ib.address),
        ib.displayName ? h('div', { class: 'muted small' }, ib.displayName) : null),
      td('Status', badge(ib.status)),
      td('Unread', ib.unreadCount ? h('strong', null, num(ib.unreadCount)) : '0'),
      td('Sent', num(ib.totalSent)),
      td('Today', `${num(ib.sendsToday)} / ${num(ib.dailySendLimit)}`),
      td('Bounces', num(ib.bounceCount)),
      td('Actions', h('div', { class: 'row-actions' }, renameBtn, delBtn)));
  }

  // Fresh counts without reloading: every message event refreshes its inbox's row.
  const pending = new Set();
  let timer = null;
  streamEvents({
    signal,
    onEvent: (type, payload) => {
      const id = payload?.data?.inboxId;
      if (!id || !type.startsWith('message.')) return;
      if (!rowsById.has(id)) { if (type === 'message.received' || type === 'message.sent') reloadSoon(); return; }
      pending.add(id);
      clearTimeout(timer);
      timer = setTimeout(async () => {
        const ids = [...pending]; pending.clear();
        for (const iid of ids) {
          try {
            const ib = await api('GET', `/inboxes/${enc(iid)}`, { signal });
            const old = rowsById.get(iid);
            if (!old) continue;
            const tr = inboxRow(ib);
            if (old.classList.contains('sel')) tr.classList.add('sel');
            old.replaceWith(tr);
            rowsById.set(iid, tr);
          } catch { /* next event will retry */ }
        }
      }, 300);
      if (type === 'message.received') toast(`New message in ${payload.data.to?.[0] || 'an inbox'}: ${payload.data.subject || '(no subject)'}`);
    },
    onReset: () => reload(),
  });
  let reloadTimer = null;
  function reloadSoon() { clearTimeout(reloadTimer); reloadTimer = setTimeout(() => reload(), 500); }
  await reload();
}

function inboxCreateForm(signal, reload) {
  const modes = [['generated', 'Generated address'], ['prefix', 'With a prefix'], ['address', 'Chosen address'], ['domain', 'On a custom domain']];
  const err = h('p', { class: 'error', role: 'alert', hidden: true });
  const prefix = h('input', { name: 'prefix', type: 'text', autocomplete: 'off', spellcheck: 'false', placeholder: 'support' });
  const address = h('input', { name: 'address', type: 'text', autocomplete: 'off', spellcheck: 'false', placeholder: 'support or support@example.com' });
  const domain = h('select', { name: 'domainId' }, h('option', { value: '' }, 'Loading domains…'));
  const displayName = h('input', { name: 'displayName', type: 'text', maxlength: '255', autocomplete: 'off' });
  const prefixF = field('Prefix', prefix, 'The address becomes <prefix>-<8 random characters>.');
  const addressLabel = h('label', null, 'Address');
  address.id = `ib-address-${Math.random().toString(36).slice(2, 6)}`;
  addressLabel.setAttribute('for', address.id);
  const addressHint = h('span', { class: 'hint', id: `${address.id}-hint` }, 'A local part such as “support”, or a full address.');
  address.setAttribute('aria-describedby', addressHint.id);
  const addressF = h('div', { class: 'field' }, addressLabel, address, addressHint);
  const domainF = field('Domain', domain, 'Only domains verified for sending can be used.');
  const radios = h('fieldset', { class: 'radios' }, h('legend', null, 'Address'),
    modes.map(([v, l], i) => {
      const id = `ib-mode-${v}`;
      return h('div', { class: 'check' }, h('input', { type: 'radio', name: 'mode', id, value: v, checked: i === 0 }), h('label', { for: id }, l));
    }));
  const submit = h('button', { type: 'submit', class: 'btn primary' }, 'Create inbox');
  const form = h('form', { class: 'card form', test: 'inbox-create-form', 'aria-label': 'New inbox', novalidate: true },
    h('h2', null, 'New inbox'), radios, prefixF, domainF, addressF, field('Display name (optional)', displayName), err,
    h('div', { class: 'actions' }, submit));
  function sync() {
    const mode = form.elements.mode.value;
    prefixF.hidden = mode !== 'prefix';
    addressF.hidden = !(mode === 'address' || mode === 'domain');
    domainF.hidden = mode !== 'domain';
    addressLabel.textContent = mode === 'domain' ? 'Local part' : 'Address';
    addressHint.textContent = mode === 'domain' ? 'The part before the @, such as “support”.' : 'A local part such as “support”, or a full address.';
  }
  form.addEventListener('change', sync);
  sync();
  api('GET', `/domains${qs({ limit: 100 })}`, { signal }).then((page) => {
    clear(domain);
    const ok = page.data.filter((d) => d.sendingStatus === 'verified');
    if (!page.data.length) domain.append(h('option', { value: '' }, 'No custom domains yet'));
    else if (!ok.length) domain.append(h('option', { value: '' }, 'No domain is verified yet'));
    for (const d of page.data) {
      domain.append(h('option', { value: d.id, disabled: d.sendingStatus !== 'verified' },
        d.sendingStatus === 'verified' ? d.domain : `${d.domain} (${d.sendingStatus})`));
    }
    if (ok.length) domain.value = ok[0].id;
  }).catch((e) => { if (!isAbort(e)) { append(clear(domain), h('option', { value: '' }, 'Could not load domains')); } });

  form.addEventListener('submit', async (e) => {
    e.preventDefault();
    err.hidden = true;
    const mode = form.elements.mode.value;
    const body = {};
    if (mode === 'prefix') { if (!prefix.value.trim()) { err.hidden = false; err.textContent = 'Enter a prefix.'; prefix.focus(); return; } body.prefix = prefix.value.trim(); }
    if (mode === 'address') { if (!address.value.trim()) { err.hidden = false; err.textContent = 'Enter an address.'; address.focus(); return; } body.address = address.value.trim(); }
    if (mode === 'domain') {
      if (!domain.value) { err.hidden = false; err.textContent = 'Choose a verified domain (add one under Domains).'; domain.focus(); return; }
      if (!address.value.trim()) { err.hidden = false; err.textContent = 'Enter the local part.'; address.focus(); return; }
      body.domainId = domain.value;
      body.address = address.value.trim();
    }
    if (displayName.value.trim()) body.displayName = displayName.value.trim();
    await busy(submit, async () => {
      try {
        const ib = await api('POST', '/inboxes', { body, signal });
        toast(`Created ${ib.address}.`);
        form.reset();
        sync();
        form.parentElement.hidden = true;
        $('[data-test="inbox-create-open"]')?.setAttribute('aria-expanded', 'false');
        await reload(ib.id);
      } catch (e2) {
        if (isAbort(e2)) return;
        err.hidden = false;
        err.textContent = e2.body?.error?.claim_url ? `${e2.message} Claim the account to add more.` : e2.message;
      }
    });
  });
  return form;
}

function renameInbox(ib, reload) {
  const input = h('input', { name: 'displayName', type: 'text', maxlength: '255', value: ib.displayName || '' });
  const err = h('p', { class: 'error', role: 'alert', hidden: true });
  const submit = h('button', { type: 'submit', class: 'btn primary' }, 'Save');
  const form = h('form', { class: 'form', test: 'inbox-rename-form', novalidate: true },
    field('Display name', input, 'Shown in From. Leave empty to remove it.'), err,
    h('div', { class: 'actions' }, h('button', { type: 'button', class: 'btn', on: { click: () => d.close() } }, 'Cancel'), submit));
  const d = dialog(`Rename ${ib.address}`, form);
  input.focus();
  form.addEventListener('submit', async (e) => {
    e.preventDefault();
    await busy(submit, async () => {
      try {
        await api('PATCH', `/inboxes/${enc(ib.id)}`, { body: { displayName: input.value.trim() || null } });
        d.close();
        toast('Inbox renamed.');
        reload(ib.id);
      } catch (e2) { err.hidden = false; err.textContent = e2.message; }
    });
  });
}

// ---------------------------------------------------------------- mail (list + detail)

function isSameMail(inboxId, tab) { return mail && mail.inboxId === inboxId && mail.tab === tab && main().contains(mail.root); }

async function viewMail(inboxId, tab, detail) {
  setNav('inboxes');
  if (isSameMail(inboxId, tab)) {
    mail.setDetail(detail);
    return;
  }
  const signal = newView();
  const state = mail = {
    inboxId, tab, inbox: null, signal, rows: new Map(), items: new Map(), cursor: null, query: '',
    detailCtl: null, detailUnlink: null, detailId: null, detailType: null,
    fetches: new Map(), // message id -> GET /messages/{id} in flight for live events (this view's)
  };
  const title = h('h1', { class: 'ellipsis' }, 'Inbox');
  const sub = h('p', { class: 'muted small ellipsis' });
  const liveState = h('span', { class: 'live-state muted small', 'aria-hidden': 'true' });
  const composeBtn = h('button', { type: 'button', class: 'btn primary', test: 'compose-open', 'aria-keyshortcuts': 'c' }, 'Compose');
  composeBtn.addEventListener('click', () => openCompose(state));
  const tabs = h('div', { class: 'tabs', role: 'navigation', 'aria-label': 'Mail views' },
    h('a', { href: `/ui/inboxes/${enc(inboxId)}`, test: 'tab-messages', 'aria-current': tab === 'messages' ? 'page' : null }, 'Messages'),
    h('a', { href: `/ui/inboxes/${enc(inboxId)}/threads`, test: 'tab-threads', 'aria-current': tab === 'threads' ? 'page' : null }, 'Threads'));
  const search = h('input', { type: 'search', name: 'q', id: 'mail-search', test: 'search-input', placeholder: 'Search mail', autocomplete: 'off', 'aria-keyshortcuts': '/' });
  const clearBtn = h('button', { type: 'button', class: 'btn small', test: 'search-clear', hidden: true }, 'Clear');
  const searchForm = h('form', { role: 'search', class: 'search', 'aria-label': 'Search this inbox' },
    h('label', { for: 'mail-search', class: 'sr-only' }, 'Search messages'), search,
    h('button', { type: 'submit', class: 'btn small' }, 'Search'), clearBtn);
  const info = h('p', { class: 'muted small list-info', role: 'status' });
  const list = h('ul', { class: 'rows', 'data-klist': '', 'aria-label': tab === 'threads' ? 'Threads' : 'Messages' });
  const moreBtn = h('button', { type: 'button', class: 'btn', test: 'load-more', hidden: true }, 'Load more');
  const sentinel = h('div', { class: 'sentinel', 'aria-hidden': 'true' });
  const listStatus = h('div');
  const listPane = h('section', { class: 'pane list-pane', 'aria-label': tab === 'threads' ? 'Thread list' : 'Message list' },
    h('div', { class: 'pane-head' }, h('div', { class: 'head-row' }, tabs, liveState), searchForm, info),
    listStatus, list, h('div', { class: 'more' }, moreBtn), sentinel);
  const detailPane = h('section', { class: 'pane detail-pane', 'aria-label': 'Reading pane' });
  const root = h('div', { class: 'mail' },
    h('div', { class: 'page-head' }, h('div', { class: 'titles' }, title, sub), h('div', { class: 'actions' }, composeBtn)),
    h('div', { class: 'split' }, listPane, detailPane));
  state.root = root;
  render(root);

  // ---- list
  // The count line; a row that live events add counts too.
  state.showCount = () => {
    info.textContent = state.query
      ? `${num(state.total)} ${state.total === 1 ? 'match' : 'matches'} for “${state.query}”`
      : `${num(state.rows.size)} of ${num(Math.max(state.total, state.rows.size))} ${tab}`;
  };
  // One load at a time: a first-page load (search, Clear, a reset from the event stream)
  // supersedes the one in flight, whose answer is then dropped; "more" waits for it.
  let loadingMore = false;
  let loadGen = 0;
  let loadCtl = null;
  async function loadPage(first) {
    if (loadingMore && !first) return;
    loadCtl?.abort();
    const ctl = new AbortController();
    loadCtl = ctl;
    const unlink = linkAbort(signal, ctl);
    const gen = ++loadGen;
    loadingMore = true;
    moreBtn.disabled = true;
    if (first) {
      state.cursor = null;
      clear(list);
      state.rows.clear();
      state.items.clear();
      append(clear(listStatus), loading(state.query ? 'Searching…' : 'Loading…'));
    }
    try {
      const params = { limit: PAGE, cursor: state.cursor };
      let path;
      if (state.query && tab === 'messages') path = `/messages/search${qs({ ...params, q: state.query, inboxId })}`;
      else if (tab === 'messages') path = `/inboxes/${enc(inboxId)}/messages${qs(params)}`;
      else path = `/inboxes/${enc(inboxId)}/threads${qs({ ...params, q: state.query })}`;
      const page = await api('GET', path, { signal: ctl.signal });
      if (gen !== loadGen) return;
      clear(listStatus);
      const frag = document.createDocumentFragment();
      for (const it of page.data) {
        if (state.rows.has(it.id)) continue;
        const li = tab === 'threads' ? threadRow(it) : messageRow(it);
        state.rows.set(it.id, li);
        state.items.set(it.id, it);
        frag.append(li);
      }
      list.append(frag);
      state.cursor = page.nextCursor || null;
      moreBtn.hidden = !state.cursor;
      const n = state.rows.size;
      state.total = page.total;
      state.showCount();
      if (!n) {
        listStatus.append(h('p', { class: 'empty' }, state.query ? 'Nothing matches this search.'
          : tab === 'threads' ? `No conversations yet — send one to ${state.inbox?.address || 'this inbox'}.`
            : `No messages yet — send one to ${state.inbox?.address || 'this inbox'}.`));
      }
      markSelected();
      document.body.dataset.listCount = String(n);
      if (tab === 'messages') performance.mark('agentsend:list-rendered');
      markInteractive();
    } catch (e) {
      if (isAbort(e) || gen !== loadGen) return;
      append(clear(listStatus), errorBox(e, () => loadPage(first)));
      markInteractive();
    } finally {
      unlink();
      if (gen === loadGen) {
        loadingMore = false;
        moreBtn.disabled = false;
        loadCtl = null;
      }
    }
  }
  state.reload = () => loadPage(true);
  moreBtn.addEventListener('click', () => loadPage(false));
  const io = new IntersectionObserver((entries) => {
    if (entries.some((en) => en.isIntersecting) && state.cursor && !loadingMore) loadPage(false);
  }, { rootMargin: '400px' });
  io.observe(sentinel);
  signal.addEventListener('abort', () => io.disconnect());

  searchForm.addEventListener('submit', (e) => {
    e.preventDefault();
    state.query = search.value.trim();
    clearBtn.hidden = !state.query;
    loadPage(true);
  });
  clearBtn.addEventListener('click', () => { search.value = ''; state.query = ''; clearBtn.hidden = true; loadPage(true); search.focus(); });
  search.addEventListener('keydown', (e) => { if (e.key === 'Escape' && search.value) { e.stopPropagation(); clearBtn.click(); } });

  function markSelected() {
    for (const a of $$('.row[aria-current]', list)) a.removeAttribute('aria-current');
    const cur = state.detailType === (tab === 'threads' ? 'thread' : 'message') ? state.rows.get(state.detailId) : null;
    if (cur) { const a = $('.row', cur); a.setAttribute('aria-current', 'true'); select(a, false); }
  }
  state.markSelected = markSelected;

  // ---- detail
  state.setDetail = (d) => {
    state.detailCtl?.abort();
    state.detailCtl = null;
    state.detailUnlink?.();
    state.detailUnlink = null;
    state.detailId = d?.id || null;
    state.detailType = d?.type || null;
    root.classList.toggle('has-detail', !!d);
    clear(detailPane);
    markSelected();
    if (!d) {
      detailPane.append(h('div', { class: 'placeholder muted' }, h('p', null, tab === 'threads' ? 'Choose a thread to read it.' : 'Choose a message to read it.'),
        h('p', { class: 'small' }, 'Keys: j / k move, Enter opens, Esc goes back, / searches, c composes.')));
      document.title = `${state.inbox?.address || 'Inbox'} · AgentSend`;
      return;
    }
    const ctl = new AbortController();
    state.detailUnlink = linkAbort(signal, ctl);
    state.detailCtl = ctl;
    if (d.type === 'message') renderMessage(state, detailPane, d.id, d.message, ctl.signal);
    else renderThread(state, detailPane, d.id, d.thread, ctl.signal);
  };

  // ---- live updates
  streamEvents({
    inboxId,
    signal,
    onState: (s) => { liveState.textContent = s === 'live' ? '● Live' : 'Reconnecting…'; liveState.className = `live-state small ${s === 'live' ? 'ok' : 'muted'}`; },
    onReset: () => loadPage(true),
    onEvent: (type, payload) => onMailEvent(state, type, payload),
  });

  // ---- inbox header (refreshed after live events), then the list
  // At most one header request a second however many events arrive (they share the rate limit).
  let headerTimer = null;
  let headerAt = 0;
  state.refreshInbox = () => {
    if (headerTimer || signal.aborted) return;
    const wait = Math.max(300, headerAt + 1000 - Date.now());
    headerTimer = setTimeout(() => { headerTimer = null; headerAt = Date.now(); loadInbox(); }, wait);
  };
  signal.addEventListener('abort', () => clearTimeout(headerTimer), { once: true });
  const loadInbox = () => api('GET', `/inboxes/${enc(inboxId)}`, { signal }).then((ib) => {
    state.inbox = ib;
    title.textContent = ib.address;
    sub.textContent = [ib.displayName, `${num(ib.unreadCount)} unread`, `${num(ib.sendsToday)} / ${num(ib.dailySendLimit)} sent today`].filter(Boolean).join(' · ');
    if (!state.detailId) document.title = `${ib.address} · AgentSend`;
    const empty = $('.empty', listStatus);
    if (empty && !state.query) empty.textContent = tab === 'threads' ? `No conversations yet — send one to ${ib.address}.` : `No messages yet — send one to ${ib.address}.`;
  }).catch((e) => { if (!isAbort(e) && !state.inbox) { title.textContent = 'Inbox'; sub.textContent = e.message; } });
  loadInbox();
  state.setDetail(detail);
  await loadPage(true);
}

function messageRow(m) {
  const unread = m.labels?.includes('unread');
  const who = m.direction === 'outbound' ? `To: ${(m.toAddresses || []).join(', ')}` : m.fromAddress;
  return h('li', null, h('a', {
    class: `row msg${unread ? ' unread' : ''}`, href: `/ui/messages/${enc(m.id)}`, 'data-row': '', test: 'message-row', 'data-id': m.id,
  },
  h('span', { class: 'r-who' }, who),
  h('span', { class: 'r-date' }, time(m.sentAt || m.createdAt, true)),
  h('span', { class: 'r-subj' }, m.subject || '(no subject)'),
  h('span', { class: 'r-badges' }, unread ? badge('unread', 'b-info') : null, statusBadge(m.status),
    m.attachments?.length ? h('span', { class: 'badge b-neutral' }, `${m.attachments.length} attached`) : null)));
}
function threadRow(t) {
  return h('li', null, h('a', {
    class: `row msg${t.unreadCount ? ' unread' : ''}`, href: `/ui/threads/${enc(t.id)}`, 'data-row': '', test: 'thread-row', 'data-id': t.id,
  },
  h('span', { class: 'r-who' }, `${num(t.messageCount)} ${t.messageCount === 1 ? 'message' : 'messages'}`),
  h('span', { class: 'r-date' }, time(t.lastMessageAt, true)),
  h('span', { class: 'r-subj' }, t.subject || '(no subject)'),
  h('span', { class: 'r-badges' }, t.unreadCount ? badge(`${num(t.unreadCount)} unread`, 'b-info') : null,
    (t.labels || []).filter((l) => !['read', 'unread'].includes(l)).slice(0, 3).map((l) => badge(l, 'b-neutral')))));
}

/**
 * What a message event tells about its message, in the API's field names. `full`: a whole
 * message (the API's answer to a send or a label change); `row`: enough for a list row.
 * Only a status change the payload does not carry (sent, delivered, bounced, …) needs the message.
 */
function eventMessage(type, raw, id) {
  if (raw.subject !== undefined && raw.status !== undefined && Array.isArray(raw.labels)) {
    return { msg: { ...raw, id }, full: true, row: true };
  }
  const msg = { id, inboxId: raw.inboxId, threadId: raw.threadId };
  if (type === 'message.received') {
    const from = raw.fromAddress ?? raw.from;
    Object.assign(msg, {
      direction: 'inbound', status: 'received', labels: ['unread'], fromAddress: from,
      toAddresses: raw.toAddresses ?? raw.to ?? [], subject: raw.subject ?? '',
      createdAt: raw.receivedAt ?? raw.createdAt, authResults: raw.authResults ?? null,
    });
    if (raw.extractedText !== undefined) msg.extractedText = raw.extractedText;
    const row = raw.subject !== undefined && from !== undefined;
    return { msg, full: false, row };
  }
  if (type === 'message.updated' && Array.isArray(raw.labels)) {
    msg.labels = raw.labels;
    return { msg, full: false, row: true };
  }
  return { msg, full: false, row: false };
}

function onMailEvent(state, type, payload, insertOnly = false) {
  const raw = payload?.data;
  const mid = raw?.id || raw?.messageId;
  if (!mid || !type.startsWith('message.')) return;
  if (raw.inboxId && raw.inboxId !== state.inboxId) return;
  state.refreshInbox?.();
  const ev = eventMessage(type, raw, mid);
  const m = ev.msg;
  if (type === 'message.received') toast(`New message from ${m.fromAddress || 'someone'}: ${m.subject || '(no subject)'}`);
  // A new row only for mail that is new; other events only update what is shown.
  const creates = type === 'message.received' || type === 'message.sent';
  const live = () => state === mail && !state.signal.aborted;
  // The message as far as needed: from the event when it says enough, else fetched (once).
  const withMessage = (enough, fn) => {
    if (enough) { fn(m); return; }
    let get = state.fetches.get(mid);
    if (!get) {
      get = api('GET', `/messages/${enc(mid)}`, { signal: state.signal });
      state.fetches.set(mid, get);
      get.finally(() => state.fetches.delete(mid)).catch(() => {});
    }
    get.then((msg) => { if (live()) fn(msg); }).catch(() => {});
  };
  // The open message: a received event tells it nothing it did not load itself.
  const messageDetail = () => state.detailType === 'message' && state.detailId === mid
    && (ev.full || type !== 'message.received');

  if (state.tab === 'messages') {
    const exists = state.rows.has(mid);
    if (exists && insertOnly) return;
    const insert = !exists && creates && !state.query;
    if (!exists && !insert && !messageDetail()) return; // nothing shown to update: no request
    withMessage(ev.row, (msg) => {
      const old = state.rows.get(msg.id);
      if (old) {
        if (insertOnly) return;
        const prev = state.items.get(msg.id);
        // A received event for a row the list already loaded tells nothing newer than it.
        const merged = type === 'message.received' && !ev.full ? { ...msg, ...prev } : { ...prev, ...msg };
        const li = messageRow(merged);
        const wasSel = $('.row', old).classList.contains('sel');
        old.replaceWith(li);
        if (wasSel) $('.row', li).classList.add('sel');
        state.rows.set(msg.id, li);
        state.items.set(msg.id, merged);
      } else if (creates && !state.query) {
        const li = messageRow(msg);
        state.rows.set(msg.id, li);
        state.items.set(msg.id, msg);
        $('ul.rows', state.root).prepend(li);
        $('.empty', state.root)?.remove();
        li.firstChild.classList.add('fresh');
        state.total = (state.total || 0) + 1;
        state.showCount();
        document.body.dataset.listCount = String(state.rows.size);
      }
      state.markSelected();
      if (messageDetail()) state.onDetailEvent?.(state.items.get(msg.id) || msg);
    });
    return;
  }

  // Threads: a new message moves its thread to the top (or adds it); other events refresh it in place.
  const threadId = m.threadId;
  if (messageDetail()) withMessage(ev.row, (msg) => { if (messageDetail()) state.onDetailEvent?.(msg); });
  if (!threadId) return;
  if (state.detailType === 'thread' && state.detailId === threadId) state.onDetailEvent?.(m);
  const exists = state.rows.has(threadId);
  if (!exists && !(creates && !state.query)) return;
  api('GET', `/threads/${enc(threadId)}`, { signal: state.signal }).then((t) => {
    if (!live()) return;
    const old = state.rows.get(t.id);
    const li = threadRow(t);
    if (old && !creates) {
      const wasSel = $('.row', old).classList.contains('sel');
      old.replaceWith(li);
      if (wasSel) $('.row', li).classList.add('sel');
    } else if (old || !state.query) {
      old?.remove();
      $('.empty', state.root)?.remove();
      $('ul.rows', state.root).prepend(li);
      if (!old) {
        state.total = (state.total || 0) + 1;
        state.showCount();
      }
    } else return;
    state.rows.set(t.id, li);
    state.items.set(t.id, t);
    if (!old) document.body.dataset.listCount = String(state.rows.size);
    state.markSelected();
  }).catch(() => {});
}

async function viewMessageRoute(id) {
  setNav('inboxes');
  if (mail && main().contains(mail.root) && mail.items.get(id)?.inboxId === mail.inboxId) {
    mail.setDetail({ type: 'message', id, message: null });
    return;
  }
  if (mail && main().contains(mail.root) && mail.detailType && mail.tab) {
    // Opened from a thread or a reply in the same inbox: keep the list if it is the same inbox.
    // Only the latest open renders: the next route aborts this one's fetch.
    const state = mail;
    const ctl = new AbortController();
    openCtl = ctl;
    const unlink = linkAbort(state.signal, ctl);
    try {
      const msg = await api('GET', `/messages/${enc(id)}`, { signal: ctl.signal });
      if (ctl.signal.aborted || state !== mail) return;
      if (msg.inboxId === state.inboxId) { state.setDetail({ type: 'message', id, message: msg }); return; }
      return viewMail(msg.inboxId, 'messages', { type: 'message', id, message: msg });
    } catch (e) { if (isAbort(e) || ctl.signal.aborted) return; } finally {
      unlink();
      if (openCtl === ctl) openCtl = null;
    }
  }
  const signal = newView();
  render(loading('Loading message…'));
  try {
    const msg = await api('GET', `/messages/${enc(id)}`, { signal });
    await viewMail(msg.inboxId, 'messages', { type: 'message', id, message: msg });
  } catch (e) {
    if (isAbort(e)) return;
    render(h('h1', null, 'Message'), errorBox(e, () => route()), h('p', null, h('a', { href: '/ui/inboxes' }, 'Back to inboxes')));
    markInteractive();
  }
}
async function viewThreadRoute(id) {
  setNav('inboxes');
  if (mail && main().contains(mail.root) && mail.tab === 'threads' && mail.items.get(id)) {
    mail.setDetail({ type: 'thread', id, thread: mail.items.get(id) });
    return;
  }
  const signal = newView();
  render(loading('Loading thread…'));
  try {
    const t = await api('GET', `/threads/${enc(id)}`, { signal });
    await viewMail(t.inboxId, 'threads', { type: 'thread', id, thread: t });
  } catch (e) {
    if (isAbort(e)) return;
    render(h('h1', null, 'Thread'), errorBox(e, () => route()), h('p', null, h('a', { href: '/ui/inboxes' }, 'Back to inboxes')));
    markInteractive();
  }
}

function backToList(state) {
  return h('a', { class: 'back', href: `/ui/inboxes/${enc(state.inboxId)}${state.tab === 'threads' ? '/threads' : ''}` }, '← Back to the list');
}

async function renderThread(state, pane, id, thread, signal) {
  const box = h('div', { class: 'thread-view', test: 'thread-view' }, backToList(state), loading('Loading thread…'));
  pane.append(box);
  async function load() {
    try {
      const [t, msgs] = await Promise.all([
        thread ? Promise.resolve(thread) : api('GET', `/threads/${enc(id)}`, { signal }),
        api('GET', `/threads/${enc(id)}/messages${qs({ limit: PAGE })}`, { signal }),
      ]);
      thread = null;
      append(clear(box), backToList(state), h('h2', { test: 'message-subject' }, t.subject || '(no subject)'),
        h('p', { class: 'muted small' }, `${num(t.messageCount)} ${t.messageCount === 1 ? 'message' : 'messages'} · last ${fmtDate(t.lastMessageAt)}`),
        h('ol', { class: 'rows thread-list', 'data-klist': '' }, msgs.data.map((m) => h('li', null,
          h('a', { class: `row msg${m.labels?.includes('unread') ? ' unread' : ''}`, href: `/ui/messages/${enc(m.id)}`, 'data-row': '', test: 'thread-message', 'data-id': m.id },
            h('span', { class: 'r-who' }, m.direction === 'outbound' ? `To: ${m.toAddresses.join(', ')}` : m.fromAddress),
            h('span', { class: 'r-date' }, time(m.sentAt || m.createdAt, true)),
            h('span', { class: 'r-subj snippet' }, (m.extractedText || m.bodyText || '').replace(/\s+/g, ' ').slice(0, 160) || m.subject),
            h('span', { class: 'r-badges' }, statusBadge(m.status)))))));
      document.title = `${t.subject || 'Thread'} · AgentSend`;
      markInteractive();
    } catch (e) {
      if (isAbort(e)) return;
      append(clear(box), backToList(state), errorBox(e, load));
      markInteractive();
    }
  }
  state.onDetailEvent = () => load();
  await load();
  if (!signal.aborted && document.activeElement === document.body) focusHeading(pane);
}

function authBadges(msg) {
  if (msg.direction !== 'inbound') return null;
  const a = msg.authResults;
  const one = (name, v) => h('span', { class: `badge ${badgeClass(v)}`, test: 'auth-badge', 'data-check': name.toLowerCase(), title: `${name}: ${v}` }, `${name}: ${v}`);
  if (!a) return h('span', { class: 'auth' }, one('SPF', 'not checked'), one('DKIM', 'not checked'), one('DMARC', 'not checked'));
  const dkims = Array.isArray(a.dkim) ? a.dkim : a.dkim ? [a.dkim] : [];
  const dkim = dkims.find((d) => d.result === 'pass')?.result || dkims[0]?.result || 'none';
  return h('span', { class: 'auth' }, one('SPF', a.spf?.result || 'none'), one('DKIM', dkim), one('DMARC', a.dmarc?.result || 'none'));
}

async function renderMessage(state, pane, id, preloaded, signal) {
  const box = h('article', { class: 'message-view', test: 'message-view', 'aria-busy': 'true' }, backToList(state), loading('Loading message…'));
  pane.append(box);
  // Events about this message that arrive while it loads are applied once it is shown.
  let missed = false;
  state.onDetailEvent = (m2) => { if (m2.id === id) missed = true; };
  let msg;
  try {
    msg = preloaded || await api('GET', `/messages/${enc(id)}`, { signal });
  } catch (e) {
    if (isAbort(e)) return;
    append(clear(box), backToList(state), errorBox(e, () => state.setDetail({ type: 'message', id })));
    markInteractive();
    return;
  }
  const statusSlot = h('span', { class: 'status-slot' }, statusBadge(msg.status));
  const labelsSlot = h('span', { class: 'labels' });
  const renderLabels = (m) => {
    clear(labelsSlot);
    for (const l of m.labels || []) labelsSlot.append(badge(l, l === 'unread' ? 'b-info' : 'b-neutral'));
  };
  renderLabels(msg);
  const hdr = (k, v) => (v ? [h('dt', null, k), h('dd', null, v)] : null);
  const headers = h('dl', { class: 'headers' },
    hdr('From', msg.fromAddress),
    hdr('To', (msg.toAddresses || []).join(', ')),
    hdr('Cc', (msg.ccAddresses || []).join(', ')),
    hdr('Bcc', (msg.bccAddresses || []).join(', ')),
    hdr('Subject', msg.subject || '(no subject)'),
    hdr('Date', time(msg.sentAt || msg.createdAt)),
    hdr('Message-ID', msg.messageIdHeader ? h('code', null, msg.messageIdHeader) : null));
  const errorNote = h('p', { class: 'error', hidden: !msg.errorMessage }, msg.errorMessage || '');

  // Body: HTML (sandboxed frame), text, raw source.
  const hasHtml = !!msg.bodyHtml;
  const tabsDef = [hasHtml ? ['html', 'HTML'] : null, ['text', 'Text'], ['raw', 'Raw source']].filter(Boolean);
  const uid = Math.random().toString(36).slice(2, 7);
  const panels = {};
  const tabBtns = {};
  const tablist = h('div', { class: 'tabs body-tabs', role: 'tablist', 'aria-label': 'Message body' });
  for (const [k, label] of tabsDef) {
    tabBtns[k] = h('button', {
      type: 'button', role: 'tab', id: `tab-${k}-${uid}`, 'aria-controls': `panel-${k}-${uid}`, test: `tab-${k}`,
      'aria-selected': 'false', tabindex: '-1',
    }, label);
    panels[k] = h('div', { role: 'tabpanel', id: `panel-${k}-${uid}`, 'aria-labelledby': `tab-${k}-${uid}`, hidden: true, class: 'body-panel' });
    tabBtns[k].addEventListener('click', () => showTab(k));
    tablist.append(tabBtns[k]);
  }
  tablist.addEventListener('keydown', (e) => {
    if (e.key !== 'ArrowRight' && e.key !== 'ArrowLeft') return;
    const keys = tabsDef.map((t) => t[0]);
    const i = keys.findIndex((k) => tabBtns[k] === document.activeElement);
    const n = keys[(i + (e.key === 'ArrowRight' ? 1 : keys.length - 1)) % keys.length];
    showTab(n); tabBtns[n].focus();
  });
  const loaded = {};
  function showTab(k) {
    for (const [key] of tabsDef) {
      const on = key === k;
      tabBtns[key].setAttribute('aria-selected', String(on));
      tabBtns[key].tabIndex = on ? 0 : -1;
      panels[key].hidden = !on;
    }
    if (!loaded[k]) { loaded[k] = true; loaders[k](); }
  }
  const loaders = {
    html: () => loadFrame(false),
    text: () => {
      const text = msg.bodyText ?? '';
      panels.text.append(text ? h('pre', { class: 'body-text', test: 'body-text', tabindex: '0', 'aria-label': 'Message text' }, text)
        : h('p', { class: 'muted', test: 'body-text' }, hasHtml ? 'This message has no plain-text part; see the HTML tab.' : 'This message has no text.'));
    },
    raw: async () => {
      panels.raw.append(loading('Loading the raw source…'));
      try {
        const raw = await api('GET', `/messages/${enc(id)}/raw`, { signal, text: true });
        append(clear(panels.raw), h('div', { class: 'row-inline end' }, copyButton(() => raw, 'Copy the raw source', 'raw-copy')),
          h('pre', { class: 'raw', test: 'raw-source', tabindex: '0', 'aria-label': 'Raw source' }, raw));
      } catch (e) {
        if (isAbort(e)) return;
        loaded.raw = false;
        append(clear(panels.raw), errorBox(e));
      }
    },
  };
  let frame = null;
  const imagesBtn = h('button', { type: 'button', class: 'btn small', test: 'load-images' }, 'Load images');
  const imagesNote = h('p', { class: 'note small' }, 'Remote images are blocked. ', imagesBtn);
  imagesBtn.addEventListener('click', () => busy(imagesBtn, () => loadFrame(true)));
  async function loadFrame(images) {
    const p = panels.html;
    if (!frame) p.append(loading('Preparing the HTML view…'));
    try {
      const r = await api('POST', '/ui/frames', { body: { messageId: id, images }, signal });
      $('.loading', p)?.remove();
      if (!frame) {
        frame = h('iframe', {
          sandbox: 'allow-popups allow-popups-to-escape-sandbox', referrerpolicy: 'no-referrer',
          title: 'Message body (HTML)', test: 'message-frame', class: 'frame',
        });
        p.append(imagesNote, frame);
      }
      frame.src = r.url;
      if (images) { imagesNote.replaceChildren('Remote images are shown.'); toast('Images loaded.'); }
    } catch (e) {
      if (isAbort(e)) return;
      $('.loading', p)?.remove();
      p.append(errorBox(e, () => { $('.error', p)?.remove(); loadFrame(images); }));
    }
  }

  // Attachments: each link gets a fresh presigned URL.
  const attachBox = msg.attachments?.length ? h('section', { class: 'attachments', 'aria-label': 'Attachments' },
    h('h3', null, `Attachments (${msg.attachments.length})`),
    h('ul', { class: 'plain' }, msg.attachments.map((a) => {
      const li = h('li', null, h('span', { class: 'muted' }, `${a.filename} — preparing link…`));
      api('GET', `/attachments/${enc(a.id)}`, { signal }).then((full) => {
        // Same origin: the presigned URL names the server's configured public URL, which
        // need not be the host name this page was reached by.
        let href = full.url;
        try { const u = new URL(full.url, location.href); href = u.pathname + u.search; } catch { /* keep it */ }
        append(clear(li), h('a', { href, download: a.filename, test: 'attachment-link', rel: 'noopener noreferrer' }, a.filename),
          h('span', { class: 'muted small' }, ` ${a.contentType} · ${fmtSize(a.size)}`));
      }).catch((e) => { if (!isAbort(e)) append(clear(li), h('span', { class: 'error' }, `${a.filename}: ${e.message}`)); });
      return li;
    }))) : null;

  // Per-recipient outcomes (outbound).
  const recBox = msg.direction === 'outbound' ? h('section', { class: 'recipients', 'aria-label': 'Delivery per recipient' }, h('h3', null, 'Delivery')) : null;
  async function loadRecipients() {
    if (!recBox) return;
    try {
      const r = await api('GET', `/messages/${enc(id)}/recipients`, { signal });
      const rows = (r.data || []).map((x) => h('tr', { test: 'recipient-row', 'data-address': x.address },
        td('Recipient', x.address), td('Kind', x.kind || ''), td('Status', badge(x.status || 'unknown')),
        td('Route', x.route || ''), td('Last error', x.lastError || ''), td('Updated', time(x.updatedAt))));
      append(clear(recBox), h('h3', null, 'Delivery'), rows.length
        ? table('Delivery per recipient', ['Recipient', 'Kind', 'Status', 'Route', 'Last error', 'Updated'], rows, 'compact')
        : h('p', { class: 'muted' }, 'No recipients recorded yet.'));
    } catch (e) {
      if (isAbort(e)) return;
      append(clear(recBox), h('h3', null, 'Delivery'), h('p', { class: 'muted' }, `Per-recipient results are not available: ${e.message}`));
    }
  }

  // Thread around it.
  const threadBox = h('section', { class: 'thread-around', 'aria-label': 'Conversation' });
  async function loadThread() {
    try {
      const r = await api('GET', `/threads/${enc(msg.threadId)}/messages${qs({ limit: PAGE })}`, { signal });
      clear(threadBox);
      if ((r.data || []).length < 2) return;
      threadBox.append(h('h3', null, `Conversation (${num(r.total ?? r.data.length)})`),
        h('ol', { class: 'rows thread-list' }, r.data.map((m) => h('li', null,
          h('a', {
            class: `row msg${m.id === id ? ' current' : ''}${m.labels?.includes('unread') ? ' unread' : ''}`, href: `/ui/messages/${enc(m.id)}`,
            test: 'thread-message', 'data-id': m.id, 'aria-current': m.id === id ? 'true' : null,
          },
          h('span', { class: 'r-who' }, m.direction === 'outbound' ? `To: ${m.toAddresses.join(', ')}` : m.fromAddress),
          h('span', { class: 'r-date' }, time(m.sentAt || m.createdAt, true)),
          h('span', { class: 'r-subj' }, m.id === id ? `${m.subject || '(no subject)'} (this message)` : (m.subject || '(no subject)')),
          h('span', { class: 'r-badges' }, statusBadge(m.status)))))));
    } catch (e) { if (!isAbort(e)) threadBox.append(h('p', { class: 'muted' }, `The conversation could not be loaded: ${e.message}`)); }
  }

  // Reply.
  const replyOpen = h('button', { type: 'button', class: 'btn primary', test: 'reply-open', 'aria-expanded': 'false', 'aria-controls': `reply-${uid}` }, 'Reply');
  const replyBox = h('div', { id: `reply-${uid}`, hidden: true });
  replyOpen.addEventListener('click', () => {
    const show = replyBox.hidden;
    replyBox.hidden = !show;
    replyOpen.setAttribute('aria-expanded', String(show));
    if (show) { if (!replyBox.firstChild) replyBox.append(replyForm(state, msg, signal)); $('textarea', replyBox)?.focus(); }
  });

  append(clear(box), 
    backToList(state),
    h('h2', { test: 'message-subject', class: 'subject' }, msg.subject || '(no subject)'),
    h('div', { class: 'meta-badges' }, statusSlot, labelsSlot, authBadges(msg)),
    errorNote,
    headers,
    h('div', { class: 'actions left' }, replyOpen),
    replyBox,
    tablist,
    Object.values(panels),
    attachBox, recBox, threadBox);
  box.removeAttribute('aria-busy');
  showTab(hasHtml ? 'html' : 'text');
  document.title = `${msg.subject || '(no subject)'} · AgentSend`;
  if (document.activeElement === document.body || !document.activeElement || !main().contains(document.activeElement)) focusHeading(box);
  markInteractive();
  loadRecipients();
  loadThread();

  // Mark as read.
  if (msg.labels?.includes('unread')) {
    api('PATCH', `/messages/${enc(id)}`, { body: { addLabels: ['read'] }, signal }).then((m2) => {
      renderLabels(m2);
      msg.labels = m2.labels;
      onMailEvent(state, 'message.updated', { data: m2 });
    }).catch(() => {});
  }
  state.onDetailEvent = (m2) => {
    if (m2.id !== id) return;
    msg = { ...msg, ...m2 };
    append(clear(statusSlot), statusBadge(msg.status));
    renderLabels(msg);
    errorNote.textContent = msg.errorMessage || '';
    errorNote.hidden = !msg.errorMessage;
    loadRecipients();
  };
  // Outbound mail on its way: catch up on what the stream may have told before this view
  // listened, then check now and then until the status settles.
  const refetch = () => api('GET', `/messages/${enc(id)}`, { signal }).then((m2) => {
    if (m2.status !== msg.status || (m2.labels || []).join() !== (msg.labels || []).join()) onMailEvent(state, 'message.updated', { data: m2 });
    return m2;
  });
  if (missed) refetch().catch(() => {});
  if (msg.direction === 'outbound' && (msg.status === 'queued' || msg.status === 'sending')) {
    (async () => {
      for (const ms of [1500, 3000, 5000, 10000, 20000]) {
        await sleep(ms, signal);
        if (signal.aborted) return;
        try {
          const m2 = await refetch();
          if (m2.status !== 'queued' && m2.status !== 'sending') return;
        } catch { return; }
      }
    })();
  }
}

function replyForm(state, msg, signal) {
  const body = h('textarea', { name: 'bodyText', rows: '8', required: true, test: 'reply-body' });
  const files = h('input', { type: 'file', name: 'attachments', multiple: true, test: 'reply-attach' });
  const all = checkbox('replyAll', 'true', 'Reply to all (the other To and Cc addresses too)', false, 'reply-all');
  const submit = h('button', { type: 'submit', class: 'btn primary', test: 'reply-send' }, 'Send reply');
  const err = h('p', { class: 'error', role: 'alert', hidden: true });
  const send = sendOnce();
  const form = h('form', { class: 'card form', test: 'reply-form', 'aria-label': 'Reply', novalidate: true },
    h('h3', null, `Reply to ${msg.direction === 'inbound' ? msg.fromAddress : (msg.toAddresses || []).join(', ')}`),
    field('Message', body), field('Attachments', files, 'Up to 10 files, 10 MB each.'), all, err,
    h('div', { class: 'actions' }, submit));
  form.addEventListener('submit', async (e) => {
    e.preventDefault();
    err.hidden = true;
    if (!body.value.trim()) { err.hidden = false; err.textContent = 'Write a reply first.'; body.focus(); return; }
    await busy(submit, async () => {
      try {
        submit.textContent = files.files.length ? 'Uploading…' : 'Sending…';
        const sent = await send(`/messages/${enc(msg.id)}/reply`, files.files, (attachmentIds) => {
          const payload = { bodyText: body.value, replyAll: form.elements.replyAll.checked };
          if (attachmentIds.length) payload.attachmentIds = attachmentIds;
          return payload;
        }, signal);
        if (signal.aborted) return;
        toast(`Reply ${sent.status || 'queued'}.`);
        onMailEvent(state, 'message.sent', { data: sent }, true);
        navigate(`/ui/messages/${enc(sent.id)}`);
      } catch (e2) {
        if (isAbort(e2)) return;
        err.hidden = false; err.textContent = e2.message;
      }
    });
  });
  return form;
}

function openCompose(state) {
  const splitList = (s) => s.split(/[,;\s]+/).map((x) => x.trim()).filter(Boolean);
  const to = h('input', { name: 'to', type: 'text', required: true, autocomplete: 'off', spellcheck: 'false', test: 'compose-to' });
  const cc = h('input', { name: 'cc', type: 'text', autocomplete: 'off', spellcheck: 'false' });
  const subject = h('input', { name: 'subject', type: 'text', required: true, maxlength: '998' });
  const body = h('textarea', { name: 'bodyText', rows: '10' });
  const files = h('input', { type: 'file', name: 'attachments', multiple: true, test: 'compose-attach' });
  const submit = h('button', { type: 'submit', class: 'btn primary', test: 'compose-send' }, 'Send');
  const err = h('p', { class: 'error', role: 'alert', hidden: true });
  const send = sendOnce();
  const form = h('form', { class: 'form', test: 'compose-form', novalidate: true },
    h('p', { class: 'muted small' }, `From ${state.inbox?.address || 'this inbox'}`),
    field('To', to, 'Comma-separated addresses.'), field('Cc (optional)', cc), field('Subject', subject),
    field('Message', body), field('Attachments', files, 'Up to 10 files, 10 MB each.'), err,
    h('div', { class: 'actions' }, h('button', { type: 'button', class: 'btn', on: { click: () => d.close() } }, 'Cancel'), submit));
  const d = dialog('New message', form);
  d.classList.add('wide');
  to.focus();
  form.addEventListener('submit', async (e) => {
    e.preventDefault();
    err.hidden = true;
    const toList = splitList(to.value);
    if (!toList.length) { err.hidden = false; err.textContent = 'Add at least one recipient.'; to.focus(); return; }
    if (!subject.value.trim()) { err.hidden = false; err.textContent = 'Add a subject.'; subject.focus(); return; }
    await busy(submit, async () => {
      try {
        submit.textContent = files.files.length ? 'Uploading…' : 'Sending…';
        // Not tied to the view's signal: a send the user started completes even if they leave.
        const sent = await send(`/inboxes/${enc(state.inboxId)}/messages`, files.files, (attachmentIds) => {
          const payload = { to: toList, subject: subject.value.trim(), bodyText: body.value };
          const ccList = splitList(cc.value);
          if (ccList.length) payload.cc = ccList;
          if (attachmentIds.length) payload.attachmentIds = attachmentIds;
          return payload;
        });
        toast(`Message ${sent.status || 'queued'}.`);
        // The user has moved on meanwhile (another view, or signed out): do not pull them back.
        if (d.open) d.close();
        if (mail !== state || state.signal.aborted) return;
        onMailEvent(state, 'message.sent', { data: sent }, true);
        navigate(`/ui/messages/${enc(sent.id)}`);
      } catch (e2) {
        err.hidden = false; err.textContent = e2.message;
        if (!d.isConnected) toast(`The message was not sent: ${e2.message}`, 'error');
      }
    });
  });
}

// ---------------------------------------------------------------- webhooks

function eventsFieldset(selected, legend = 'Events') {
  return h('fieldset', { class: 'checks' }, h('legend', null, legend),
    h('p', { class: 'hint' }, 'None ticked means every event.'),
    EVENTS.map((ev) => checkbox('events', ev, ev, selected?.includes(ev))));
}
const checkedValues = (form, name) => $$(`input[name="${name}"]:checked`, form).map((i) => i.value);

async function viewWebhooks() {
  const signal = newView();
  setNav('webhooks');
  const listBox = h('div', null, loading('Loading webhooks…'));
  const secretSlot = h('div');
  const formBox = h('div', { hidden: true, id: 'webhook-create' });
  const openBtn = h('button', { type: 'button', class: 'btn primary', test: 'webhook-create-open', 'aria-expanded': 'false', 'aria-controls': 'webhook-create' }, 'New webhook');
  openBtn.addEventListener('click', () => {
    formBox.hidden = !formBox.hidden;
    openBtn.setAttribute('aria-expanded', String(!formBox.hidden));
    if (!formBox.hidden) $('input', formBox)?.focus();
  });
  const url = h('input', { name: 'url', type: 'url', required: true, placeholder: 'https://example.com/hooks/agentsend', spellcheck: 'false' });
  const desc = h('input', { name: 'description', type: 'text', maxlength: '500' });
  const err = h('p', { class: 'error', role: 'alert', hidden: true });
  const submit = h('button', { type: 'submit', class: 'btn primary' }, 'Create webhook');
  const form = h('form', { class: 'card form', test: 'webhook-create-form', 'aria-label': 'New webhook', novalidate: true },
    h('h2', null, 'New webhook'), field('URL', url), field('Description (optional)', desc), eventsFieldset([]), err,
    h('div', { class: 'actions' }, submit));
  formBox.append(form);
  form.addEventListener('submit', async (e) => {
    e.preventDefault();
    err.hidden = true;
    if (!url.value.trim()) { err.hidden = false; err.textContent = 'Enter the URL deliveries go to.'; url.focus(); return; }
    await busy(submit, async () => {
      try {
        const body = { url: url.value.trim(), events: checkedValues(form, 'events') };
        if (desc.value.trim()) body.description = desc.value.trim();
        const wh = await api('POST', '/webhooks', { body, signal });
        form.reset();
        formBox.hidden = true;
        openBtn.setAttribute('aria-expanded', 'false');
        append(clear(secretSlot), h('div', { class: 'card' }, h('h2', null, 'Webhook created'),
          h('p', null, 'Deliveries to ', h('a', { href: `/ui/webhooks/${enc(wh.id)}` }, wh.url), ' are signed with this secret.'),
          secretBox('Signing secret', wh.secret, 'webhook-secret', 'This secret will not be shown again: store it now.')));
        $('input', secretSlot)?.focus();
        toast('Webhook created.');
        load();
      } catch (e2) { if (!isAbort(e2)) { err.hidden = false; err.textContent = e2.message; } }
    });
  });
  render(h('div', { class: 'page-head' }, h('h1', null, 'Webhooks'), openBtn), formBox, secretSlot, listBox);
  async function load() {
    try {
      const page = await api('GET', `/webhooks${qs({ limit: PAGE })}`, { signal });
      clear(listBox);
      if (!page.data.length) listBox.append(h('p', { class: 'empty' }, 'No webhooks yet — add one to have events posted to your server.'));
      else {
        const t = table('Webhooks', ['URL', 'Events', 'Active', 'Created'], page.data.map((w) => h('tr', { 'data-row': '', test: 'webhook-row', 'data-id': w.id },
          td('URL', h('a', { href: `/ui/webhooks/${enc(w.id)}`, class: 'rowlink break' }, w.url), w.description ? h('div', { class: 'muted small' }, w.description) : null),
          td('Events', w.events?.length ? w.events.join(', ') : 'All events'),
          td('Active', badge(w.isActive ? 'active' : 'inactive', w.isActive ? 'b-ok' : 'b-neutral')),
          td('Created', time(w.createdAt)))));
        t.querySelector('tbody').setAttribute('data-klist', '');
        listBox.append(t);
      }
      document.body.dataset.listCount = String(page.data.length);
      markInteractive();
    } catch (e) { if (!isAbort(e)) { append(clear(listBox), errorBox(e, load)); markInteractive(); } }
  }
  await load();
}

async function viewWebhook(id) {
  const signal = newView();
  setNav('webhooks');
  render(h('a', { class: 'back', href: '/ui/webhooks' }, '← Webhooks'), loading('Loading webhook…'));
  let wh;
  try { wh = await api('GET', `/webhooks/${enc(id)}`, { signal }); } catch (e) {
    if (isAbort(e)) return;
    render(h('a', { class: 'back', href: '/ui/webhooks' }, '← Webhooks'), h('h1', null, 'Webhook'), errorBox(e, () => route()));
    markInteractive();
    return;
  }
  const title = h('h1', { class: 'break' }, wh.url);
  const secretSlot = h('div');
  const url = h('input', { name: 'url', type: 'url', required: true, value: wh.url, spellcheck: 'false' });
  const desc = h('input', { name: 'description', type: 'text', maxlength: '500', value: wh.description || '' });
  const active = checkbox('isActive', 'true', 'Active (deliveries are made)', wh.isActive, 'webhook-active');
  const err = h('p', { class: 'error', role: 'alert', hidden: true });
  const save = h('button', { type: 'submit', class: 'btn primary' }, 'Save changes');
  const form = h('form', { class: 'card form', test: 'webhook-edit-form', 'aria-label': 'Edit webhook', novalidate: true },
    h('h2', null, 'Settings'), field('URL', url), field('Description', desc), eventsFieldset(wh.events), active, err,
    h('div', { class: 'actions' }, save));
  form.addEventListener('submit', async (e) => {
    e.preventDefault();
    err.hidden = true;
    await busy(save, async () => {
      try {
        wh = await api('PUT', `/webhooks/${enc(id)}`, {
          body: { url: url.value.trim(), description: desc.value.trim() || null, events: checkedValues(form, 'events'), isActive: form.elements.isActive.checked },
          signal,
        });
        title.textContent = wh.url;
        toast('Webhook saved.');
      } catch (e2) { if (!isAbort(e2)) { err.hidden = false; err.textContent = e2.message; } }
    });
  });
  const rotate = h('button', { type: 'button', class: 'btn', test: 'webhook-rotate' }, 'Rotate secret');
  rotate.addEventListener('click', async () => {
    if (!await confirmStep('Rotate the signing secret?', 'A new secret is issued now and the old one stops being used for new deliveries.', 'Rotate')) return;
    try {
      const r = await api('PUT', `/webhooks/${enc(id)}`, { body: { rotateSecret: true }, signal });
      append(clear(secretSlot), h('div', { class: 'card' }, h('h2', null, 'New signing secret'),
        secretBox('Signing secret', r.secret, 'webhook-secret', 'This secret will not be shown again: store it now.')));
      $('input', secretSlot)?.focus();
      toast('Secret rotated.');
    } catch (e) { if (!isAbort(e)) toast(e.message, 'error'); }
  });
  const test = h('button', { type: 'button', class: 'btn', test: 'webhook-test' }, 'Send test');
  test.addEventListener('click', async () => {
    const ok = await busy(test, async () => {
      try {
        await api('POST', `/webhooks/${enc(id)}/test`, { signal });
        toast('Test event queued.');
        return true;
      } catch (e) { if (!isAbort(e)) toast(e.message, 'error'); return false; }
    });
    if (!ok) return;
    await loadDeliveries();
    for (const ms of [1000, 2000, 4000, 8000]) { await sleep(ms, signal); if (signal.aborted) return; await loadDeliveries(); }
  });
  const del = h('button', { type: 'button', class: 'btn danger-text', test: 'webhook-delete' }, 'Delete');
  del.addEventListener('click', async () => {
    if (!await confirmStep('Delete webhook?', `Delete the webhook to ${wh.url}? Deliveries not yet made are dropped.`)) return;
    try { await api('DELETE', `/webhooks/${enc(id)}`, { signal }); toast('Webhook deleted.'); navigate('/ui/webhooks'); } catch (e) { if (!isAbort(e)) toast(e.message, 'error'); }
  });
  const refresh = h('button', { type: 'button', class: 'btn small', test: 'deliveries-refresh' }, 'Refresh');
  refresh.addEventListener('click', () => busy(refresh, loadDeliveries));
  const delivBox = h('div', null, loading('Loading deliveries…'));
  render(h('a', { class: 'back', href: '/ui/webhooks' }, '← Webhooks'),
    h('div', { class: 'page-head' }, h('div', { class: 'titles' }, title, h('p', { class: 'muted small' }, `Created ${fmtDate(wh.createdAt)}`)),
      h('div', { class: 'actions' }, test, rotate, del)),
    secretSlot, form,
    h('section', { class: 'card', 'aria-labelledby': 'deliv-h' }, h('div', { class: 'head-row' }, h('h2', { id: 'deliv-h' }, 'Delivery log'), refresh), delivBox));
  async function loadDeliveries() {
    try {
      const page = await api('GET', `/webhooks/${enc(id)}/deliveries${qs({ limit: PAGE })}`, { signal });
      clear(delivBox);
      if (!page.data.length) { delivBox.append(h('p', { class: 'empty' }, 'No deliveries yet — use “Send test” to try the endpoint.')); return; }
      const rows = [];
      for (const d of page.data) {
        rows.push(h('tr', { test: 'delivery-row', 'data-id': d.id, 'data-status': d.status },
          td('Event', h('code', null, d.event)), td('Status', badge(d.status)),
          td('Attempts', String(d.attempts)), td('Last response', d.lastStatusCode != null ? `HTTP ${d.lastStatusCode}` : (d.lastError || '—')),
          td('Created', time(d.createdAt)), td('Next attempt', d.nextAttemptAt ? time(d.nextAttemptAt) : '—'),
          td('Details', (d.attemptLog || []).length ? h('details', null, h('summary', null, `${d.attemptLog.length} ${d.attemptLog.length === 1 ? 'attempt' : 'attempts'}`),
            h('ol', { class: 'attempts' }, d.attemptLog.map((a) => h('li', null,
              h('div', null, h('strong', null, `#${a.attempt}`), ' ', a.statusCode != null ? badge(`HTTP ${a.statusCode}`, a.statusCode < 300 ? 'b-ok' : 'b-bad') : badge('no response', 'b-bad'),
                ` ${num(a.durationMs)} ms · `, time(a.createdAt)),
              a.error ? h('div', { class: 'error small' }, a.error) : null,
              a.response ? h('pre', { class: 'excerpt' }, a.response) : null)))) : '—')));
      }
      delivBox.append(table('Deliveries', ['Event', 'Status', 'Attempts', 'Last response', 'Created', 'Next attempt', 'Details'], rows));
    } catch (e) { if (!isAbort(e)) append(clear(delivBox), errorBox(e, loadDeliveries)); }
  }
  await loadDeliveries();
  markInteractive();
}

// ---------------------------------------------------------------- domains

async function viewDomains() {
  const signal = newView();
  setNav('domains');
  const listBox = h('div', null, loading('Loading domains…'));
  const input = h('input', { name: 'domain', type: 'text', required: true, placeholder: 'example.com', spellcheck: 'false', autocomplete: 'off' });
  const err = h('p', { class: 'error', role: 'alert', hidden: true });
  const submit = h('button', { type: 'submit', class: 'btn primary' }, 'Add domain');
  const form = h('form', { class: 'card form inline-form', test: 'domain-create-form', 'aria-label': 'Add a domain', novalidate: true },
    h('h2', null, 'Add a domain'), field('Domain', input, 'You will get the DNS records to publish.'), err, h('div', { class: 'actions' }, submit));
  form.addEventListener('submit', async (e) => {
    e.preventDefault();
    err.hidden = true;
    if (!input.value.trim()) { err.hidden = false; err.textContent = 'Enter a domain name.'; input.focus(); return; }
    await busy(submit, async () => {
      try {
        const d = await api('POST', '/domains', { body: { domain: input.value.trim() }, signal });
        toast(`Added ${d.domain}. Publish its DNS records next.`);
        navigate(`/ui/domains/${enc(d.id)}`);
      } catch (e2) { if (!isAbort(e2)) { err.hidden = false; err.textContent = e2.message; } }
    });
  });
  render(h('h1', null, 'Domains'), listBox, form);
  try {
    const page = await api('GET', `/domains${qs({ limit: PAGE })}`, { signal });
    clear(listBox);
    if (!page.data.length) listBox.append(h('p', { class: 'empty' }, 'No custom domains yet — add one below to send from your own addresses.'));
    else {
      const t = table('Domains', ['Domain', 'Sending', 'Receiving', 'Last check'], page.data.map((d) => h('tr', { 'data-row': '', test: 'domain-row', 'data-id': d.id },
        td('Domain', h('a', { href: `/ui/domains/${enc(d.id)}`, class: 'rowlink' }, d.domain)),
        td('Sending', badge(d.sendingStatus || 'unknown')), td('Receiving', badge(d.receivingStatus || 'unknown')),
        td('Last check', d.lastCheckError ? h('span', { class: 'error small' }, d.lastCheckError) : (d.lastCheckedAt ? time(d.lastCheckedAt) : 'Not checked yet')))));
      t.querySelector('tbody').setAttribute('data-klist', '');
      listBox.append(t);
    }
    document.body.dataset.listCount = String(page.data.length);
  } catch (e) { if (!isAbort(e)) append(clear(listBox), errorBox(e, () => route())); }
  markInteractive();
}

async function viewDomain(id) {
  const signal = newView();
  setNav('domains');
  const back = () => h('a', { class: 'back', href: '/ui/domains' }, '← Domains');
  render(back(), loading('Loading domain…'));
  let d;
  try { d = await api('GET', `/domains/${enc(id)}`, { signal }); } catch (e) {
    if (isAbort(e)) return;
    render(back(), h('h1', null, 'Domain'), errorBox(e, () => route()));
    markInteractive();
    return;
  }
  const statusBox = h('div');
  const recordsBox = h('div');
  function fill() {
    append(clear(statusBox), h('dl', { class: 'headers' },
      h('dt', null, 'Sending'), h('dd', null, badge(d.sendingStatus || 'unknown')),
      h('dt', null, 'Receiving'), h('dd', null, badge(d.receivingStatus || 'unknown')),
      h('dt', null, 'Last checked'), h('dd', null, d.lastCheckedAt ? time(d.lastCheckedAt) : 'Not yet'),
      d.lastCheckError ? [h('dt', null, 'Last check found'), h('dd', { class: 'error' }, d.lastCheckError)] : null));
    const rows = (d.dnsRecords || []).map((r) => h('tr', { test: 'dns-record-row', 'data-purpose': r.purpose },
      td('Type', r.type), td('Name', h('code', { class: 'break' }, r.name)),
      td('Value', h('code', { class: 'break value' }, r.value)),
      td('Priority', r.priority != null ? String(r.priority) : '—'), td('Purpose', r.purpose),
      td('Required', r.required ? 'Required' : 'Recommended'),
      td('Copy', copyButton(() => r.value, `Copy the ${r.purpose} value`, 'dns-copy'))));
    append(clear(recordsBox), rows.length ? table('DNS records', ['Type', 'Name', 'Value', 'Priority', 'Purpose', 'Required', 'Copy'], rows, 'dns') : h('p', { class: 'muted' }, 'No records.'));
  }
  fill();
  const verify = h('button', { type: 'button', class: 'btn primary', test: 'domain-verify' }, 'Verify now');
  verify.addEventListener('click', () => busy(verify, async () => {
    try {
      d = await api('POST', `/domains/${enc(id)}/verify`, { signal });
      fill();
      toast(d.sendingStatus === 'verified' ? `${d.domain} is verified for sending.` : `${d.domain} is not verified yet${d.lastCheckError ? ': see “Last check found”.' : '.'}`);
    } catch (e) { if (!isAbort(e)) toast(e.message, 'error'); }
  }));
  const del = h('button', { type: 'button', class: 'btn danger-text', test: 'domain-delete' }, 'Delete');
  del.addEventListener('click', async () => {
    if (!await confirmStep('Delete domain?', `Delete ${d.domain} and its DKIM key? Inboxes must not use it any more.`)) return;
    try { await api('DELETE', `/domains/${enc(id)}`, { signal }); toast(`Deleted ${d.domain}.`); navigate('/ui/domains'); } catch (e) { if (!isAbort(e)) toast(e.message, 'error'); }
  });
  const zoneBtn = h('button', { type: 'button', class: 'btn', test: 'zone-open', 'aria-expanded': 'false', 'aria-controls': 'zone-box' }, 'Zone file');
  const zoneBox = h('div', { id: 'zone-box', hidden: true });
  zoneBtn.addEventListener('click', async () => {
    zoneBox.hidden = !zoneBox.hidden;
    zoneBtn.setAttribute('aria-expanded', String(!zoneBox.hidden));
    if (zoneBox.hidden || zoneBox.firstChild) return;
    zoneBox.append(loading('Loading the zone file…'));
    try {
      const text = await api('GET', `/domains/${enc(id)}${qs({ format: 'zone' })}`, { signal, text: true });
      append(clear(zoneBox), h('div', { class: 'head-row' }, h('h3', null, 'Zone file'), copyButton(() => text, 'Copy the zone file', 'zone-copy')),
        h('pre', { class: 'raw', test: 'zone-file', tabindex: '0', 'aria-label': 'Zone file' }, text));
    } catch (e) { if (!isAbort(e)) append(clear(zoneBox), errorBox(e)); }
  });
  render(back(), h('div', { class: 'page-head' }, h('h1', null, d.domain), h('div', { class: 'actions' }, verify, del)),
    h('section', { class: 'card', 'aria-labelledby': 'dstat-h' }, h('h2', { id: 'dstat-h' }, 'Status'), statusBox),
    h('section', { class: 'card', 'aria-labelledby': 'drec-h' }, h('div', { class: 'head-row' }, h('h2', { id: 'drec-h' }, 'DNS records'), zoneBtn),
      h('p', { class: 'muted small' }, 'Publish these records at your DNS provider, then choose “Verify now”.'), recordsBox, zoneBox));
  markInteractive();
}

// ---------------------------------------------------------------- account

async function viewAccount() {
  const signal = newView();
  setNav('account');
  const infoBox = h('div', null, loading('Loading account…'));
  const keysBox = h('div', null, loading('Loading keys…'));
  const secretSlot = h('div');
  const name = h('input', { name: 'name', type: 'text', maxlength: '255', autocomplete: 'off' });
  const err = h('p', { class: 'error', role: 'alert', hidden: true });
  const submit = h('button', { type: 'submit', class: 'btn primary' }, 'Create key');
  const form = h('form', { class: 'form', test: 'apikey-create-form', 'aria-label': 'New API key', novalidate: true },
    h('h3', null, 'New API key'), field('Name (optional)', name),
    h('fieldset', { class: 'checks' }, h('legend', null, 'Scopes'),
      SCOPES.map((s) => checkbox('scopes', s, s, s !== 'approve'))),
    err, h('div', { class: 'actions' }, submit));
  form.addEventListener('submit', async (e) => {
    e.preventDefault();
    err.hidden = true;
    const scopes = checkedValues(form, 'scopes');
    if (!scopes.length) { err.hidden = false; err.textContent = 'Tick at least one scope.'; return; }
    await busy(submit, async () => {
      try {
        const body = { scopes };
        if (name.value.trim()) body.name = name.value.trim();
        const k = await api('POST', '/account/api-keys', { body, signal });
        form.reset();
        append(clear(secretSlot), h('div', { class: 'card' }, h('h3', null, `Key created${k.name ? `: ${k.name}` : ''}`),
          secretBox('API key', k.key, 'apikey-secret', 'This key will not be shown again: store it now.')));
        $('input', secretSlot)?.focus();
        toast('API key created.');
        loadKeys();
      } catch (e2) { if (!isAbort(e2)) { err.hidden = false; err.textContent = e2.message; } }
    });
  });
  render(h('h1', null, 'Account'),
    h('section', { class: 'card', 'aria-labelledby': 'acc-h' }, h('h2', { id: 'acc-h' }, 'Details'), infoBox),
    h('section', { class: 'card', 'aria-labelledby': 'keys-h' }, h('h2', { id: 'keys-h' }, 'API keys'), keysBox, secretSlot, form));
  try {
    const a = await api('GET', '/account', { signal });
    setAccount(a);
    append(clear(infoBox), h('dl', { class: 'headers' },
      h('dt', null, 'Name'), h('dd', null, a.name),
      h('dt', null, 'Email'), h('dd', null, a.email),
      h('dt', null, 'Plan'), h('dd', null, badge(a.plan, a.plan === 'sandbox' ? 'b-warn' : 'b-neutral')),
      h('dt', null, 'Daily send limit'), h('dd', null, num(a.dailySendLimit)),
      h('dt', null, 'Verified'), h('dd', null, a.isVerified ? 'Yes' : 'No'),
      a.sandboxExpiresAt ? [h('dt', null, 'Sandbox ends'), h('dd', null, time(a.sandboxExpiresAt))] : null,
      a.claimUrl ? [h('dt', null, 'Claim'), h('dd', null, h('a', { href: a.claimUrl, target: '_blank', rel: 'noopener noreferrer' }, 'Claim this account'))] : null,
      h('dt', null, 'Created'), h('dd', null, time(a.createdAt)),
      h('dt', null, 'Account ID'), h('dd', null, h('code', null, a.id))));
  } catch (e) { if (!isAbort(e)) append(clear(infoBox), errorBox(e, () => route())); }
  async function loadKeys() {
    try {
      const page = await api('GET', `/account/api-keys${qs({ limit: PAGE })}`, { signal });
      clear(keysBox);
      if (!page.data.length) { keysBox.append(h('p', { class: 'empty' }, 'No keys.')); return; }
      const current = apiKey.slice(0, 12);
      keysBox.append(table('API keys', ['Name', 'Prefix', 'Scopes', 'Created', 'Last used', 'Actions'], page.data.map((k) => {
        const revoke = h('button', { type: 'button', class: 'btn small danger-text', test: 'apikey-revoke', 'aria-label': `Revoke ${k.name || k.keyPrefix}` }, 'Revoke');
        revoke.addEventListener('click', async () => {
          const self = current.startsWith(k.keyPrefix) || k.keyPrefix.startsWith(current);
          if (!await confirmStep('Revoke key?', `Revoke ${k.name || k.keyPrefix}? It stops working with its next request.${self ? ' This is the key you are signed in with: you will be signed out.' : ''}`, 'Revoke')) return;
          try { await api('DELETE', `/account/api-keys/${enc(k.id)}`, { signal }); toast('Key revoked.'); loadKeys(); } catch (e) { if (!isAbort(e)) toast(e.message, 'error'); }
        });
        return h('tr', { 'data-row': '', test: 'apikey-row', 'data-id': k.id },
          td('Name', k.name || h('span', { class: 'muted' }, 'Unnamed')), td('Prefix', h('code', null, k.keyPrefix)),
          td('Scopes', (k.scopes || []).join(', ')), td('Created', time(k.createdAt)),
          td('Last used', k.lastUsedAt ? time(k.lastUsedAt) : 'Never'), td('Actions', revoke));
      })));
    } catch (e) { if (!isAbort(e)) append(clear(keysBox), errorBox(e, loadKeys)); }
  }
  await loadKeys();
  markInteractive();
}

// ---------------------------------------------------------------- keyboard

function activeList() {
  const lists = $$('[data-klist]', main());
  const withFocus = lists.find((l) => l.contains(document.activeElement));
  if (withFocus) return withFocus;
  return lists.find((l) => l.offsetParent !== null) || null;
}
function select(row, focus = true) {
  for (const r of $$('[data-row].sel', main())) if (r !== row) r.classList.remove('sel');
  row.classList.add('sel');
  if (focus) {
    const target = row.matches('a') ? row : $('a, button', row);
    target?.focus();
    row.scrollIntoView({ block: 'nearest' });
  }
}
document.addEventListener('keydown', (e) => {
  if (e.ctrlKey || e.metaKey || e.altKey || e.defaultPrevented) return;
  const t = e.target;
  if ($('dialog[open]')) return; // a dialog handles its own keys (Esc closes it)
  const typing = t instanceof HTMLElement && (t.isContentEditable || /^(INPUT|TEXTAREA|SELECT)$/.test(t.tagName));
  if (typing) return;
  if (!apiKey) return;
  if (e.key === 'j' || e.key === 'k') {
    const list = activeList();
    if (!list) return;
    const rows = $$('[data-row]', list);
    if (!rows.length) return;
    let i = rows.findIndex((r) => r.classList.contains('sel') || r.contains(document.activeElement));
    i = i < 0 ? (e.key === 'j' ? 0 : rows.length - 1) : Math.max(0, Math.min(rows.length - 1, i + (e.key === 'j' ? 1 : -1)));
    select(rows[i]);
    e.preventDefault();
  } else if (e.key === 'Enter') {
    if (t instanceof HTMLElement && t.closest('a, button, summary')) return; // native activation
    const sel = $('[data-row].sel', main());
    if (!sel) return;
    const link = sel.matches('a') ? sel : $('a.rowlink, a', sel);
    if (link) { e.preventDefault(); link.click(); }
  } else if (e.key === 'Escape') {
    if (mail && main().contains(mail.root) && mail.detailId) {
      e.preventDefault();
      const back = mail.detailId;
      navigate(`/ui/inboxes/${enc(mail.inboxId)}${mail.tab === 'threads' ? '/threads' : ''}`);
      const row = mail?.rows.get(back);
      if (row) select($('.row', row));
      return;
    }
    const back = $('a.back', main());
    if (back) { e.preventDefault(); back.click(); }
  } else if (e.key === '/') {
    const s = $('[data-test="search-input"]', main());
    if (s) { e.preventDefault(); s.focus(); s.select(); }
  } else if (e.key === 'c') {
    if (mail && main().contains(mail.root)) { e.preventDefault(); $('[data-test="compose-open"]', mail.root)?.click(); }
  }
});

// ---------------------------------------------------------------- start

async function start() {
  if (!apiKey) { showSignin(); return; }
  try {
    setAccount(await api('GET', '/account'));
  } catch (e) {
    if (e.status === 401) return; // unauthorized() has shown the sign-in form
    toast(`Could not load the account: ${e.message}`, 'error');
  }
  if (location.pathname === '/' || location.pathname === '/ui' || location.pathname === '/ui/') history.replaceState(null, '', '/ui/inboxes');
  route();
}
start();
