// #/console/nodes — cluster nodes of an org (org admins): register (a one-time enrolment code is
// shown with the exact `enroll` command; the raw token only under "manual setup"), online status,
// capacity and live sessions, installed games (count; the list opens in a dialog), drain/activate,
// a new enrolment code, roll the token over (the agent picks it up at its next heartbeat), revoke,
// delete. Polls every 5 s.
import { api } from '../api.js';
import { h, keyed, poll, field, pageHead, table, td, act, confirmDialog, openDialog, setText, badge, fmtAgo, fill, toast } from '../ui.js';
import { orgPicker } from '../console.js';

export async function render(main, _p, ctx) {
  let org = null;
  const { wrap, table: tbl, tbody } = table(['Node', 'Region', 'Status', 'Seats', 'Installs', 'Last seen', h('th', { scope: 'col', class: 'num' }, 'Actions')], { caption: 'Cluster nodes' });
  tbl.classList.add('nodes');
  const empty = h('p', { class: 'empty' }, 'No nodes registered yet.');
  const nm = h('input', { name: 'name', placeholder: 'rack-1-a' });
  const region = h('input', { name: 'region', placeholder: 'eu-west' });
  const cap = h('input', { name: 'capacity', type: 'number', min: 0, max: 1024, value: 4 });
  const base = h('input', { name: 'stream_base_url', placeholder: 'https://node1.example.com/stream', type: 'url' });
  const fs = { name: field('Name', nm), region: field('Region', region), capacity: field('Seats', cap), stream_base_url: field('Stream base URL', base) };
  // Disabled, saying why, until the picker has chosen an org: a submit then would have no org to go to.
  const reg = h('button', { type: 'submit', class: 'btn primary', disabled: true, 'aria-describedby': 'rn-wait' }, 'Register node');
  const wait = h('span', { class: 'muted small', id: 'rn-wait', role: 'status' }, 'Loading organizations…');
  const form = h('form', { class: 'card', novalidate: true, 'aria-labelledby': 'rn-h' }, h('h2', { id: 'rn-h' }, 'Register a node'),
    h('div', { class: 'form-row' }, fs.name, fs.region, fs.capacity), h('div', { class: 'form-row mt' }, fs.stream_base_url, reg, wait));
  // The table is busy, never "No nodes registered yet", until an org's nodes are in (show()).
  const loading = () => { wrap.setAttribute('aria-busy', 'true'); empty.hidden = true; };
  loading();
  // The picker's probe already fetched the starting org's nodes: shown as they are, not asked again.
  const picker = orgPicker(ctx, (o, nodes) => {
    org = o;
    reg.disabled = false;
    setText(wait, '');
    fill(tbody);
    loading();
    if (nodes) show(nodes); else refresh();
  });
  main.append(pageHead('Cluster nodes', 'Machines that run cloud play sessions for an organization.'), h('div', { class: 'toolbar' }, picker), wrap, empty, form);

  const copyButton = (label, text, done) => {
    const b = h('button', { type: 'button', class: 'btn small' }, label);
    b.addEventListener('click', async () => { try { await navigator.clipboard.writeText(text); toast.ok(done); } catch { toast.error('Copy failed: select the text instead.'); } });
    return b;
  };
  /** The enrolment code with the exact command to run on the node; the raw token (if any) folded away. */
  function showEnrolment(title, code, token) {
    const until = new Date(code.expires_at).toLocaleTimeString([], { hour: '2-digit', minute: '2-digit' });
    const body = h('div', {},
      h('p', {}, `On the node, run this once before ${until} (the code works once and expires in 15 minutes):`),
      h('p', { class: 'secret mono', tabindex: '0', 'data-command': '' }, code.command),
      h('div', { class: 'row' }, copyButton('Copy command', code.command, 'Command copied')),
      h('p', { class: 'muted' }, 'Enrolment code: ', h('strong', { class: 'mono', 'data-code': '' }, code.code),
        '. The agent stores its token itself, readable only by its service user; see agents/node/README.md for the service setup.'));
    if (token) {
      body.append(h('details', { class: 'mt' }, h('summary', {}, 'Manual setup: the node token (shown once)'),
        h('p', { class: 'muted' }, 'Only for agents that cannot enrol. It is stored hashed and will not be shown again.'),
        h('p', { class: 'secret mono', tabindex: '0', 'data-token': '' }, token), h('div', { class: 'row' }, copyButton('Copy token', token, 'Token copied'))));
    }
    openDialog(title, body);
  }
  const enrolmentCode = (x) => api.post(`/orgs/${org.id}/nodes/${x.id}/enrolment-code`);
  form.addEventListener('submit', async (e) => {
    e.preventDefault();
    Object.values(fs).forEach((f) => f.setError(''));
    if (!org) { toast.error('Pick an organization first.'); return; }
    if (!nm.value.trim()) { fs.name.setError('Enter a name.'); nm.focus(); return; }
    const body = { name: nm.value.trim(), capacity: Number(cap.value || 0), ...(region.value.trim() ? { region: region.value.trim() } : {}), ...(base.value.trim() ? { stream_base_url: base.value.trim() } : {}) };
    await act(reg, async () => {
      let r;
      try { r = await api.post(`/orgs/${org.id}/nodes`, body); } catch (er) {
        if (er.status === 400 || er.status === 409) {
          let shown = false;
          for (const x of Array.isArray(er.body?.details) ? er.body.details : []) { const k = String(x.path || '').split('.')[0]; if (fs[k]) { fs[k].setError(x.message); shown = true; } }
          if (!shown) fs.name.setError(er.message);
          return;
        }
        throw er;
      }
      form.reset();
      const code = await enrolmentCode(r.node);
      await refresh();
      showEnrolment(`Node ${r.node.name} registered`, code, r.token);
    });
  });

  function row(n) {
    // Five actions do not fit one line beside six columns at 1280 px: they wrap inside their cell
    // (table.nodes CSS) instead of pushing the table past its scroll box.
    const acts = h('div', { class: 'act-wrap' });
    const tr = h('tr', {}, td('Node', h('b', { class: 'nm' }), h('br'), h('span', { class: 'muted small sb' })), td('Region', h('span', { class: 'rg' })),
      td('Status', h('span', { class: 'st' })), td('Seats', h('span', { class: 'se' })), td('Installs', h('button', { type: 'button', class: 'btn small in', title: 'Show the installed games' })), td('Last seen', h('span', { class: 'ls' })), h('td', { class: 'actions' }, acts));
    tr.querySelector('.in').addEventListener('click', async () => {
      const x = tr.node;
      const list = await api.get(`/orgs/${org.id}/nodes/${x.id}/installs`).catch((e) => { toast.error(e); return null; });
      if (!list) return;
      const body = list.length === 0
        ? h('p', { class: 'muted' }, 'The node reports no installed games.')
        : h('ul', { class: 'installs' }, ...list.map((i) => h('li', {}, h('strong', {}, i.game_name), ' ', h('code', {}, i.install_path),
          i.proof?.sha256 ? h('span', { class: 'muted' }, ` · sha256 ${String(i.proof.sha256).slice(0, 12)}…`) : '')));
      openDialog(`Installed on ${x.name}`, body);
    });
    const mk = (label, fn, cls = '') => { const b = h('button', { type: 'button', class: `btn small ${cls}`, dataset: { a: label } }, label); b.addEventListener('click', () => fn(tr.node, b)); return b; };
    tr.drain = mk('Drain', (x, b) => act(b, async () => { await api.post(`/orgs/${org.id}/nodes/${x.id}/${x.status === 'draining' ? 'activate' : 'drain'}`); await refresh(); }));
    acts.append(tr.drain,
      mk('Enrol', async (x, b) => {
        const code = await act(b, () => enrolmentCode(x));
        if (code) showEnrolment(`Enrol ${x.name}`, code, null);
      }),
      mk('Rotate', async (x, b) => {
        if (!(await confirmDialog(`Rotate the token of ${x.name}?`, { ok: 'Rotate token', body: h('p', { class: 'muted' }, 'The agent receives a new token at its next heartbeat and stores it itself; the current token works until then. If the token may have leaked, revoke it and enrol again instead.') }))) return;
        await act(b, async () => { await api.post(`/orgs/${org.id}/nodes/${x.id}/token/rollover`); await refresh(); }, { ok: 'Token rollover requested' });
      }),
      mk('Revoke', async (x, b) => {
        if (!(await confirmDialog(`Revoke the token of ${x.name}?`, { ok: 'Revoke', danger: true }))) return;
        await act(b, async () => { await api.del(`/orgs/${org.id}/nodes/${x.id}/token`); await refresh(); }, { ok: 'Token revoked' });
      }, 'danger'),
      mk('Delete', async (x, b) => {
        if (!(await confirmDialog(`Delete ${x.name}?`, { ok: 'Delete node', danger: true, body: h('p', { class: 'muted' }, 'Its running sessions are marked failed.') }))) return;
        await act(b, async () => { await api.del(`/orgs/${org.id}/nodes/${x.id}`); await refresh(); }, { ok: `Deleted ${x.name}` });
      }, 'danger'));
    return tr;
  }
  function update(tr, n) {
    tr.node = n;
    setText(tr.querySelector('.nm'), n.name);
    setText(tr.querySelector('.sb'), n.stream_base_url || 'no stream URL');
    setText(tr.querySelector('.rg'), n.region || '—');
    const st = tr.querySelector('.st');
    const sig = `${n.online}|${n.status}|${n.has_token}|${n.token_rollover_pending}`;
    if (st.dataset.sig !== sig) {
      st.dataset.sig = sig;
      st.replaceChildren(badge(n.online ? 'online' : 'offline', n.online ? 'ok' : 'bad'), ' ', n.status === 'draining' ? badge('draining', 'warn') : '',
        n.has_token ? '' : badge('not enrolled', 'warn'), n.token_rollover_pending ? badge('token rollover pending', 'warn') : '');
    }
    setText(tr.querySelector('.se'), `${n.live_sessions} / ${n.capacity}`);
    setText(tr.querySelector('.in'), `${n.installs} game${n.installs === 1 ? '' : 's'}`);
    // A node that never sent a heartbeat reads "never", not a bare dash (fmtAgo's "no value").
    setText(tr.querySelector('.ls'), n.last_seen ? fmtAgo(n.last_seen) : 'never');
    setText(tr.drain, n.status === 'draining' ? 'Activate' : 'Drain');
  }
  let stop = null;
  function refresh() {
    if (!org) { wrap.removeAttribute('aria-busy'); empty.hidden = false; setText(empty, 'You administer no organization.'); return Promise.resolve(); }
    return api.get(`/orgs/${org.id}/nodes`).then(show);
  }
  function show(nodes) {
    keyed(tbody, nodes, (n) => n.id, row, update);
    wrap.removeAttribute('aria-busy');
    empty.hidden = nodes.length > 0;
    wrap.hidden = nodes.length === 0;
  }
  stop = poll(() => (org ? refresh() : Promise.resolve()));
  return () => stop && stop();
}
