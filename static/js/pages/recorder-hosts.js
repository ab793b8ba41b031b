// The "Recorder hosts" card of #/admin/diagnostics: the media agent's hosts (GET
// /api/admin/ingest/hosts) with their state and last upload, registering one (POST, which answers a
// one-time enrolment code, shown with the exact `enroll` command of agents/media) and revoking one
// (DELETE). Before it, enrolling a recorder host needed curl.
//
//   main.append(recorderHostsCard());
import { api, API_BASE } from '../api.js';
import { h, field, table, td, act, confirmDialog, openDialog, badge, fmtAgo, fill, toast } from '../ui.js';

const STATE = { pending: ['waiting for enrolment', 'warn'], enrolled: ['enrolled', 'ok'], revoked: ['revoked', ''] };

export function recorderHostsCard() {
  const { wrap, tbody } = table(['Host', 'State', 'Last seen', 'Registered', h('th', { scope: 'col', class: 'num' }, 'Actions')], { caption: 'Recorder hosts' });
  const empty = h('p', { class: 'muted', hidden: true }, 'No recorder host yet: register one below, then enrol its media agent with the command shown.');
  const name = h('input', { name: 'host-name', required: true, maxlength: 64, placeholder: 'recorder-1', autocomplete: 'off' });
  const nameField = field('Host name', name, 'Letters, digits, dot, dash and underscore.');
  const add = h('button', { type: 'submit', class: 'btn primary' }, 'Register host');
  const form = h('form', { class: 'form-row', novalidate: true, 'aria-label': 'Register a recorder host' }, nameField, add);
  const card = h('section', { class: 'card', id: 'recorder-hosts', 'aria-labelledby': 'rh-h' },
    h('h2', { id: 'rh-h' }, 'Recorder hosts'),
    h('p', { class: 'muted small' }, 'Machines running the media agent (agents/media), which uploads finished recordings to storage through this server.'),
    empty, wrap, form);

  function showEnrolment(host) {
    const server = API_BASE || location.origin;
    const command = `node agents/media/cli.mjs enroll --server ${server} --code ${host.enrolment_code} --state-dir /var/lib/media-agent`;
    const until = new Date(host.enrolment_expires_at).toLocaleTimeString([], { hour: '2-digit', minute: '2-digit' });
    openDialog(`Recorder host ${host.name} registered`, h('div', {},
      h('p', {}, `On the host, from a checkout of the repository, run this once before ${until} (the code works once):`),
      h('p', { class: 'secret mono', tabindex: '0', 'data-command': '' }, command),
      h('p', { class: 'muted' }, 'Enrolment code: ', h('strong', { class: 'mono', 'data-code': '' }, host.enrolment_code),
        '. The agent keeps its credential in the state directory, readable only by its user; then start it with ',
        h('code', {}, 'node agents/media/cli.mjs run --dir <recordings> --state-dir /var/lib/media-agent'), ' (agents/media/README.md).')));
  }

  async function load() {
    const { hosts } = await api.get('/api/admin/ingest/hosts');
    empty.hidden = hosts.length > 0;
    wrap.hidden = hosts.length === 0;
    fill(tbody, hosts.map((x) => {
      const [label, kind] = STATE[x.state] ?? [x.state, ''];
      const revoke = x.state === 'revoked' ? '' : h('button', { type: 'button', class: 'btn danger small' }, 'Revoke');
      if (revoke) {
        revoke.addEventListener('click', async () => {
          if (!(await confirmDialog(`Revoke recorder host ${x.name}?`, { ok: 'Revoke', danger: true, body: h('p', { class: 'muted' }, 'Its media agent is refused from its next request; stored recordings stay. Enrol a new host to upload again.') }))) return;
          await act(revoke, async () => { await api.del(`/api/admin/ingest/hosts/${x.id}`); await load(); }, { ok: `${x.name} revoked` });
        });
      }
      return h('tr', { dataset: { host: String(x.id) } }, td('Host', h('strong', {}, x.name)), td('State', badge(label, kind)),
        td('Last seen', x.last_seen ? fmtAgo(x.last_seen) : '—'), td('Registered', fmtAgo(x.created_at)), h('td', { class: 'num', 'data-label': 'Actions' }, revoke));
    }));
  }

  form.addEventListener('submit', async (e) => {
    e.preventDefault();
    nameField.setError('');
    const v = name.value.trim();
    if (!v) { nameField.setError('Enter a name.'); return; }
    if (!/^[A-Za-z0-9_.-]{1,64}$/.test(v)) { nameField.setError('Use letters, digits, dot, dash or underscore (no spaces).'); return; }
    await act(add, async () => {
      const host = await api.post('/api/admin/ingest/hosts', { name: v });
      form.reset();
      showEnrolment(host);
      await load();
    });
  });
  load().catch((e) => toast.error(e));
  return card;
}
