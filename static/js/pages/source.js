// #/source/{driver}/{username} — one source: status, live log tail, worker events (process starts,
// stop requests, exits, error stops), the recordings
// browser (folders, files with sizes and dates, thumbnails, an in-page player that seeks through
// HTTP Range requests) and, for admins, its subscribers. Status, logs and events poll every 5 s.
import { api, apiUrl, refreshSession, seg } from '../api.js';
import { h, keyed, poll, setText, fill, pageHead, table, td, act, badge, statusKind, fmtBytes, fmtDate, fmtAgo, fmtDuration, fmtSpan, toast, replaceActions } from '../ui.js';
import { statusBadge, thumbBox, subAction, srcKey } from '../dvr.js';

const SVG = 'http://www.w3.org/2000/svg';
/** Outline paths (24×24, stroked in currentColor: they follow the theme's text colour). */
const MARKS = {
  directory: ['M3 6.5A1.5 1.5 0 0 1 4.5 5h4.4l2 2.2h8.6A1.5 1.5 0 0 1 21 8.7v9.8a1.5 1.5 0 0 1-1.5 1.5h-15A1.5 1.5 0 0 1 3 18.5z'],
  file: ['M4 5.5A1.5 1.5 0 0 1 5.5 4h13A1.5 1.5 0 0 1 20 5.5v13a1.5 1.5 0 0 1-1.5 1.5h-13A1.5 1.5 0 0 1 4 18.5z', 'M8 4v16M16 4v16M4 9h4M4 15h4M16 9h4M16 15h4', 'M10.5 10v4l3-2z'],
};
/**
 * A folder or film mark for a row without a thumbnail: inline SVG built with the DOM (no markup
 * strings, no inline styles: the strict CSP allows it), hidden from screen readers like the emoji it
 * replaces (the row's name says what it is), and drawn with no emoji font installed.
 */
function mark(kind) {
  const svg = document.createElementNS(SVG, 'svg');
  for (const [k, v] of Object.entries({ viewBox: '0 0 24 24', width: '24', height: '24', fill: 'none', stroke: 'currentColor', 'stroke-width': '1.6', 'stroke-linecap': 'round', 'stroke-linejoin': 'round', 'aria-hidden': 'true', focusable: 'false', class: `file-mark ${kind}` })) svg.setAttribute(k, v);
  for (const d of MARKS[kind]) {
    const path = document.createElementNS(SVG, 'path');
    path.setAttribute('d', d);
    svg.append(path);
  }
  return svg;
}

/** How each worker event reads in the list (`exited` shows its exit code). */
const EVENT_TEXT = { started: 'process started', stopped: 'stop sent (no active subscription left)', errored: 'too many exits: stopped until reset' };
const EVENT_KIND = { started: 'ok', stopped: 'info', errored: 'bad' };

const PLAYABLE = { mp4: 'video/mp4', m4v: 'video/mp4', mov: 'video/mp4', webm: 'video/webm', mkv: 'video/webm', ogv: 'video/ogg', ts: 'video/mp2t' };

