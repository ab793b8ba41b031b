// #/review — the review queue of an org's pending ownership proofs (org admins): oldest first, the
// evidence laid out as readable facts, approve or reject each with a note the player sees, or many
// at once. The navigation's count badge follows the queue.
import { api } from '../api.js';
import { h, fill, pageHead, act, badge, fmtDate, fmtAgo, setText, toast } from '../ui.js';
import { orgPicker, coverSrc } from '../console.js';
import { useStyles, KIND_LABEL, proofSummary, refreshReviewBadge } from './library-shared.js';

export async function render(main, _params, ctx) {
  useStyles();
  const list = h('ul', { class: 'rv-list', 'aria-label': 'Pending proofs' });
  const bulkNote = h('input', { type: 'text', maxlength: 500, placeholder: 'Note for the players (optional)', 'aria-label': 'Note for the selected proofs' });
  const all = h('input', { type: 'checkbox', 'aria-label': 'Select all' });
  const approveSel = h('button', { type: 'button', class: 'btn primary small', id: 'approve-selected' }, 'Approve selected');
  const rejectSel = h('button', { type: 'button', class: 'btn danger small', id: 'reject-selected' }, 'Reject selected');
  const selCount = h('span', { class: 'small muted', role: 'status' });
  const bulkBar = h('div', { class: 'toolbar card' }, h('label', { class: 'check' }, all, 'All'), selCount, bulkNote, approveSel, rejectSel);
  let org = null;
  let items = [];
  // Without a remembered choice, start on an org with proofs waiting (the badge counts every org).
  const pending = { what: 'proofs to review', load: (o) => api.get(`/orgs/${o.id}/library/pending`), shows: (r) => r.total > 0 };
  const pendingIn = (o) => pending.load(o).then((r) => r.total, () => 0);
  const picker = orgPicker(ctx, (o) => { org = o; load(); }, { orgs: ctx.adminOrgs, probe: pending });
  main.append(pageHead('Review queue', 'Ownership proofs your members sent, oldest first. Approve what checks out; a rejection’s note is shown to the player.'), picker, bulkBar, list);

  const selected = () => [...list.querySelectorAll('input[data-pick]:checked')].map((c) => items.find((i) => String(i.proof_id) === c.dataset.pick)).filter(Boolean);
  const syncBulk = () => {
    const n = selected().length;
    setText(selCount, n ? `${n} selected` : '');
    approveSel.disabled = rejectSel.disabled = n === 0;
    all.checked = n > 0 && n === items.length;
  };
  all.addEventListener('change', () => { for (const c of list.querySelectorAll('input[data-pick]')) c.checked = all.checked; syncBulk(); });

  async function bulk(decision, button) {
    const picked = selected();
    if (!picked.length) return;
    await act(button, async () => {
      const note = bulkNote.value.trim();
      const r = await api.post(`/orgs/${org.id}/library/review`, { decision, ...(note ? { note } : {}), items: picked.map((i) => ({ entry_id: i.entry_id, kind: i.kind })) });
      const failed = r.results.filter((x) => !x.ok);
      if (failed.length) toast.error(`${failed.length} could not be ${decision === 'verify' ? 'approved' : 'rejected'}: ${failed[0].error}`);
      else toast.ok(`${r.done} proof${r.done === 1 ? '' : 's'} ${decision === 'verify' ? 'approved' : 'rejected'}`);
      bulkNote.value = '';
      await load();
    });
  }
  approveSel.addEventListener('click', () => bulk('verify', approveSel));
  rejectSel.addEventListener('click', () => bulk('reject', rejectSel));

  async function load() {
    if (!org) return;
    const r = await api.get(`/orgs/${org.id}/library/pending`);
    items = r.items;
    if (!items.length) {
      const empty = h('li', { class: 'empty', id: 'review-empty' }, h('p', {}, h('b', {}, `Nothing to review in ${org.name}.`)), h('p', { class: 'small' }, 'When a member sends a receipt or a store proof for a game, it shows up here.'));
      fill(list, empty);
      elsewhere(org).then((others) => {
        // The navigation's badge counts every org: name where those proofs wait, one click away.
        if (!others.length || !empty.isConnected) return;
        empty.append(h('p', { class: 'small', id: 'review-elsewhere' }, 'Waiting in other organizations: ',
          others.map(([o, n], i) => [i ? ', ' : '', h('button', { type: 'button', class: 'btn small', onclick: () => picker.select(o.id) }, `${o.name} (${n})`)])));
      });
    } else fill(list, items.map(item));
    bulkBar.hidden = items.length === 0;
    syncBulk();
    refreshReviewBadge(ctx);
  }

  /** [org, pending count] of the other orgs this user reviews that have proofs waiting. */
  async function elsewhere(current) {
    const others = ctx.adminOrgs.filter((o) => o.id !== current.id).slice(0, 20);
    const totals = await Promise.all(others.map(pendingIn));
    return others.map((o, i) => [o, totals[i]]).filter(([, n]) => n > 0);
  }

  function item(i) {
    const pick = h('input', { type: 'checkbox', dataset: { pick: String(i.proof_id) }, 'aria-label': `Select ${i.game.name} from ${i.user.username}` });
    pick.addEventListener('change', syncBulk);
    const img = h('img', { class: 'lib-cover', alt: '', loading: 'lazy' });
    const src = coverSrc(i.game.cover_url);
    if (src) img.src = src; else img.classList.add('none');
    const note = h('input', { type: 'text', maxlength: 500, placeholder: 'Note for the player (optional)', 'aria-label': `Note for ${i.user.username}` });
    const approve = h('button', { type: 'button', class: 'btn primary small' }, 'Approve');
    const reject = h('button', { type: 'button', class: 'btn danger small' }, 'Reject');
    const decide = (decision, button) => act(button, async () => {
      const n = note.value.trim();
      await api.post(`/orgs/${org.id}/library/${i.entry_id}/${decision}`, { kind: i.kind, ...(n ? { note: n } : {}) });
      await load();
    }, { ok: decision === 'verify' ? `Approved ${i.game.name} for ${i.user.username}` : `Rejected ${i.game.name} for ${i.user.username}` });
    approve.addEventListener('click', () => decide('verify', approve));
    reject.addEventListener('click', () => decide('reject', reject));
    return h('li', { class: 'rv-item', dataset: { entry: String(i.entry_id) } },
      h('div', { class: 'row' }, pick, img),
      h('div', {},
        h('h3', {}, i.game.name),
        h('div', { class: 'row small' }, badge(KIND_LABEL[i.kind] || i.kind, 'info'), h('span', {}, `from ${i.user.username}`),
          h('span', { class: 'muted', title: fmtDate(i.submitted_at) }, `sent ${fmtAgo(i.submitted_at)}`))),
      h('dl', { class: 'kv rv-evidence' }, proofSummary(i.kind, i.proof).map(([k, v]) => [h('dt', {}, k), h('dd', {}, v ?? '—')])),
      h('div', { class: 'row rv-actions' }, note, approve, reject));
  }
}
