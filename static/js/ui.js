// Small DOM toolkit shared by every page: element builder, keyed in-place list updates (no
// flicker: existing nodes are patched, never rebuilt), toasts with retry, confirm dialogs, the
// 5-second poller (pauses while the tab is hidden, backs off on errors) and formatters.
//
//   const list = h('ul');
//   keyed(list, items, (it) => it.id, (it) => h('li', {}, it.name), (el, it) => setText(el, it.name));
//   const stop = poll(async () => render(await api.get('/api/subscriptions')), { every: 5000 });
//   toast.error(err, { retry: () => save() });

/** h('button', { class: 'btn', onclick: fn, 'aria-label': 'x' }, 'text', child) */
export function h(tag, attrs = {}, ...children) {
  const el = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs || {})) {
    if (v === undefined || v === null || v === false) continue;
    if (k.startsWith('on') && typeof v === 'function') el.addEventListener(k.slice(2), v);
    else if (k === 'class') el.className = v;
    else if (k === 'dataset') Object.assign(el.dataset, v);
    else if (k === 'value') el.value = v;
    else if (k === 'checked' || k === 'disabled' || k === 'selected' || k === 'hidden' || k === 'required') el[k] = Boolean(v);
    else el.setAttribute(k, v === true ? '' : String(v));
  }
  append(el, children);
  return el;
}
function append(el, children) {
  for (const c of children.flat(Infinity)) {
    if (c === null || c === undefined || c === false) continue;
    el.append(c instanceof Node ? c : document.createTextNode(String(c)));
  }
}
/** Replace an element's children. */
export function fill(el, ...children) {
  el.replaceChildren();
  append(el, children);
  return el;
}
/** Set text only when it changed (keeps selection and avoids layout work). */
export function setText(el, text) {
  const t = String(text ?? '');
  if (el.textContent !== t) el.textContent = t;
}
export function setAttr(el, name, value) {
  if (!el) return;
  if (value === null || value === undefined || value === false) { if (el.hasAttribute(name)) el.removeAttribute(name); return; }
  const v = value === true ? '' : String(value);
  if (el.getAttribute(name) !== v) el.setAttribute(name, v);
}

/**
 * Keyed reconciliation: keeps one child per key, creates new ones, patches existing ones in place,
 * removes vanished ones and fixes the order with the fewest moves. Focus inside a kept row survives;
 * focus inside a removed row (its Delete or Reset button) moves to the row now in its place, so it
 * does not fall to <body>.
 */
export function keyed(container, items, keyOf, create, update) {
  const active = document.activeElement;
  const lostAt = Array.from(container.children).findIndex((el) => el.contains(active));
  const existing = new Map();
  for (const el of Array.from(container.children)) if (el.dataset.key !== undefined) existing.set(el.dataset.key, el);
  const wanted = [];
  for (const item of items) {
    const k = String(keyOf(item));
    let el = existing.get(k);
    if (el) existing.delete(k);
    else { el = create(item); el.dataset.key = k; }
    if (update) update(el, item);
    wanted.push(el);
  }
  for (const el of existing.values()) el.remove();
  // Non-keyed children (e.g. an "empty" row) are removed so the list is exactly the items.
  for (const el of Array.from(container.children)) if (el.dataset.key === undefined) el.remove();
  let ref = container.firstElementChild;
  for (const el of wanted) {
    if (el === ref) { ref = ref.nextElementSibling; continue; }
    container.insertBefore(el, ref);
  }
  // A moved row loses the focus too (the DOM removes it to insert it): give it back.
  if (lostAt >= 0 && !container.contains(document.activeElement)) {
    if (container.contains(active)) active.focus({ preventScroll: true });
    else keepFocusNear(container, lostAt);
  }
}
const FOCUSABLE = 'a[href], button:not([disabled]), input:not([disabled]), select:not([disabled]), textarea:not([disabled]), [tabindex]:not([tabindex="-1"])';
/** Focus the first control of the row at `index` (or the last row); with no row left, the page. */
function keepFocusNear(container, index) {
  const rows = Array.from(container.children);
  const row = rows[Math.min(index, rows.length - 1)];
  const target = row?.querySelector(FOCUSABLE) || (row?.matches(FOCUSABLE) ? row : null);
  if (target) target.focus();
  else container.closest('main')?.focus({ preventScroll: true });
}

