// #/admin/users — create users, change role, reset password, delete, see a user's subscriptions.
import { api } from '../api.js';
import { h, keyed, field, pageHead, table, td, act, confirmDialog, openDialog, setText, badge, fmtDate, toast } from '../ui.js';

export async function render(main, _p, ctx) {
  const name = h('input', { name: 'username', autocomplete: 'off', autocapitalize: 'none', spellcheck: 'false' });
  const pass = h('input', { name: 'password', type: 'password', autocomplete: 'new-password' });
  const role = h('select', { name: 'role' }, h('option', { value: 'user' }, 'user'), h('option', { value: 'admin' }, 'admin'));
  const fName = field('Username', name);
  const fPass = field('Password', pass);
  const btn = h('button', { type: 'submit', class: 'btn primary' }, 'Create user');
  const form = h('form', { class: 'card', novalidate: true, 'aria-labelledby': 'new-h' }, h('h2', { id: 'new-h' }, 'New user'),
    h('div', { class: 'form-row' }, fName, fPass, field('Role', role), btn));
  const { wrap, tbody } = table(['User', 'Role', 'Created', h('th', { scope: 'col', class: 'num' }, 'Actions')], { caption: 'Users' });
  main.append(pageHead('Users', 'Accounts of the dashboard, the DVR and the console (one identity).'), form, wrap);

  form.addEventListener('submit', async (e) => {
    e.preventDefault();
    fName.setError(''); fPass.setError('');
    if (!name.value.trim()) { fName.setError('Enter a username.'); name.focus(); return; }
    if (!pass.value) { fPass.setError('Enter a password.'); pass.focus(); return; }
    await act(btn, async () => {
      try {
        await api.post('/api/users', { username: name.value.trim(), password: pass.value, role: role.value });
      } catch (err) {
        if (err.status === 400 || err.status === 409) { (/password/i.test(err.message) ? fPass : fName).setError(err.message); return; }
        throw err;
      }
      toast.ok(`Created ${name.value.trim()}`);
      form.reset();
      await load();
      name.focus();
    });
  });

  function row(u) {
    const roleSel = h('select', { 'aria-label': `Role of ${u.username}` }, h('option', { value: 'user' }, 'user'), h('option', { value: 'admin' }, 'admin'));
    roleSel.addEventListener('change', () => act(roleSel, async () => {
      const x = roleSel.closest('tr').user;
      await api.put(`/api/users/${x.id}`, { role: roleSel.value });
      await load();
    }, { ok: `Role changed` }));
    const reset = h('button', { type: 'button', class: 'btn small' }, 'Reset password');
    reset.addEventListener('click', () => resetPassword(reset.closest('tr').user));
    const del = h('button', { type: 'button', class: 'btn small danger' }, 'Delete');
    del.addEventListener('click', async () => {
      const x = del.closest('tr').user;
      if (!(await confirmDialog(`Delete ${x.username}?`, { ok: 'Delete user', danger: true, body: h('p', { class: 'muted' }, 'Their subscriptions and sessions are removed; recorders they alone kept running are stopped.') }))) return;
      await act(del, async () => { await api.del(`/api/users/${x.id}`); await load(); }, { ok: `Deleted ${x.username}` });
    });
    const tr = h('tr', {},
      td('User', h('a', { class: 'nm', href: `#/admin/users/${u.id}/subscriptions` }), ' ', h('span', { class: 'you' })),
      td('Role', roleSel), td('Created', h('span', { class: 'cr' })),
      h('td', { class: 'actions' }, h('a', { class: 'btn small', href: `#/admin/users/${u.id}/subscriptions` }, 'Subscriptions'), reset, del));
    tr.roleSel = roleSel;
    return tr;
  }
  function update(tr, u) {
    tr.user = u;
    setText(tr.querySelector('.nm'), u.username);
    const you = tr.querySelector('.you');
    if (u.id === ctx.user.id && !you.firstChild) you.append(badge('you', 'info'));
    if (document.activeElement !== tr.roleSel) tr.roleSel.value = u.role;
    setText(tr.querySelector('.cr'), fmtDate(u.created_at));
  }
  function resetPassword(u) {
    const p = h('input', { type: 'password', autocomplete: 'new-password' });
    const f = field('New password', p, 'The user signs in with it next time.');
    const b = h('button', { type: 'submit', class: 'btn primary' }, 'Set password');
    const frm = h('form', { novalidate: true }, f, b);
    const dlg = openDialog(`Reset password for ${u.username}`, frm);
    frm.addEventListener('submit', async (e) => {
      e.preventDefault();
      if (!p.value) { f.setError('Enter a password.'); p.focus(); return; }
      await act(b, async () => {
        try { await api.put(`/api/users/${u.id}`, { password: p.value, role: u.role }); } catch (err) { if (err.status === 400) { f.setError(err.message); return; } throw err; }
        dlg.close();
        toast.ok(`Password reset for ${u.username}`);
      });
    });
    p.focus();
  }
  async function load() { keyed(tbody, await api.get('/api/users'), (u) => u.id, row, update); }
  await load();
}