export async function render(main, { driver, username }, ctx) {
  const base = `/api/sources/${seg(driver)}/${seg(username)}`;
  const mediaBase = `/media/subscriptions/${seg(driver)}/${seg(username)}/`;
  const thumbBase = `/thumbnails/${seg(driver)}/${seg(username)}/`;
  let sub = null;

  const actions = h('div', { class: 'row' });
  const head = pageHead(username, `${driver} source`, actions);
  const box = thumbBox({ driver, username }, false);
  const kv = h('dl', { class: 'kv' });
  const kvRows = {};
  for (const [k, label] of [['status', 'Status'], ['posture', 'Your posture'], ['worker', 'Worker'], ['session', 'Session'], ['last', 'Last recording'], ['hb', 'Last heartbeat'], ['err', 'Error'], ['link', 'Page']]) {
    const dd = h('dd', {});
    kvRows[k] = dd;
    kv.append(h('dt', {}, label), dd);
  }
  const log = h('pre', { class: 'log', tabindex: '0', role: 'region', 'aria-label': 'Log tail' });
  const follow = h('input', { type: 'checkbox', checked: true, id: 'follow' });
  const events = h('ul', { class: 'events' });
  // Worker events are the recorder process's starts, stop requests, exits and error stops (the
  // source monitor's outbox in D1), not its recording output: that is the live log.
  const evEmpty = h('p', { class: 'muted small' }, 'No recorder process started, stopped or exited yet.');

  const crumbs = h('nav', { class: 'crumbs', 'aria-label': 'Folder' });
  const totals = h('p', { class: 'muted small' });
  // Cards that wait for their own request say so until it answers (an empty box read as "nothing").
  const retention = h('p', { class: 'muted small', 'aria-live': 'polite' }, 'Loading…');
  const files = table([{ sr: 'Preview' }, 'Name', h('th', { scope: 'col', class: 'num' }, 'Size'), 'Modified', h('th', { scope: 'col', class: 'num' }, 'Actions')], { caption: 'Recordings' });
  const filesEmpty = h('p', { class: 'empty' }, 'Loading…');
  const player = h('div', { class: 'player', hidden: true });
  files.wrap.hidden = true;

  const subsCard = h('section', { class: 'card', 'aria-labelledby': 'subs-h', hidden: !ctx.isAdmin },
    h('h2', { id: 'subs-h' }, 'Subscribers'), h('p', { class: 'muted small' }, 'Loading…'));
  main.append(head,
    h('div', { class: 'cols' },
      h('section', { class: 'card stack', 'aria-labelledby': 'st-h' }, h('h2', { id: 'st-h' }, 'Status'), box, kv),
      h('section', { class: 'card', 'aria-labelledby': 'log-h' },
        h('div', { class: 'row' }, h('h2', { id: 'log-h' }, 'Live log'), h('span', { class: 'spacer' }), h('label', { class: 'check', for: 'follow' }, follow, 'Follow')), log)),
    h('section', { class: 'card', 'aria-labelledby': 'rec-h' }, h('h2', { id: 'rec-h' }, 'Recordings'), crumbs, totals, retention, files.wrap, filesEmpty, player),
    h('div', { class: 'cols' },
      h('section', { class: 'card', 'aria-labelledby': 'ev-h' }, h('h2', { id: 'ev-h' }, 'Worker events'), events, evEmpty),
      subsCard));

  // ---------- retention: storage used and what the policy deletes next (issue 16) ----------
  function describePolicy(p) {
    if (!p) return 'kept forever (no policy)';
    if (p.keep_forever) return 'kept forever';
    const parts = [];
    if (p.keep_days) parts.push(`${p.keep_days} days`);
    if (p.keep_gb) parts.push(`${p.keep_gb} GB`);
    if (p.keep_sessions) parts.push(`last ${p.keep_sessions} sessions`);
    return parts.length ? `kept: ${parts.join(', ')}` : 'kept forever (no limit)';
  }
  api.get(`${base}/retention`).then((r) => {
    const next = r.next_deletions.slice(0, 3).map((n) => `${n.path} (${n.reason})`).join(', ');
    setText(retention, `Storage: ${fmtBytes(r.storage.bytes)} in ${r.storage.files} file${r.storage.files === 1 ? '' : 's'} · ${describePolicy(r.effective)}${r.inherited ? ' (default)' : ''}` +
      (r.next_deletions.length ? ` · deleted next: ${next}${r.next_deletions.length > 3 ? ', …' : ''}` : ''));
  }).catch((e) => {
    retention.className = 'form-error';
    setText(retention, `Could not load the storage and retention: ${e.message}`);
  });

  // ---------- status ----------
  function paintActions() {
    const list = [];
    const add = (label, action, cls = '') => {
      const b = h('button', { type: 'button', class: `btn ${cls}`, dataset: { action } }, label);
      b.addEventListener('click', () => act(b, async () => { await subAction(sub, action, ctx); await loadStatus(); }, { ok: `${label}: ${username}` }));
      list.push(b);
    };
    if (sub) {
      if (sub.worker_state === 'errored') add('Reset error', 'reset-error', 'danger');
      if (sub.posture === 'active') add('Pause', 'pause'); else add(sub.posture === 'archived' ? 'Reactivate' : 'Resume', 'resume');
      if (ctx.isAdmin && sub.posture === 'active') add('Restart', 'restart');
    } else {
      const b = h('button', { type: 'button', class: 'btn primary' }, 'Subscribe');
      b.addEventListener('click', () => act(b, async () => { await api.post('/api/subscriptions', { driver, username }); await loadStatus(); }, { ok: `Subscribed to ${username}` }));
      list.push(b);
    }
    const sig = list.map((b) => b.textContent).join('|');
    if (actions.dataset.sig !== sig) { actions.dataset.sig = sig; replaceActions(actions, list); }
  }
  async function loadStatus() {
    const all = await api.get('/api/subscriptions');
    const mine = all.filter((s) => srcKey(s) === `${driver}/${username}`);
    sub = mine.find((s) => s.user_id === ctx.user.id) || mine.find((s) => s.posture === 'active') || mine[0] || null;
    paintActions();
    if (!sub) {
      setText(kvRows.status, 'You do not follow this source.');
      return;
    }
    const st = statusBadge(sub);
    if (kvRows.status.textContent !== st.textContent) kvRows.status.replaceChildren(st);
    if (kvRows.posture.textContent !== sub.posture) kvRows.posture.replaceChildren(badge(sub.posture, statusKind[sub.posture]));
    setText(kvRows.worker, `${sub.worker_state}${sub.pid ? ` · pid ${sub.pid}` : ''}${sub.recording_state ? ` · ${sub.recording_state}` : ''}`);
    const start = sub.session_started_at ? new Date(sub.session_started_at).getTime() : null;
    setText(kvRows.session, sub.session_active ? (start ? `live for ${fmtDuration(Date.now() - start)}` : `live ${sub.session_duration || ''}`) : 'no session');
    setText(kvRows.last, sub.last_recording_at ? `${fmtDate(sub.last_recording_at)} (${fmtAgo(sub.last_recording_at)})` : 'never');
    setText(kvRows.hb, fmtAgo(sub.last_heartbeat));
    setText(kvRows.err, sub.error_message || '—');
    // Keyed on the URL painted, not the link's href: "—" has none, so it was never painted (cam4).
    const href = sub.canonical_url || '';
    if (kvRows.link.dataset.href !== href || !kvRows.link.firstChild) {
      kvRows.link.dataset.href = href;
      kvRows.link.replaceChildren(href ? h('a', { href, target: '_blank', rel: 'noopener noreferrer' }, href) : '—');
    }
    box.refresh(sub, sub.session_active);
  }

  // ---------- logs and events ----------
  async function loadLogs() {
    if (!sub) return;
    const r = await api.get(`${base}/logs`);
    const lines = r.logs || [];
    const text = lines.join('\n');
    if (log.dataset.text === text) return;
    log.dataset.text = text;
    const atBottom = log.scrollTop + log.clientHeight >= log.scrollHeight - 8;
    fill(log, lines.length ? lines.map((l) => h('span', { class: l.startsWith('[system]') ? 'sys' : '' }, `${l}\n`)) : h('span', { class: 'muted' }, 'No log lines yet.'));
    if (follow.checked || atBottom) log.scrollTop = log.scrollHeight;
  }
  async function loadEvents() {
    if (!sub) return;
    const r = await api.get(`${base}/events`);
    const list = r.events || [];
    keyed(events, list, (e) => e.id, (e) => h('li', {},
      badge(e.event_type, EVENT_KIND[e.event_type] ?? (e.exit_code ? 'bad' : '')),
      h('span', { class: 'small' }, e.event_type === 'exited' ? `exit code ${e.exit_code ?? 0}` : EVENT_TEXT[e.event_type] ?? e.event_type),
      h('span', { class: 'muted small' }, `pid ${e.pid}`),
      h('time', { datetime: e.ts, title: fmtDate(e.ts) })), (el, e) => setText(el.querySelector('time'), fmtAgo(e.ts)));
    evEmpty.hidden = list.length > 0;
  }

  // ---------- recordings browser ----------
  /** " · 1 min 10 s": what the recorder reported, else the whole-segment estimate of .ts folders. */
  /** Then " · recording · 3 min so far" for what is recorded below but not stored yet (the live segment). */
  const recordedLength = (c) => (c.recorded_seconds != null ? ` · ${fmtSpan(c.recorded_seconds)}`
    : c.ts_count > 0 ? ` · ~${fmtSpan(c.estimated_minutes * 60)}` : '')
    + (c.in_progress_seconds > 0 ? ` · recording · ${fmtSpan(c.in_progress_seconds)} so far` : '');
  let path = '';
  async function openDir(p) {
    path = p;
    const parts = p.split('/').filter(Boolean);
    fill(crumbs, h('button', { type: 'button', onclick: () => openDir('') }, username),
      parts.map((name, i) => [h('span', { class: 'muted', 'aria-hidden': 'true' }, '/'),
        i === parts.length - 1 ? h('span', { 'aria-current': 'location' }, name) : h('button', { type: 'button', onclick: () => openDir(parts.slice(0, i + 1).join('/') + '/') }, name)]));
    let entries = [];
    try {
      entries = await api.get(`${mediaBase}${p.split('/').filter(Boolean).map(seg).map((x) => `${x}/`).join('')}`);
      setText(filesEmpty, 'No files yet.');
    } catch (e) {
      if (e.status !== 404) { setText(filesEmpty, `Could not list files: ${e.message}`); }
      else setText(filesEmpty, 'No files yet.');
      entries = [];
    }
    const names = new Set(entries.map((e) => e.name));
    const shown = entries.filter((e) => !(e.type === 'file' && /\.jpg$/i.test(e.name)))
      .sort((a, b) => (a.type === b.type ? a.name.localeCompare(b.name) : a.type === 'directory' ? -1 : 1));
    const stats = new Map();
    api.get(`${base}/filestat?path=${encodeURIComponent(p.replace(/\/$/, ''))}`).then((fs) => {
      for (const c of fs.children || []) stats.set(c.name, c);
      setText(totals, `${fs.file_count} file${fs.file_count === 1 ? "" : "s"} · ${fmtBytes(fs.total_bytes)}`);
      for (const tr of files.tbody.children) {
        const c = stats.get(tr.dataset.key);
        if (c && c.type === 'directory') setText(tr.querySelector('.size'), `${fmtBytes(c.total_bytes)}${recordedLength(c)}`);
      }
    }).catch(() => setText(totals, ''));
    const rel = p.split('/').filter(Boolean).map(seg).map((x) => `${x}/`).join('');
    keyed(files.tbody, shown, (e) => e.name, (e) => {
      const base0 = e.name.replace(/\.[^.]+$/, '');
      const thumb = e.type === 'file' && names.has(`${base0}.jpg`) ? h('img', { class: 'file-thumb', alt: '', loading: 'lazy', src: apiUrl(`${thumbBase}${rel}${seg(base0)}.jpg`) }) : mark(e.type === 'directory' ? 'directory' : 'file');
      const url = apiUrl(`${mediaBase}${rel}${seg(e.name)}`);
      const ext = (e.name.split('.').pop() || '').toLowerCase();
      const actionsTd = h('td', { class: 'actions' });
      if (e.type === 'directory') actionsTd.append(h('button', { type: 'button', class: 'btn small', onclick: () => openDir(`${p}${e.name}/`) }, 'Open'));
      else {
        const type = Object.hasOwn(PLAYABLE, ext) ? PLAYABLE[ext] : undefined;
        const v = document.createElement('video');
        if (type && v.canPlayType(type)) actionsTd.append(h('button', { type: 'button', class: 'btn small primary', onclick: () => play(url, e.name) }, 'Play'));
        actionsTd.append(h('a', { class: 'btn small', href: url, download: e.name }, 'Download'));
      }
      return h('tr', {}, h('td', { 'data-label': '' }, thumb),
        td('Name', e.type === 'directory' ? h('button', { type: 'button', class: 'btn ghost small', onclick: () => openDir(`${p}${e.name}/`) }, e.name) : h('span', { class: 'mono' }, e.name)),
        h('td', { class: 'num size', 'data-label': 'Size' }, e.type === 'file' ? fmtBytes(e.size) : ''),
        td('Modified', fmtDate(e.mtime)), actionsTd);
    });
    filesEmpty.hidden = shown.length > 0;
    files.wrap.hidden = shown.length === 0;
  }
  function play(url, name) {
    // A plain <video src>: the browser fetches with Range requests, so seeking works without
    // downloading the whole file (the media route answers 206 Partial Content).
    const video = h('video', { controls: true, preload: 'metadata', src: url, 'aria-label': `Recording ${name}` });
    fill(player, h('div', { class: 'row' }, h('h3', {}, name), h('span', { class: 'spacer' }), h('button', { type: 'button', class: 'btn small', onclick: () => { video.pause(); player.hidden = true; fill(player); } }, 'Close player')), video);
    player.hidden = false;
    // <video> cannot refresh an expired access token itself: on a load error refresh once and retry
    // from the same position.
    let retried = false;
    video.addEventListener('error', async () => {
      if (retried) { toast.error(`Could not play ${name}.`, { title: 'Playback failed' }); return; }
      retried = true;
      const at = video.currentTime;
      if (await refreshSession()) { video.src = url; video.currentTime = at; video.play().catch(() => {}); }
    });
    video.play().catch(() => { /* autoplay refused: the controls are there */ });
    video.focus();
  }

  // ---------- subscribers (admin) ----------
  async function loadSubscribers() {
    const r = await api.get(`/api/admin/sources/${seg(driver)}/${seg(username)}/subscribers`);
    const list = r.subscribers || [];
    fill(subsCard, h('h2', { id: 'subs-h' }, 'Subscribers'), list.length
      ? h('ul', { class: 'events' }, list.map((s) => h('li', {}, h('a', { href: `#/admin/users/${s.user_id}/subscriptions` }, s.username), badge(s.posture, statusKind[s.posture]), h('span', { class: 'muted small' }, `sub #${s.sub_id}`))))
      : h('p', { class: 'muted small' }, 'Nobody follows this source.'));
  }

  poll(async () => { await loadStatus(); await Promise.all([loadLogs(), loadEvents()]); });
  openDir('');
  if (ctx.isAdmin) loadSubscribers().catch((e) => fill(subsCard, h('h2', { id: 'subs-h' }, 'Subscribers'), h('p', { class: 'form-error' }, `Could not load the subscribers: ${e.message}`)));
  // Live thumbnail re-requested every 30 s while a session is active.
  const t = setInterval(() => { if (sub?.session_active) box.refresh(sub, true); }, 30000);
  return () => clearInterval(t);
}
