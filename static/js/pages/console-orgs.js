// #/console/orgs — organizations (platform admins create them) and their members: change role,
// remove (the API protects the last owner). People join by consent: an invite code, or a request
// by username that they accept; only platform admins add a user directly. Requests addressed to
// the signed-in user are listed here too.
import { api } from '../api.js';
import { h, keyed, field, pageHead, table, td, act, confirmDialog, setText, fill, badge, toast, openDialog, fmtDate } from '../ui.js';
import { resolveUserId, ORG_ROLES } from '../console.js';

export async function render(main, _p, ctx) {
  const orgList = h('ul', { class: 'events', 'aria-label': 'Organizations' });
  const membersCard = h('section', { class: 'card', 'aria-labelledby': 'mem-h' });
  let current = null;

  const createCard = h('form', { class: 'card', novalidate: true, 'aria-labelledby': 'new-org-h', hidden: !ctx.isAdmin });
  const slug = h('input', { name: 'slug', placeholder: 'acme', autocapitalize: 'none', spellcheck: 'false' });
  const name = h('input', { name: 'name', placeholder: 'Acme Arcade' });
  const fSlug = field('Slug', slug, 'Lowercase letters, digits and inner hyphens.');
  const fName = field('Name', name);
  const owner = h('input', { type: 'checkbox', checked: true, id: 'own-it' });
  const createBtn = h('button', { type: 'submit', class: 'btn primary' }, 'Create organization');
  fill(createCard, h('h2', { id: 'new-org-h' }, 'New organization'), h('div', { class: 'form-row' }, fName, fSlug),
    h('p', {}, h('label', { class: 'check', for: 'own-it' }, owner, 'Make me the owner')), createBtn);
  name.addEventListener('input', () => { if (!slug.dataset.touched) slug.value = name.value.toLowerCase().normalize('NFKD').replace(/[^a-z0-9]+/g, '-').replace(/^-+|-+$/g, '').slice(0, 64); });
  slug.addEventListener('input', () => { slug.dataset.touched = '1'; });
  createCard.addEventListener('submit', async (e) => {
    e.preventDefault();
    fSlug.setError(''); fName.setError('');
    if (!name.value.trim()) { fName.setError('Enter a name.'); name.focus(); return; }
    if (!/^[a-z0-9](?:[a-z0-9-]*[a-z0-9])?$/.test(slug.value.trim())) { fSlug.setError('Lowercase letters, digits and inner hyphens only.'); slug.focus(); return; }
    await act(createBtn, async () => {
      let org;
      try {
        org = await api.post('/orgs', { slug: slug.value.trim(), name: name.value.trim(), ...(owner.checked ? { owner_user_id: ctx.user.id } : {}) });
      } catch (err) {
        if (err.status === 400 || err.status === 409) { (/slug/i.test(err.message) ? fSlug : fName).setError(err.message); return; }
        throw err;
      }
      toast.ok(`Created ${org.name}`);
      createCard.reset(); delete slug.dataset.touched; owner.checked = true;
      await loadOrgs();
      select(org.id);
    });
  });

  main.append(pageHead('Organizations', ctx.isAdmin ? 'Every tenant of the console.' : 'Organizations you administer.'),
    h('div', { class: 'cols' }, h('div', { class: 'stack' }, h('section', { class: 'card', 'aria-labelledby': 'orgs-h' }, h('h2', { id: 'orgs-h' }, 'Organizations'), orgList), createCard), membersCard));

  async function loadOrgs() {
    ctx.orgs = await api.get('/orgs');
    const list = ctx.adminOrgs;
    keyed(orgList, list, (o) => o.id, (o) => {
      const b = h('button', { type: 'button', class: 'btn ghost small nm', onclick: () => select(o.id) });
      return h('li', {}, b, h('span', { class: 'muted small' }, o.slug), h('span', { class: 'spacer' }), h('span', { class: 'rl' }));
    }, (li, o) => {
      setText(li.querySelector('.nm'), o.name);
      li.querySelector('.nm').setAttribute('aria-pressed', String(current?.id === o.id));
      const rl = li.querySelector('.rl');
      if (rl.textContent !== o.role) rl.replaceChildren(badge(o.role.replace('_', ' '), o.role === 'owner' ? 'ok' : 'info'));
    });
    if (!list.length) fill(orgList, h('li', { class: 'muted' }, 'No organizations yet.'));
  }
  async function select(id) {
    current = ctx.adminOrgs.find((o) => o.id === id) || null;
    for (const b of orgList.querySelectorAll('.nm')) b.setAttribute('aria-pressed', String(b.closest('li').dataset.key === String(id)));
    if (!current) { fill(membersCard, h('h2', { id: 'mem-h' }, 'Members'), h('p', { class: 'muted' }, 'Pick an organization.')); return; }
    await loadMembers();
  }
  async function loadMembers() {
    const org = current;
    const who = h('input', { name: 'user', placeholder: ctx.isAdmin ? 'username or id' : 'username', autocapitalize: 'none', spellcheck: 'false' });
    // A platform admin adds directly (any role); an org admin asks, and only for admin or member.
    const roles = ctx.isAdmin ? ORG_ROLES : ORG_ROLES.filter((r) => r !== 'owner');
    const role = h('select', { name: 'role' }, roles.map((r) => h('option', { value: r }, r)));
    const fWho = field('User', who, ctx.isAdmin ? null : 'They join once they accept. You will not be told whether the name exists.');
    const add = h('button', { type: 'submit', class: 'btn primary' }, ctx.isAdmin ? 'Add member' : 'Ask to join');
    const form = h('form', { novalidate: true }, h('div', { class: 'form-row' }, fWho, field('Role', role), add));
    const { wrap, tbody } = table(['Member', 'Role', h('th', { scope: 'col', class: 'num' }, 'Actions')], { caption: `Members of ${org.name}` });
    const invitesCard = h('div', { class: 'mt' });
    const requestsCard = h('div', { class: 'mt' });
    fill(membersCard, h('h2', { id: 'mem-h' }, `Members of ${org.name}`), form, h('div', { class: 'mt' }, wrap), requestsCard, invitesCard);
    form.addEventListener('submit', async (e) => {
      e.preventDefault();
      fWho.setError('');
      if (!who.value.trim()) { fWho.setError(ctx.isAdmin ? 'Enter a username or user id.' : 'Enter a username.'); who.focus(); return; }
      await act(add, async () => {
        try {
          if (ctx.isAdmin) {
            const id = await resolveUserId(who.value, ctx);
            await api.post(`/orgs/${org.id}/members`, { user_id: id, role: role.value });
            toast.ok(`Added ${who.value.trim()} to ${org.name}`);
          } else {
            await api.post(`/orgs/${org.id}/member-requests`, { username: who.value.trim(), role: role.value });
            toast.ok(`Asked ${who.value.trim()} to join ${org.name}`);
          }
        } catch (err) {
          if (!err.status || err.status === 400 || err.status === 404 || err.status === 409) { fWho.setError(err.message); who.focus(); return; }
          throw err;
        }
        who.value = '';
        await Promise.all([paintMembers(), paintRequests()]);
      });
    });

    async function paintRequests() {
      const list = (await api.get(`/orgs/${org.id}/member-requests`)).filter((r) => r.status === 'pending');
      if (!list.length) { fill(requestsCard); return; }
      const { wrap: w, tbody: tb } = table(['Asked', 'Role', 'Expires', h('th', { scope: 'col', class: 'num' }, 'Actions')], { caption: 'Pending requests' });
      for (const r of list) {
        const cancel = h('button', { type: 'button', class: 'btn small' }, 'Cancel');
        cancel.addEventListener('click', () => act(cancel, async () => { await api.del(`/orgs/${org.id}/member-requests/${r.id}`); await paintRequests(); }, { ok: `Cancelled the request to ${r.username}` }));
        tb.append(h('tr', {}, td('Asked', r.username), td('Role', r.role), td('Expires', fmtDate(r.expires_at)), h('td', { class: 'actions' }, cancel)));
      }
      fill(requestsCard, h('h3', {}, 'Pending requests'), w);
    }

    async function paintInvites() {
      const ttl = h('select', { name: 'ttl', 'aria-label': 'Valid for' }, [[1, '1 day'], [7, '7 days'], [30, '30 days']].map(([d, l]) => h('option', { value: String(d), selected: d === 7 }, l)));
      const irole = h('select', { name: 'invite-role', 'aria-label': 'Invite role' }, ['member', 'admin'].map((r) => h('option', { value: r }, r)));
      const create = h('button', { type: 'button', class: 'btn' }, 'Create invite code');
      create.addEventListener('click', () => act(create, async () => {
        const inv = await api.post(`/orgs/${org.id}/invites`, { role: irole.value, ttl_seconds: Number(ttl.value) * 24 * 3600 });
        const copy = h('button', { type: 'button', class: 'btn small' }, 'Copy');
        copy.addEventListener('click', async () => { try { await navigator.clipboard.writeText(inv.code); toast.ok('Code copied'); } catch { toast.error('Copy failed: select the text instead.'); } });
        openDialog('Invite code', h('div', {}, h('p', {}, `Single use, joins ${org.name} as ${inv.role}, valid until ${fmtDate(inv.expires_at)}. It is stored hashed and will not be shown again.`),
          h('p', { class: 'secret mono', tabindex: '0' }, inv.code), h('div', { class: 'row' }, copy)));
        await paintInvites();
      }));
      const list = await api.get(`/orgs/${org.id}/invites`);
      const { wrap: w, tbody: tb } = table(['Invite', 'State', 'Created by', 'Expires', h('th', { scope: 'col', class: 'num' }, 'Actions')], { caption: `Invites of ${org.name}` });
      const kind = { open: 'ok', used: 'info', expired: '', revoked: 'bad' };
      for (const i of list.slice(0, 50)) {
        const actions = h('td', { class: 'actions' });
        if (i.status === 'open') {
          const revoke = h('button', { type: 'button', class: 'btn small danger' }, 'Revoke');
          revoke.addEventListener('click', async () => {
            if (!(await confirmDialog(`Revoke invite #${i.id}?`, { ok: 'Revoke', danger: true }))) return;
            await act(revoke, async () => { await api.del(`/orgs/${org.id}/invites/${i.id}`); await paintInvites(); }, { ok: `Revoked invite #${i.id}` });
          });
          actions.append(revoke);
        }
        const state = [badge(i.status, kind[i.status] ?? ''), i.used_by ? ` by ${i.used_by.username}` : ''];
        tb.append(h('tr', {}, td('Invite', `#${i.id} · ${i.role}`), td('State', ...state), td('Created by', i.created_by?.username ?? '—'), td('Expires', fmtDate(i.expires_at)), actions));
      }
      fill(invitesCard, h('h3', {}, 'Invites'), h('div', { class: 'form-row' }, field('Role', irole), field('Valid for', ttl), create),
        list.length ? h('div', { class: 'mt' }, w) : h('p', { class: 'muted' }, 'No invites yet.'));
    }
    async function paintMembers() {
      const members = await api.get(`/orgs/${org.id}/members`);
      keyed(tbody, members, (m) => m.user_id, (m) => {
        const sel = h('select', { 'aria-label': `Role of ${m.username}` }, ORG_ROLES.map((r) => h('option', { value: r }, r)));
        // Reload either way: on failure the select goes back to the stored role.
        sel.addEventListener('change', () => act(sel, () => api.put(`/orgs/${org.id}/members/${m.user_id}`, { role: sel.value }), { ok: `${m.username} is now ${sel.value}` }).then(() => paintMembers().catch(() => {})));
        const rm = h('button', { type: 'button', class: 'btn small danger' }, 'Remove');
        rm.addEventListener('click', async () => {
          if (!(await confirmDialog(`Remove ${m.username} from ${org.name}?`, { ok: 'Remove', danger: true }))) return;
          await act(rm, async () => { await api.del(`/orgs/${org.id}/members/${m.user_id}`); await paintMembers(); }, { ok: `Removed ${m.username}` });
        });
        const tr = h('tr', {}, td('Member', m.username, m.user_id === ctx.user.id ? [' ', badge('you', 'info')] : null), td('Role', sel), h('td', { class: 'actions' }, rm));
        tr.sel = sel;
        return tr;
      }, (tr, m) => { if (document.activeElement !== tr.sel) tr.sel.value = m.role; });
    }
    await Promise.all([paintMembers(), paintRequests(), paintInvites()]);
  }

  // Requests addressed to the signed-in user (from any org).
  const incoming = h('section', { class: 'card', 'aria-labelledby': 'in-h', hidden: true });
  main.append(incoming);
  async function paintIncoming() {
    const list = await api.get('/orgs/requests');
    incoming.hidden = list.length === 0;
    const { wrap, tbody } = table(['Organization', 'Role', 'Asked by', h('th', { scope: 'col', class: 'num' }, 'Actions')], { caption: 'Requests to join' });
    for (const r of list) {
      const yes = h('button', { type: 'button', class: 'btn small primary' }, 'Accept');
      const no = h('button', { type: 'button', class: 'btn small' }, 'Decline');
      yes.addEventListener('click', () => act(yes, async () => { await api.post(`/orgs/requests/${r.id}/accept`); await Promise.all([paintIncoming(), loadOrgs()]); }, { ok: `Joined ${r.org.name}` }));
      no.addEventListener('click', () => act(no, async () => { await api.post(`/orgs/requests/${r.id}/decline`); await paintIncoming(); }, { ok: `Declined ${r.org.name}` }));
      tbody.append(h('tr', {}, td('Organization', r.org.name), td('Role', r.role), td('Asked by', r.requested_by ?? '—'), h('td', { class: 'actions' }, yes, no)));
    }
    fill(incoming, h('h2', { id: 'in-h' }, 'Requests to join'), wrap);
  }
  paintIncoming().catch(() => {});
  await loadOrgs();
  if (ctx.adminOrgs[0]) await select(ctx.adminOrgs[0].id);
  else fill(membersCard, h('h2', { id: 'mem-h' }, 'Members'), h('p', { class: 'muted' }, 'Create an organization first.'));
}
