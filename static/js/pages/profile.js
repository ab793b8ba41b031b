// #/profile — who am I, and change my password (POST /api/me/change-password).
import { api } from '../api.js';
import { h, field, fill, pageHead, act, fmtDate, confirmDialog } from '../ui.js';

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
      form, pairedDevices()));
}

/** TVs and other devices signed in with a code (#/link); unpairing ends their login at once. */
function pairedDevices() {
  const list = h('ul', { class: 'paired-list', id: 'paired-list' });
  const card = h('section', { class: 'card', 'aria-labelledby': 'paired-h' },
    h('h2', { id: 'paired-h' }, 'Paired devices'),
    h('p', { class: 'muted small' }, 'Devices you signed in by approving a code. ', h('a', { href: '#/link' }, 'Link a device')),
    list);
  async function load() {
    const rows = await api.get('/auth/devices');
    if (!rows.length) { fill(list, h('li', { class: 'muted' }, 'No paired devices.')); return; }
    fill(list, rows.map((d) => {
      const btn = h('button', { type: 'button', class: 'btn danger small', 'aria-label': `Unpair ${d.client_name || 'device'}` }, 'Unpair');
      btn.addEventListener('click', async () => {
        if (!(await confirmDialog(`Unpair ${d.client_name || 'this device'}?`, { ok: 'Unpair', danger: true, body: h('p', {}, 'It is signed out at once and needs a new code to come back.') }))) return;
        await act(btn, async () => { await api.del(`/auth/devices/${encodeURIComponent(d.id)}`); await load(); }, { ok: 'Device unpaired' });
      });
      return h('li', { dataset: { deviceId: d.id } },
        h('span', {}, h('strong', {}, d.client_name || 'unnamed device'), h('br'),
          h('span', { class: 'muted small' }, `paired ${fmtDate(d.paired_at)} · last seen ${fmtDate(d.last_seen_at)}`)),
        btn);
    }));
  }
  load().catch((e) => fill(list, h('li', { class: 'form-error' }, e.message)));
  return card;
}
