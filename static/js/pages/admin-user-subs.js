// #/admin/users/{id}/subscriptions — one user's subscriptions as they see them (admin view).
import { api } from '../api.js';
import { h, keyed, poll, pageHead, table, td, badge, statusKind, setText, fmtAgo } from '../ui.js';
import { srcHref, statusBadge } from '../dvr.js';

export async function render(main, { id }) {
  let user = null;
  try { user = await api.get(`/api/users/${encodeURIComponent(id)}`); } catch { /* unknown user: the list is empty */ }
  const { wrap, tbody } = table(['Source', 'Status', 'Posture', 'Last recorded'], { caption: 'Subscriptions' });
  const empty = h('p', { class: 'empty' }, 'This user has no subscriptions.');
  main.append(pageHead(user ? `${user.username}’s subscriptions` : `User #${id}`, null, h('a', { class: 'btn', href: '#/admin/users' }, '← All users')), wrap, empty);
  poll(async () => {
    const subs = await api.get(`/api/admin/users/${encodeURIComponent(id)}/subscriptions`);
    keyed(tbody, subs, (s) => s.sub_id, (s) => h('tr', {},
      td('Source', h('a', { href: srcHref(s) }, s.username), ' ', h('span', { class: 'muted small' }, s.driver)),
      td('Status', h('span', { class: 'st' })), td('Posture', h('span', { class: 'po' })), td('Last recorded', h('span', { class: 'lr' }))), (tr, s) => {
      const st = tr.querySelector('.st'); const b = statusBadge(s);
      if (st.textContent !== b.textContent) st.replaceChildren(b);
      const po = tr.querySelector('.po');
      if (po.textContent !== s.posture) po.replaceChildren(badge(s.posture, statusKind[s.posture]));
      setText(tr.querySelector('.lr'), fmtAgo(s.last_recording_at));
    });
    empty.hidden = subs.length > 0;
    wrap.hidden = subs.length === 0;
  });
}