// ---------- toasts ----------
const toastRoot = () => document.getElementById('toasts');
function showToast(kind, title, message, { retry, timeout } = {}) {
  const close = () => t.remove();
  const t = h('div', { class: `toast ${kind}`, role: kind === 'error' ? 'alert' : 'status' },
    h('p', {}, title ? h('b', {}, title) : null, message),
    retry ? h('button', { type: 'button', class: 'btn small', onclick: () => { close(); retry(); } }, 'Retry') : null,
    h('button', { type: 'button', class: 'icon-btn', 'aria-label': 'Dismiss', onclick: close }, '×'));
  toastRoot().append(t);
  // Errors with a retry stay until acted on; others fade after a while.
  const ms = timeout ?? (retry ? 0 : kind === 'error' ? 9000 : 4000);
  if (ms) setTimeout(close, ms);
  // Keep at most 4 on screen.
  while (toastRoot().children.length > 4) toastRoot().firstElementChild.remove();
  return t;
}
export const toast = {
  ok: (msg) => showToast('ok', '', msg),
  info: (msg) => showToast('info', '', msg),
  /** err: an ApiError/Error or a string; the server's message is shown as text. */
  error: (err, o = {}) => showToast('error', o.title || 'Request failed', typeof err === 'string' ? err : err?.message || 'Something went wrong', o),
};

/**
 * Run an action with its control busy; failures become an error toast with retry. A busy button is
 * `aria-disabled` (a second press is ignored), not `disabled`: a disabled button drops the keyboard
 * focus to <body>, and the user would have to find their place again. Other controls (a role
 * <select>) are disabled, so their value cannot change under a request in flight.
 */
export async function act(button, fn, { ok, title } = {}) {
  const soft = button?.tagName === 'BUTTON';
  if (soft && button.getAttribute('aria-disabled') === 'true') return undefined;
  if (soft) setAttr(button, 'aria-disabled', 'true');
  else if (button) button.disabled = true;
  try {
    const r = await fn();
    if (ok) toast.ok(ok);
    return r;
  } catch (e) {
    toast.error(e, { title, retry: () => act(button, fn, { ok, title }) });
    return undefined;
  } finally {
    if (soft) setAttr(button, 'aria-disabled', null);
    else if (button && button.isConnected) button.disabled = false;
  }
}

/** The button that takes an action's place after it ran (Pause becomes Resume and back). */
const TWIN_ACTION = { pause: 'resume', resume: 'pause', archive: 'resume', 'reset-error': 'pause' };
/**
 * Replace a container's action buttons (each with data-action); when the focus was on one of them
 * it moves to the same action, else to the one that took its place, else to the first button —
 * never to <body>.
 */
export function replaceActions(container, buttons) {
  const was = container.contains(document.activeElement) ? document.activeElement.dataset.action : null;
  container.replaceChildren(...buttons);
  if (!was) return;
  const q = (a) => (a ? container.querySelector(`[data-action="${a}"]`) : null);
  (q(was) || q(TWIN_ACTION[was]) || container.querySelector('button'))?.focus();
}

// ---------- dialogs ----------
/** Modal confirm (native <dialog>: Escape cancels, focus is trapped by the browser). */
export function confirmDialog(message, { ok = 'Confirm', danger = false, body } = {}) {
  return new Promise((resolve) => {
    const d = h('dialog', { 'aria-label': message },
      h('h2', {}, message), body || null,
      h('div', { class: 'row' },
        h('button', { type: 'button', class: 'btn', value: 'cancel', onclick: () => d.close('cancel') }, 'Cancel'),
        h('button', { type: 'button', class: `btn ${danger ? 'danger' : 'primary'}`, onclick: () => d.close('ok') }, ok)));
    d.addEventListener('close', () => { d.remove(); resolve(d.returnValue === 'ok'); });
    document.body.append(d);
    d.showModal();
  });
}
/** A dialog holding arbitrary content; returns { dialog, close }. */
export function openDialog(title, content) {
  const d = h('dialog', { 'aria-label': title }, h('h2', {}, title), content,
    h('div', { class: 'row' }, h('button', { type: 'button', class: 'btn', onclick: () => d.close() }, 'Close')));
  d.addEventListener('close', () => d.remove());
  document.body.append(d);
  d.showModal();
  return { dialog: d, close: () => d.close() };
}

