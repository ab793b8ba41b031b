// #/console/sessions — live cloud play sessions of an org (org admins): who plays what on which
// node, and "End" (DELETE /sessions/{id}). Listing uses GET /orgs/{org_id}/sessions; polls 5 s.
// Rows the allocator had to repair in the list (mirror_repair) carry a "repaired" badge. Below, the
// org's play queue in order (GET /orgs/{org_id}/queue): place, player, game, estimated wait, and
// "Remove" (DELETE /sessions/{id} takes the waiter out of the line).
import { api } from '../api.js';
import { h, keyed, poll, pageHead, table, td, act, confirmDialog, setText, badge, fmtAgo, fill, field, toast } from '../ui.js';
import { orgPicker } from '../console.js';

export async function render(main, _p, ctx) {
  let org = null;
  const { wrap, tbody } = table(['Session', 'Player', 'Game', 'Node', 'Status', 'Started', h('th', { scope: 'col', class: 'num' }, 'Actions')], { caption: 'Play sessions' });
  const note = h('p', { class: 'empty', hidden: true }, 'No live sessions.');
  // Busy, never "No live sessions", until the picker has chosen and the org's list is in.
  wrap.setAttribute('aria-busy', 'true');
  const picker = orgPicker(ctx, (o) => { org = o; fill(tbody); wrap.setAttribute('aria-busy', 'true'); note.hidden = true; load().catch(() => {}); });
  // Ending a session by id works even where the server cannot list sessions.
  const sid = h('input', { name: 'session_id', inputmode: 'numeric', placeholder: 'session id', autocomplete: 'off' });
  const fSid = field('Session id', sid);
  const endBtn = h('button', { type: 'submit', class: 'btn danger' }, 'End session');
  const byId = h('form', { class: 'card', novalidate: true, 'aria-labelledby': 'byid-h' }, h('h2', { id: 'byid-h' }, 'End a session by id'), h('div', { class: 'form-row' }, fSid, endBtn));
  byId.addEventListener('submit', async (e) => {
    e.preventDefault();
    fSid.setError('');
    if (!/^\d{1,16}$/.test(sid.value.trim())) { fSid.setError('Enter the numeric session id.'); sid.focus(); return; }
    if (!(await confirmDialog(`End session ${sid.value.trim()}?`, { ok: 'End session', danger: true }))) return;
    await act(endBtn, async () => {
      try { await api.del(`/sessions/${sid.value.trim()}`); } catch (er) { if (er.status === 404 || er.status === 403) { fSid.setError(er.message); return; } throw er; }
      toast.ok(`Session ${sid.value.trim()} ended`);
      sid.value = '';
      await load().catch(() => {});
    });
  });
  const q = table(['Place', 'Player', 'Game', 'Estimated wait', 'Waiting since', 'Last poll', h('th', { scope: 'col', class: 'num' }, 'Actions')], { caption: 'Queue' });
  const qNote = h('p', { class: 'empty', hidden: true }, 'Nobody is waiting for a seat.');
  const qHead = h('h2', { id: 'queue-h' }, 'Queue');
  main.append(pageHead('Play sessions', 'Cloud play sessions running now. Ending one frees its seat.'), h('div', { class: 'toolbar' }, picker), wrap, note, qHead, q.wrap, qNote, byId);
  const users = new Map();
  const games = new Map();
  async function load() {
    if (!org) { setText(note, 'You administer no organization.'); wrap.hidden = true; note.hidden = false; wrap.removeAttribute('aria-busy'); return; }
    let list;
    try {
      list = await api.get(`/orgs/${org.id}/sessions?status=live`);
    } catch (e) {
      if (e.status === 404 || e.status === 405) { setText(note, `The server does not list sessions yet (${e.message}).`); wrap.hidden = true; note.hidden = false; wrap.removeAttribute('aria-busy'); return; }
      throw e;
    }
    list = Array.isArray(list) ? list : list.items || [];
    keyed(tbody, list, (s) => s.id, (s) => {
      const end = h('button', { type: 'button', class: 'btn small danger' }, 'End');
      end.addEventListener('click', async () => {
        const x = end.closest('tr').s;
        if (!(await confirmDialog(`End session ${x.id}?`, { ok: 'End session', danger: true, body: h('p', { class: 'muted' }, 'The player is disconnected and the seat is freed.') }))) return;
        await act(end, async () => { await api.del(`/sessions/${x.id}`); await load(); }, { ok: 'Session ended' });
      });
      return h('tr', {}, td('Session', h('code', {}, String(s.id))), td('Player', h('span', { class: 'us' })), td('Game', h('span', { class: 'gm' })),
        td('Node', h('span', { class: 'nd' })), td('Status', h('span', { class: 'st' })), td('Started', h('span', { class: 'cr' })), h('td', { class: 'actions' }, end));
    }, (tr, s) => {
      tr.s = s;
      setText(tr.querySelector('.us'), s.username || users.get(s.user_id) || `#${s.user_id}`);
      setText(tr.querySelector('.gm'), s.game_name || s.game?.name || games.get(s.game_id) || `#${s.game_id}`);
      setText(tr.querySelector('.nd'), s.node_name || (s.node_id ? `#${s.node_id}` : '—'));
      const st = tr.querySelector('.st');
      const label = s.status + (s.mirror_repair ? ' repaired' : '');
      if (st.dataset.label !== label) {
        st.dataset.label = label;
        st.replaceChildren(badge(s.status, s.status === 'active' ? 'ok' : s.status === 'failed' ? 'bad' : 'info'));
        // The list's row reached it late (the allocator's outbox or reconcile repaired it).
        if (s.mirror_repair) st.append(' ', h('span', { title: `${s.mirror_repair} ${s.mirror_repaired_at ?? ''}`.trim() }, badge('repaired', 'warn')));
      }
      setText(tr.querySelector('.cr'), fmtAgo(s.created_at));
    });
    wrap.removeAttribute('aria-busy');
    wrap.hidden = list.length === 0;
    note.hidden = list.length > 0;
    setText(note, 'No live sessions.');
    await loadQueue();
  }
  async function loadQueue() {
    let entries;
    try {
      entries = await api.get(`/orgs/${org.id}/queue`);
    } catch (e) {
      if (e.status === 404 || e.status === 405) { q.wrap.hidden = true; qNote.hidden = true; qHead.hidden = true; return; }
      throw e;
    }
    entries = Array.isArray(entries) ? entries : [];
    keyed(q.tbody, entries, (x) => x.id, () => {
      const rm = h('button', { type: 'button', class: 'btn small danger' }, 'Remove');
      rm.addEventListener('click', async () => {
        const x = rm.closest('tr').x;
        if (!(await confirmDialog(`Remove ${x.username || `#${x.user_id}`} from the queue?`, { ok: 'Remove', danger: true, body: h('p', { class: 'muted' }, 'They lose their place in line.') }))) return;
        await act(rm, async () => { await api.del(`/sessions/${x.id}`); await load(); }, { ok: 'Removed from the queue' });
      });
      return h('tr', {}, td('Place', h('span', { class: 'ps' })), td('Player', h('span', { class: 'us' })), td('Game', h('span', { class: 'gm' })),
        td('Estimated wait', h('span', { class: 'eta' })), td('Waiting since', h('span', { class: 'since' })), td('Last poll', h('span', { class: 'lp' })), h('td', { class: 'actions' }, rm));
    }, (tr, x) => {
      tr.x = x;
      setText(tr.querySelector('.ps'), String(x.position));
      setText(tr.querySelector('.us'), x.username || `#${x.user_id}`);
      setText(tr.querySelector('.gm'), x.game_name || `#${x.game_id}`);
      setText(tr.querySelector('.eta'), x.eta_seconds < 60 ? 'under a minute' : `about ${Math.round(x.eta_seconds / 60)} min`);
      setText(tr.querySelector('.since'), fmtAgo(x.enqueued_at));
      setText(tr.querySelector('.lp'), x.last_poll_at ? fmtAgo(x.last_poll_at) : '—');
    });
    qHead.hidden = false;
    q.wrap.hidden = entries.length === 0;
    qNote.hidden = entries.length > 0;
  }
  poll(() => (org ? load() : Promise.resolve()));
}
