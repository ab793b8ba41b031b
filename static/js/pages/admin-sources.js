// #/admin/sources — every subscription of every user: filters, sorting, multi-select bulk
// pause/resume/restart (by sub_id), and restart-all. Polls every 5 s; selection survives polls.
import { api } from '../api.js';
import { h, keyed, poll, pageHead, table, td, badge, statusKind, setText, segmented, act, confirmDialog, toast, fmtDate } from '../ui.js';
import { srcHref, statusBadge } from '../dvr.js';

export async function render(main) {
  let subs = [];
  let users = new Map();
  let filter = 'all';
  const selected = new Set();
  const seg = segmented('Filter by posture', [['all', 'All'], ['active', 'Active'], ['paused', 'Paused'], ['archived', 'Archived'], ['errored', 'Errored']], filter, (v) => { filter = v; paint(); });
  const search = h('input', { type: 'search', placeholder: 'Search source or user', 'aria-label': 'Search source or user' });
  search.addEventListener('input', () => paint());
  const sort = h('select', { 'aria-label': 'Sort by' }, [['created_at', 'Newest first'], ['driver', 'Driver'], ['username', 'Source'], ['posture', 'Posture'], ['worker_state', 'Worker state']].map(([v, t]) => h('option', { value: v }, t)));
  sort.addEventListener('change', () => paint());
  const all = h('input', { type: 'checkbox', 'aria-label': 'Select all shown' });
  const count = h('span', { class: 'muted small', 'aria-live': 'polite' });
  const bulk = (label, action, cls = '') => {
    const b = h('button', { type: 'button', class: `btn small ${cls}`, disabled: true, dataset: { bulk: action } }, label);
    b.addEventListener('click', () => act(b, async () => {
      const ids = [...selected];
      const results = await Promise.allSettled(ids.map((id) => api.post(`/api/admin/subscriptions/${id}/${action}`)));
      const failed = results.filter((r) => r.status === 'rejected');
      if (failed.length) toast.error(`${failed.length} of ${ids.length} failed: ${failed[0].reason.message}`, { title: `${label} (bulk)` });
      else toast.ok(`${label}: ${ids.length} subscription${ids.length === 1 ? '' : 's'}`);
      await load();
    }));
    return b;
  };
  const bulkBtns = [bulk('Pause', 'pause'), bulk('Resume', 'resume'), bulk('Restart', 'restart'), bulk('Reset error', 'reset-error', 'danger')];
  const incErr = h('input', { type: 'checkbox', id: 'inc-err' });
  const restartAll = h('button', { type: 'button', class: 'btn danger' }, 'Restart all');
  restartAll.addEventListener('click', async () => {
    if (!(await confirmDialog('Restart every recording source?', { ok: 'Restart all', danger: true, body: h('p', { class: 'muted' }, incErr.checked ? 'Errored sources are restarted too.' : 'Errored sources are skipped.') }))) return;
    await act(restartAll, async () => {
      const r = await api.post('/api/admin/sources/restart-all', { include_errored: incErr.checked });
      toast.ok(`Restarted ${r.restarted}, skipped ${r.skipped}`);
      await load();
    });
  });
  const { wrap, tbody } = table([h('th', { scope: 'col' }, all), 'Source', 'User', 'Status', 'Posture', 'Worker', 'Created'], { caption: 'All subscriptions' });
  const empty = h('p', { class: 'empty' }, 'No subscriptions match.');
  main.append(pageHead('All sources', 'Every user’s subscriptions. Select rows for bulk actions.', h('label', { class: 'check', for: 'inc-err' }, incErr, 'Include errored'), restartAll),
    h('div', { class: 'toolbar' }, seg, h('div', { class: 'grow' }, search), sort),
    h('div', { class: 'toolbar' }, count, ...bulkBtns), wrap, empty);

  all.addEventListener('change', () => {
    for (const tr of tbody.children) { const id = Number(tr.dataset.key); if (all.checked) selected.add(id); else selected.delete(id); }
    paint();
  });
  function shown() {
    const q = search.value.trim().toLowerCase();
    const k = sort.value;
    return subs.filter((s) => (filter === 'all' || (filter === 'errored' ? s.worker_state === 'errored' : s.posture === filter))
      && (!q || `${s.driver}/${s.username} ${users.get(s.user_id) || ''}`.toLowerCase().includes(q)))
      .sort((a, b) => (k === 'created_at' ? String(b.created_at).localeCompare(String(a.created_at)) : String(a[k]).localeCompare(String(b[k]))) || a.sub_id - b.sub_id);
  }
  function paint() {
    const list = shown();
    const ids = new Set(subs.map((s) => s.sub_id));
    for (const id of [...selected]) if (!ids.has(id)) selected.delete(id);
    keyed(tbody, list, (s) => s.sub_id, (s) => {
      const cb = h('input', { type: 'checkbox', 'aria-label': `Select ${s.driver}/${s.username} of user ${s.user_id}` });
      cb.addEventListener('change', () => { if (cb.checked) selected.add(s.sub_id); else selected.delete(s.sub_id); paintSel(); });
      const tr = h('tr', {}, h('td', { 'data-label': 'Select' }, cb),
        td('Source', h('a', { href: srcHref(s) }, s.username), ' ', h('span', { class: 'muted small' }, s.driver)),
        td('User', h('a', { class: 'us', href: `#/admin/users/${s.user_id}/subscriptions` })), td('Status', h('span', { class: 'st' })),
        td('Posture', h('span', { class: 'po' })), td('Worker', h('span', { class: 'wk' })), td('Created', fmtDate(s.created_at)));
      tr.cb = cb;
      return tr;
    }, (tr, s) => {
      tr.cb.checked = selected.has(s.sub_id);
      setText(tr.querySelector('.us'), users.get(s.user_id) || `#${s.user_id}`);
      const st = tr.querySelector('.st'); const b = statusBadge(s);
      if (st.textContent !== b.textContent) st.replaceChildren(b);
      const po = tr.querySelector('.po');
      if (po.textContent !== s.posture) po.replaceChildren(badge(s.posture, statusKind[s.posture]));
      const wk = tr.querySelector('.wk');
      if (wk.textContent !== s.worker_state) wk.replaceChildren(badge(s.worker_state, statusKind[s.worker_state]));
    });
    empty.hidden = list.length > 0;
    paintSel();
  }
  function paintSel() {
    setText(count, selected.size ? `${selected.size} selected` : 'None selected');
    for (const b of bulkBtns) b.disabled = selected.size === 0;
    all.checked = tbody.children.length > 0 && [...tbody.children].every((tr) => selected.has(Number(tr.dataset.key)));
  }
  async function load() {
    const [s, u] = await Promise.all([api.get('/api/subscriptions'), users.size ? null : api.get('/api/users').catch(() => [])]);
    subs = s;
    if (u) users = new Map(u.map((x) => [x.id, x.username]));
    paint();
  }
  poll(load);
}
