// #/ — what is happening now: sources recording (live duration ticking), counts by state, sources
// in error with a one-click reset, and recent worker events. Polls every 5 s; rows update in place.
import { api, seg } from '../api.js';
import { h, keyed, poll, setText, fmtDuration, fmtAgo, pageHead, badge, act, toast } from '../ui.js';
import { srcKey, srcHref, statusBadge, thumbBox, subAction } from '../dvr.js';

export async function render(main, _p, ctx) {
  const stats = h('div', { class: 'stats' });
  const statEls = {};
  for (const [k, label] of [['recording', 'Recording'], ['waiting', 'Waiting'], ['starting', 'Starting'], ['error', 'In error'], ['inactive', 'Paused / archived']]) {
    const b = h('b', {}, '–');
    statEls[k] = b;
    stats.append(h('div', { class: 'stat' }, b, h('span', {}, label)));
  }
  const live = h('div', { class: 'grid', 'aria-live': 'off' });
  const liveEmpty = h('p', { class: 'empty' }, 'Nothing is recording right now. Sources appear here as soon as a session starts.');
  const errList = h('ul', { class: 'events' });
  const errEmpty = h('p', { class: 'muted small' }, 'No source is in error.');
  const events = h('ul', { class: 'events' });
  const evEmpty = h('p', { class: 'muted small' }, 'No worker events yet.');
  main.append(
    pageHead('Dashboard', ctx.isAdmin ? 'All users’ sources' : 'Your sources', h('a', { class: 'btn primary', href: '#/subscriptions' }, 'Add a source')),
    stats,
    h('section', { class: 'card', 'aria-labelledby': 'live-h' }, h('h2', { id: 'live-h' }, 'Recording now'), live, liveEmpty),
    h('div', { class: 'cols' },
      h('section', { class: 'card', 'aria-labelledby': 'err-h' }, h('h2', { id: 'err-h' }, 'Sources in error'), errList, errEmpty),
      h('section', { class: 'card', 'aria-labelledby': 'ev-h' }, h('h2', { id: 'ev-h' }, 'Recent events'), events, evEmpty)));
  live.parentElement.classList.add('stack');

  let current = [];
  const loadSubs = async () => {
    const subs = await api.get('/api/subscriptions');
    // Admins get one row per subscription; the dashboard is about sources.
    const bySource = new Map();
    for (const s of subs) {
      const prev = bySource.get(srcKey(s));
      if (!prev || (s.posture === 'active' && prev.posture !== 'active') || s.user_id === ctx.user.id) bySource.set(srcKey(s), s);
    }
    current = [...bySource.values()];
    const counts = { recording: 0, waiting: 0, starting: 0, error: 0, inactive: 0 };
    for (const s of current) counts[s.status] = (counts[s.status] || 0) + 1;
    for (const [k, el] of Object.entries(statEls)) setText(el, counts[k] || 0);

    const sessions = current.filter((s) => s.session_active)
      .sort((a, b) => String(b.last_recording_at || '').localeCompare(String(a.last_recording_at || '')));
    keyed(live, sessions, srcKey, (s) => {
      const timer = h('span', { class: 'timer' });
      const box = thumbBox(s, true);
      const el = h('article', { class: 'card src-card' }, box,
        h('div', { class: 'row' }, h('a', { class: 'name', href: srcHref(s) }, `${s.username}`), h('span', { class: 'muted small' }, s.driver)),
        h('div', { class: 'row' }, h('span', { class: 'st' }), timer));
      el.timer = timer; el.box = box;
      return el;
    }, (el, s) => {
      el.sub = s;
      el.box.refresh(s, true);
      const st = el.querySelector('.st');
      const b = statusBadge(s, { duration: false }); // the ticking timer beside it shows the duration
      if (st.textContent !== b.textContent) st.replaceChildren(b);
    });
    liveEmpty.hidden = sessions.length > 0;
    tick();

    const errored = current.filter((s) => s.worker_state === 'errored');
    keyed(errList, errored, srcKey, (s) => {
      const btn = h('button', { type: 'button', class: 'btn small danger' }, 'Reset');
      btn.addEventListener('click', () => act(btn, async () => { await subAction(btn.closest('li').sub, 'reset-error', ctx); await loadSubs(); }, { ok: `Reset ${s.username}: restarting` }));
      return h('li', {}, h('a', { href: srcHref(s) }, s.username), h('span', { class: 'muted small' }, s.driver), h('span', { class: 'msg muted small' }), h('span', { class: 'spacer' }), btn);
    }, (el, s) => { el.sub = s; setText(el.querySelector('.msg'), s.error_message || ''); });
    errEmpty.hidden = errored.length > 0;
  };

  // Recent events: the newest worker events of the most interesting sources (no global route).
  const loadEvents = async () => {
    const pick = [...current].sort((a, b) => Number(b.session_active) - Number(a.session_active) || String(b.updated_at).localeCompare(String(a.updated_at))).slice(0, 6);
    const all = [];
    await Promise.all(pick.map(async (s) => {
      try {
        const r = await api.get(`/api/sources/${seg(s.driver)}/${seg(s.username)}/events`);
        for (const e of r.events || []) all.push({ ...e, s });
      } catch { /* a source we cannot see: skip */ }
    }));
    all.sort((a, b) => String(b.ts).localeCompare(String(a.ts)));
    keyed(events, all.slice(0, 10), (e) => `${e.source_id}:${e.id}`, (e) => h('li', {},
      badge(e.event_type, e.event_type === 'exited' ? (e.exit_code ? 'bad' : '') : 'ok'),
      h('a', { href: srcHref(e.s) }, e.s.username),
      h('span', { class: 'muted small' }, e.event_type === 'exited' ? `exit ${e.exit_code ?? 0} · pid ${e.pid}` : `pid ${e.pid}`),
      h('time', { datetime: e.ts })), (el, e) => setText(el.querySelector('time'), fmtAgo(e.ts)));
    evEmpty.hidden = all.length > 0;
  };

  function tick() {
    for (const el of live.children) {
      const s = el.sub;
      if (!s) continue;
      const start = s.session_started_at ? new Date(s.session_started_at).getTime() : null;
      setText(el.timer, start ? fmtDuration(Date.now() - start) : s.session_duration || '');
    }
  }
  const clock = setInterval(tick, 1000);
  let n = 0;
  poll(async () => {
    await loadSubs();
    if (n++ % 3 === 0) await loadEvents().catch((e) => toast.error(e));
  });
  return () => clearInterval(clock);
}
