// #/console/orgs — organizations (platform admins create them) and their members: add by name or
// id, change role, remove (the API protects the last owner).
import { api } from '../api.js';
import { h, keyed, field, pageHead, table, td, act, confirmDialog, setText, fill, badge, toast } from '../ui.js';
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
    const who = h('input', { name: 'user', placeholder: ctx.isAdmin ? 'username or id' : 'user id', autocapitalize: 'none', spellcheck: 'false' });
    const role = h('select', { name: 'role' }, ORG_ROLES.map((r) => h('option', { value: r }, r)));
    const fWho = field('User', who);
    const add = h('button', { type: 'submit', class: 'btn primary' }, 'Add member');
    const form = h('form', { novalidate: true }, h('div', { class: 'form-row' }, fWho, field('Role', role), add));
    const { wrap, tbody } = table(['Member', 'Role', h('th', { scope: 'col', class: 'num' }, 'Actions')], { caption: `Members of ${org.name}` });
    fill(membersCard, h('h2', { id: 'mem-h' }, `Members of ${org.name}`), form, h('div', { class: 'mt' }, wrap));
    form.addEventListener('submit', async (e) => {
      e.preventDefault();
      fWho.setError('');
      if (!who.value.trim()) { fWho.setError('Enter a username or user id.'); who.focus(); return; }
      await act(add, async () => {
        try {
          const id = await resolveUserId(who.value, ctx);
          await api.post(`/orgs/${org.id}/members`, { user_id: id, role: role.value });
        } catch (err) {
          if (!err.status || err.status === 400 || err.status === 404 || err.status === 409) { fWho.setError(err.message); who.focus(); return; }
          throw err;
        }
        toast.ok(`Added ${who.value.trim()} to ${org.name}`);
        who.value = '';
        await paintMembers();
      });
    });
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
    await paintMembers();
  }
  await loadOrgs();
  if (ctx.adminOrgs[0]) await select(ctx.adminOrgs[0].id);
  else fill(membersCard, h('h2', { id: 'mem-h' }, 'Members'), h('p', { class: 'muted' }, 'Create an organization first.'));
}
