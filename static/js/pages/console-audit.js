// #/console/audit — the audit log (GET /audit): platform admins see everything, org admins their
// org's entries. Filter by actor (id or username) and action (exact or prefix*); "Load more" pages.
import { api } from '../api.js';
import { h, field, pageHead, table, td, setText, fill, fmtDate, act } from '../ui.js';

export async function render(main, _p, ctx) {
  const orgSel = h('select', { name: 'org' },
    ctx.isAdmin ? h('option', { value: '' }, 'All organizations') : null,
    ctx.adminOrgs.map((o) => h('option', { value: String(o.id) }, o.name)));
  const actor = h('input', { name: 'actor', placeholder: 'username or id', autocapitalize: 'none', spellcheck: 'false' });
  const action = h('input', { name: 'action', placeholder: 'e.g. org.member.* or auth.login', autocapitalize: 'none', spellcheck: 'false', list: 'audit-actions' });
  const actions = h('datalist', { id: 'audit-actions' });
  const fAction = field('Action', action, 'End with * to match a prefix.');
  const apply = h('button', { type: 'submit', class: 'btn primary' }, 'Filter');
  const form = h('form', { class: 'toolbar', novalidate: true, role: 'search', 'aria-label': 'Filter the audit log' },
    h('div', { class: 'form-row grow' }, field('Organization', orgSel), field('Actor', actor), fAction, apply), actions);
  const { wrap, tbody } = table(['When', 'Actor', 'Action', 'Target', 'Org', 'Details', ...(ctx.isAdmin ? ['IP'] : [])], { caption: 'Audit log' });
  const more = h('button', { type: 'button', class: 'btn', hidden: true }, 'Load more');
  const empty = h('p', { class: 'empty', hidden: true }, 'No entries match.');
  const err = h('p', { class: 'form-error', role: 'alert' });
  main.append(pageHead('Audit log', 'Who changed what, when — newest first.'), form, err, wrap, empty, h('div', { class: 'row mt' }, more));
  const orgName = new Map(ctx.orgs.map((o) => [o.id, o.name]));
  const seen = new Set();
  let before = null;

  let gen = 0;
  async function load(reset) {
    // A newer filter wins: answers of older requests are dropped, never appended.
    const my = reset ? ++gen : gen;
    setText(err, '');
    fAction.setError('');
    const p = new URLSearchParams({ limit: '50' });
    if (orgSel.value) p.set('org_id', orgSel.value);
    if (actor.value.trim()) p.set('actor', actor.value.trim());
    if (action.value.trim()) p.set('action', action.value.trim());
    if (!reset && before) p.set('before', String(before));
    let page;
    try { page = await api.get(`/audit?${p}`); } catch (e) {
      if (e.status === 400 && /action/i.test(e.message)) { fAction.setError(e.message); action.focus(); return; }
      if (e.status === 404) { setText(err, 'The server has no audit log route.'); return; }
      throw e;
    }
    if (my !== gen) return;
    if (reset) { fill(tbody); seen.clear(); }
    for (const it of page.items) {
      if (seen.has(it.id)) continue;
      seen.add(it.id);
      const details = it.details === null ? '' : typeof it.details === 'string' ? it.details : JSON.stringify(it.details);
      tbody.append(h('tr', {}, td('When', h('time', { datetime: it.ts, class: 'nowrap' }, fmtDate(it.ts))),
        td('Actor', it.actor_username || (it.actor_user_id ? `#${it.actor_user_id}` : 'system')),
        td('Action', h('code', {}, it.action)), td('Target', it.target_type ? `${it.target_type} ${it.target_id ?? ''}` : '—'),
        td('Org', it.org_id ? orgName.get(it.org_id) || `#${it.org_id}` : '—'), td('Details', h('span', { class: 'small mono wrap-any' }, details.length > 120 ? `${details.slice(0, 120)}…` : details)),
        ...(ctx.isAdmin ? [td('IP', it.ip || '—')] : [])));
      if (![...actions.children].some((o) => o.value === it.action)) actions.append(h('option', { value: it.action }));
    }
    before = page.next_before;
    more.hidden = !before;
    empty.hidden = tbody.children.length > 0;
    wrap.hidden = tbody.children.length === 0;
  }
  form.addEventListener('submit', (e) => { e.preventDefault(); act(apply, () => load(true)); });
  orgSel.addEventListener('change', () => act(null, () => load(true)));
  more.addEventListener('click', () => act(more, () => load(false)));
  await load(true);
}