// ---------- polling ----------
const pollers = new Set();
/**
 * Calls fn now and then every `every` ms while the tab is visible. Errors back off (x2 up to
 * 60 s) and show one toast with retry until a call succeeds again. Returns stop().
 */
export function poll(fn, { every = 5000, max = 60000, quietErrors = false } = {}) {
  const p = { timer: 0, delay: every, stopped: false, failing: false, toastEl: null, running: false };
  const tick = async () => {
    if (p.stopped || p.running) return;
    clearTimeout(p.timer);
    if (document.hidden) return; // resumed by visibilitychange
    p.running = true;
    try {
      await fn();
      p.delay = every;
      if (p.failing) { p.failing = false; p.toastEl?.remove(); }
    } catch (e) {
      p.delay = Math.min(max, p.delay * 2);
      if (!p.failing && !quietErrors && !(e && e.status === 401)) p.toastEl = toast.error(e, { title: 'Could not refresh', retry: () => { p.delay = every; tick(); } });
      p.failing = true;
    } finally {
      p.running = false;
    }
    if (!p.stopped && !document.hidden) p.timer = setTimeout(tick, p.delay);
  };
  p.tick = tick;
  pollers.add(p);
  tick();
  return () => { p.stopped = true; clearTimeout(p.timer); pollers.delete(p); };
}
document.addEventListener('visibilitychange', () => {
  for (const p of pollers) {
    clearTimeout(p.timer);
    if (!document.hidden) p.tick();
  }
});
/** Stop every poller (the router calls this when leaving a page). */
export function stopAllPolls() {
  for (const p of pollers) { p.stopped = true; clearTimeout(p.timer); }
  pollers.clear();
}

// ---------- formatters ----------
export function fmtBytes(n) {
  if (n === undefined || n === null || Number.isNaN(n)) return '—';
  const u = ['B', 'KB', 'MB', 'GB', 'TB'];
  let i = 0; let v = Number(n);
  while (v >= 1024 && i < u.length - 1) { v /= 1024; i++; }
  return `${i === 0 ? v : v.toFixed(v < 10 ? 1 : 0)} ${u[i]}`;
}
export function fmtDate(s) {
  if (!s) return '—';
  const d = new Date(s);
  if (Number.isNaN(d.getTime()) || d.getUTCFullYear() < 1971) return '—';
  return d.toLocaleString(undefined, { year: 'numeric', month: 'short', day: 'numeric', hour: '2-digit', minute: '2-digit' });
}
export function fmtAgo(s) {
  if (!s) return '—';
  const d = new Date(s).getTime();
  if (Number.isNaN(d) || d < 86400000) return 'never';
  const sec = Math.round((Date.now() - d) / 1000);
  if (sec < 5) return 'just now';
  if (sec < 60) return `${sec}s ago`;
  if (sec < 3600) return `${Math.floor(sec / 60)}m ago`;
  if (sec < 86400) return `${Math.floor(sec / 3600)}h ago`;
  return `${Math.floor(sec / 86400)}d ago`;
}
/**
 * A length in seconds as words: "45 s", "1 min 10 s", "2 h 5 min" (the "N min" of the queue's
 * estimated waits, with seconds below a minute instead of "~0 min").
 */
