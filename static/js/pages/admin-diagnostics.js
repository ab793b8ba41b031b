// #/admin/diagnostics — overseer connection, pools and counters of the recorder, converter and
// thumbnailer (GET /api/admin/diagnostics), plus the overseer's task list (GET /api/workers).
import { api } from '../api.js';
import { h, keyed, poll, pageHead, table, td, badge, setText, fmtAgo, fill } from '../ui.js';
import { recorderHostsCard } from './recorder-hosts.js';

// What each optional service would add if configured; here the media agent on the recorder host does both.
const OPTIONAL = {
  Converter: 'Optional: a converter would remux recordings to MP4 so browsers seek at once. Here the media agent does it with --remux.',
  Thumbnailer: 'Optional: a thumbnailer would make preview images of recordings. Here the media agent makes them (on by default).',
};

export async function render(main) {
  const cards = h('div', { class: 'grid' });
  const { wrap, tbody } = table(['Task', 'Action', 'Source', 'State', 'PID', h('th', { scope: 'col', class: 'num' }, 'Restarts'), 'Started'], { caption: 'Overseer tasks' });
  const wErr = h('p', { class: 'muted' });
  main.append(pageHead('Diagnostics', 'Live view of the recorder fleet; refreshes every 5 seconds.'), cards,
    h('section', { class: 'card', 'aria-labelledby': 'w-h' }, h('h2', { id: 'w-h' }, 'Workers'), wErr, wrap), recorderHostsCard());

  function service(name, s) {
    const el = h('section', { class: 'card', 'aria-label': name });
    const pool = s.pool;
    const m = s.metrics;
    const meter = h('div', { class: 'meter', role: 'img', 'aria-label': pool ? `${pool.running} of ${pool.limit} slots busy` : 'pool unknown' }, h('i'));
    if (pool && pool.limit) meter.firstChild.style.width = `${Math.min(100, (100 * pool.running) / pool.limit)}%`;
    // An optional service nobody configured is no fault: a neutral badge and what configuring it would add,
    // never the red "disconnected"; a configured one that is down stays red with its error.
    if (s.configured === false) {
      fill(el, h('div', { class: 'row' }, h('h2', {}, name), h('span', { class: 'spacer' }), badge('not configured')),
        h('p', { class: 'muted small' }, OPTIONAL[name] || 'Optional service.'));
      el.dataset.state = 'not-configured';
      return el;
    }
    el.dataset.state = s.connected ? 'connected' : 'disconnected';
    fill(el, h('div', { class: 'row' }, h('h2', {}, name), h('span', { class: 'spacer' }), badge(s.connected ? 'connected' : 'disconnected', s.connected ? 'ok' : 'bad')),
      s.error ? h('p', { class: 'form-error' }, s.error) : null,
      pool ? h('dl', { class: 'kv' }, h('dt', {}, 'Running'), h('dd', {}, `${pool.running} / ${pool.limit}`), h('dt', {}, 'Idle'), h('dd', {}, String(Math.max(0, pool.limit - pool.running))), h('dt', {}, 'Queued'), h('dd', {}, String(pool.queue_depth))) : h('p', { class: 'muted small' }, 'Pool unknown'),
      pool ? meter : null,
      m ? h('dl', { class: 'kv mt' }, ['tasks_started', 'tasks_completed', 'tasks_errored', 'tasks_restarted'].map((k) => [h('dt', {}, k.replace('tasks_', 'Tasks ')), h('dd', {}, String(m[k] ?? 0))])) : null);
    return el;
  }
  async function load() {
    const d = await api.get('/api/admin/diagnostics');
    const sig = JSON.stringify(d);
    if (cards.dataset.sig !== sig) {
      cards.dataset.sig = sig;
      fill(cards, service('Recorder (overseer)', d.recorder || {}), service('Converter', d.converter || {}), service('Thumbnailer', d.thumbnailer || {}));
    }
    try {
      const tasks = await api.get('/api/workers');
      setText(wErr, tasks.length ? '' : 'No tasks.');
      wrap.hidden = tasks.length === 0;
      keyed(tbody, tasks, (t) => t.task_id, (t) => h('tr', {}, td('Task', h('code', {}, String(t.task_id).slice(0, 8))), td('Action', t.action),
        td('Source', t.params?.source || '—'), td('State', h('span', { class: 'st' })), td('PID', h('span', { class: 'pid' })),
        h('td', { class: 'num rc', 'data-label': 'Restarts' }), td('Started', h('span', { class: 'ls' }))), (tr, t) => {
        setText(tr.querySelector('.st'), `${t.state}${t.worker_state ? ` · ${t.worker_state}` : ''}`);
        setText(tr.querySelector('.pid'), t.current_pid || '—');
        setText(tr.querySelector('.rc'), t.restart_count ?? 0);
        setText(tr.querySelector('.ls'), fmtAgo(t.last_started_at || t.created_at));
      });
    } catch (e) {
      setText(wErr, e.message);
      wrap.hidden = true;
    }
  }
  poll(load);
}
