// #/profile — who am I, and change my password (POST /api/me/change-password).
import { api } from '../api.js';
import { h, field, pageHead, act, fmtDate } from '../ui.js';

export async function render(main, _p, ctx) {
  const u = ctx.user;
  const cur = h('input', { type: 'password', autocomplete: 'current-password', name: 'current_password' });
  const next = h('input', { type: 'password', autocomplete: 'new-password', name: 'new_password', minlength: 8 });
  const again = h('input', { type: 'password', autocomplete: 'new-password', name: 'confirm' });
  const fCur = field('Current password', cur);
  const fNext = field('New password', next, 'At least 8 characters; a long passphrase is best.');
  const fAgain = field('Repeat the new password', again);
  const btn = h('button', { type: 'submit', class: 'btn primary' }, 'Change password');
  const form = h('form', { class: 'card', 'aria-labelledby': 'pw-h', novalidate: true }, h('h2', { id: 'pw-h' }, 'Change password'), fCur, fNext, fAgain, btn);
  form.addEventListener('submit', async (e) => {
    e.preventDefault();
    fCur.setError(''); fNext.setError(''); fAgain.setError('');
    if (!cur.value) { fCur.setError('Enter your current password.'); cur.focus(); return; }
    if (next.value.length < 8) { fNext.setError('Use at least 8 characters.'); next.focus(); return; }
    if (next.value !== again.value) { fAgain.setError('The two passwords differ.'); again.focus(); return; }
    await act(btn, async () => {
      try {
        await api.post('/api/me/change-password', { current_password: cur.value, new_password: next.value });
      } catch (err) {
        if (err.status === 400 || err.status === 401) { (/current/i.test(err.message) ? fCur : fNext).setError(err.message); return; }
        throw err;
      }
      form.reset();
      cur.focus();
    }, { ok: 'Password changed' });
  });
  main.append(pageHead('Profile', 'Your account'),
    h('div', { class: 'cols' },
      h('section', { class: 'card', 'aria-labelledby': 'me-h' }, h('h2', { id: 'me-h' }, 'Account'),
        h('dl', { class: 'kv' }, h('dt', {}, 'Username'), h('dd', {}, u.username), h('dt', {}, 'Role'), h('dd', {}, u.role),
          h('dt', {}, 'Member since'), h('dd', {}, fmtDate(u.created_at)),
          h('dt', {}, 'Organizations'), h('dd', {}, ctx.orgs.length ? ctx.orgs.map((o) => `${o.name} (${o.role})`).join(', ') : '—'))),
      form));
}