export function fmtSpan(seconds) {
  const s = Math.max(0, Math.round(seconds));
  if (s < 60) return `${s} s`;
  if (s < 3600) return s % 60 ? `${Math.floor(s / 60)} min ${s % 60} s` : `${s / 60} min`;
  const m = Math.round(s / 60);
  return m % 60 ? `${Math.floor(m / 60)} h ${m % 60} min` : `${m / 60} h`;
}
export function fmtDuration(ms) {
  const s = Math.max(0, Math.floor(ms / 1000));
  const p = (n) => String(n).padStart(2, '0');
  return `${p(Math.floor(s / 3600))}:${p(Math.floor((s % 3600) / 60))}:${p(s % 60)}`;
}

// ---------- page helpers ----------
export function pageHead(title, sub, ...actions) {
  return h('div', { class: 'page-head' }, h('h1', {}, title),
    actions.length ? h('div', { class: 'actions' }, actions) : null,
    sub ? h('p', { class: 'sub' }, sub) : null);
}
let fieldSeq = 0;
/**
 * A labelled input: field('Username', h('input', {...}), 'help text') → wrapper with .err slot.
 * wrap.setError(msg) shows the message in an alert region that is always in the document (so
 * screen readers announce it) and moves the focus to the control unless it is already on a control
 * flagged invalid (with several errors the first one keeps it).
 */
export function field(label, control, help) {
  const id = control.id || `f${++fieldSeq}`;
  control.id = id;
  const err = h('p', { class: 'err', id: `${id}-err`, role: 'alert' });
  const helpEl = help ? h('p', { class: 'help', id: `${id}-help` }, help) : null;
  control.setAttribute('aria-describedby', [helpEl && helpEl.id, err.id].filter(Boolean).join(' '));
  const wrap = h('div', { class: 'field' }, h('label', { for: id }, label), control, helpEl, err);
  wrap.setError = (msg) => {
    setText(err, msg || '');
    setAttr(control, 'aria-invalid', msg ? 'true' : null);
    const active = document.activeElement;
    if (msg && active !== control && active?.getAttribute('aria-invalid') !== 'true') control.focus();
  };
  return wrap;
}
/** Segmented filter control; onChange(value). */
export function segmented(label, options, value, onChange) {
  const wrap = h('div', { class: 'seg', role: 'group', 'aria-label': label });
  const set = (v) => {
    for (const b of wrap.children) b.setAttribute('aria-pressed', String(b.dataset.v === v));
    onChange(v);
  };
  for (const [v, text] of options) wrap.append(h('button', { type: 'button', 'aria-pressed': String(v === value), dataset: { v }, onclick: () => set(v) }, text));
  wrap.setCount = (v, text) => { for (const b of wrap.children) if (b.dataset.v === v) setText(b, text); };
  return wrap;
}
export function badge(text, kind = '') { return h('span', { class: `badge ${kind}` }, text); }
export const statusKind = { recording: 'rec', waiting: 'info', starting: 'warn', error: 'bad', inactive: '', active: 'ok', paused: 'warn', archived: '', running: 'ok', idle: '', errored: 'bad', sleeping: 'info' };
/**
 * A table with a tbody to keep rows in (keyed()). A header is a string, a ready <th>, or
 * { sr: 'Cover' } for a column whose heading is only for screen readers (an image column): no
 * header cell is ever empty.
 */
export function table(headers, { responsive = true, caption } = {}) {
  const tbody = h('tbody');
  const th = (x) => (typeof x === 'string' ? h('th', { scope: 'col' }, x) : x instanceof Node ? x : h('th', { scope: 'col' }, h('span', { class: 'sr-only' }, x.sr)));
  const t = h('table', { class: responsive ? 'responsive' : '' },
    caption ? h('caption', { class: 'sr-only' }, caption) : null,
    h('thead', {}, h('tr', {}, headers.map(th))), tbody);
  // The wrapper scrolls sideways when the rows are wider than the screen (long audit details, 360 px
  // phones): a focusable, named region lets a keyboard user scroll it (WCAG 2.1.1).
  const wrap = h('div', { class: 'table-wrap', tabindex: '0', role: 'region', 'aria-label': caption ?? 'Table' }, t);
  return { wrap, table: t, tbody };
}
export function td(label, ...content) { return h('td', { 'data-label': label }, ...content); }
