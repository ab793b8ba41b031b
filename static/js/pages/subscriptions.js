// #/subscriptions — the caller's subscriptions: add form (driver + username), status filters with
// counts, posture controls (pause/resume/archive/delete, reset-error), canonical links. Polls 5 s.
import { api } from '../api.js';
import { h, keyed, poll, setText, pageHead, field, segmented, table, td, act, confirmDialog, badge, statusKind, fmtAgo, replaceActions } from '../ui.js';
import { DRIVERS, srcKey, srcHref, statusBadge, subAction } from '../dvr.js';

const FILTERS = [['all', 'All'], ['recording', 'Recording'], ['waiting', 'Waiting'], ['starting', 'Starting'], ['error', 'Error'], ['inactive', 'Inactive']];

export async function render(main, _p, ctx) {
  let filter = 'all';
  let subs = [];
  const driver = h('select', { name: 'driver' }, DRIVERS.map((d) => h('option', { value: d }, d)));
  const username = h('input', { name: 'username', placeholder: 'e.g. alice', autocomplete: 'off', autocapitalize: 'none', spellcheck: 'false', required: true });
  const userField = field('Username', username);
  const addBtn = h('button', { type: 'submit', class: 'btn primary' }, 'Subscribe');
  const form = h('form', { class: 'card', 'aria-labelledby': 'add-h', novalidate: true }, h('h2', { id: 'add-h' }, 'Add a subscription'),
    h('div', { class: 'form-row' }, field('Driver', driver), userField, addBtn));
  form.addEventListener('submit', async (e) => {
    e.preventDefault();
    const name = username.value.trim();
    if (!name) { userField.setError('Enter the source’s username.'); username.focus(); return; }
    if (/[\s/]/.test(name)) { userField.setError('A username has no spaces or slashes.'); username.focus(); return; }
    userField.setError('');
    await act(addBtn, async () => {
      try {
        await api.post('/api/subscriptions', { driver: driver.value, username: name });
      } catch (err) {
        if (err.status === 400) { userField.setError(err.message); return; }
        throw err;
      }
      username.value = '';
      await load();
    }, { ok: `Subscribed to ${driver.value}/${name}` });
  });

  const seg = segmented('Filter by status', FILTERS, filter, (v) => { filter = v; paint(); });
  const search = h('input', { type: 'search', placeholder: 'Search sources', 'aria-label': 'Search sources' });
  search.addEventListener('input', () => paint());
  const { wrap, tbody } = table(['Source', 'Status', 'Posture', 'Last recorded', 'Link', h('th', { scope: 'col', class: 'num' }, 'Actions')], { caption: 'Your subscriptions' });
  const empty = h('p', { class: 'empty' }, 'No subscriptions yet — add one above.');

  main.append(pageHead('Subscriptions', 'Sources you follow. A source records while at least one subscription to it is active.'),
    form, h('div', { class: 'toolbar' }, seg, h('div', { class: 'grow' }, search)), wrap, empty);

  function row(s) {
    const acts = h('td', { class: 'actions' });
    const tr = h('tr', {},
      td('Source', h('a', { href: srcHref(s), class: 'name' }, s.username), ' ', h('span', { class: 'muted small' }, s.driver)),
      td('Status', h('span', { class: 'st' })), td('Posture', h('span', { class: 'po' })), td('Last recorded', h('span', { class: 'lr' })),
      td('Link', h('span', { class: 'ln' })), acts);
    tr.acts = acts;
    return tr;
  }
  function button(label, action, cls = '') {
    const b = h('button', { type: 'button', class: `btn small ${cls}`, dataset: { action } }, label);
    b.addEventListener('click', async () => {
      const s = b.closest('tr').sub;
      if (action === 'delete' && !(await confirmDialog(`Delete ${s.driver}/${s.username}?`, { ok: 'Delete', danger: true, body: h('p', { class: 'muted' }, 'The subscription is archived and hidden from active lists; recordings are kept. You can reactivate it later.') }))) return;
      await act(b, async () => { await subAction(s, action, ctx); await load(); }, { ok: `${b.textContent}: ${s.username}` });
    });
    return b;
  }
  function update(tr, s) {
    tr.sub = s;
    const st = tr.querySelector('.st');
    const b = statusBadge(s);
    if (st.textContent !== b.textContent) st.replaceChildren(b);
    const po = tr.querySelector('.po');
    if (po.textContent !== s.posture) po.replaceChildren(badge(s.posture, statusKind[s.posture]));
    setText(tr.querySelector('.lr'), fmtAgo(s.last_recording_at));
    const ln = tr.querySelector('.ln');
    const href = s.canonical_url || '';
    if ((ln.firstChild?.href || '') !== href) ln.replaceChildren(href ? h('a', { href, target: '_blank', rel: 'noopener noreferrer' }, 'Open ↗') : h('span', { class: 'muted' }, '—'));
    // Action set depends on posture and worker state; rebuild only when that signature changes.
    const sig = `${s.posture}|${s.worker_state === 'errored'}`;
    if (tr.acts.dataset.sig !== sig) {
      tr.acts.dataset.sig = sig;
      const list = [];
      if (s.worker_state === 'errored') list.push(button('Reset error', 'reset-error', 'danger'));
      if (s.posture === 'active') list.push(button('Pause', 'pause'));
      else list.push(button(s.posture === 'archived' ? 'Reactivate' : 'Resume', 'resume'));
      if (s.posture !== 'archived') list.push(button('Archive', 'archive'), button('Delete', 'delete', 'danger'));
      replaceActions(tr.acts, list);
    }
  }
  function paint() {
    const q = search.value.trim().toLowerCase();
    const counts = {};
    for (const s of subs) counts[s.status] = (counts[s.status] || 0) + 1;
    for (const [v, label] of FILTERS) seg.setCount(v, v === 'all' ? `${label} ${subs.length}` : `${label} ${counts[v] || 0}`);
    const shown = subs.filter((s) => (filter === 'all' || s.status === filter) && (!q || srcKey(s).toLowerCase().includes(q)));
    keyed(tbody, shown, (s) => s.sub_id, row, update);
    empty.hidden = shown.length > 0;
    wrap.hidden = shown.length === 0;
    setText(empty, subs.length ? 'No subscription matches this filter.' : 'No subscriptions yet — add one above.');
  }
  async function load() {
    const all = await api.get('/api/subscriptions');
    // Admins receive everyone's subscriptions; this page is about the caller's own.
    subs = all.filter((s) => s.user_id === ctx.user.id);
    paint();
  }
  poll(load);
}
