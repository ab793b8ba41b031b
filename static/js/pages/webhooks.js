// #/webhooks — the caller's webhook endpoints (src/notifications): list, add (the signing secret is
// shown once, in a dialog), send a test event, see the delivery log (and send a failed delivery
// again), enable/disable, delete.
// Users add endpoints for their own sources' events; org admins for their orgs' console events;
// platform admins for everything.
import { api } from '../api.js';
import { h, fill, keyed, field, pageHead, table, td, act, confirmDialog, openDialog, setText, toast, badge, fmtAgo, poll } from '../ui.js';

const EVENTS = {
  user: ['recording.started', 'recording.stored', 'source.errored', 'source.recovered'],
  org: ['session.started', 'session.ended', 'proof.pending_review'],
};
EVENTS.platform = [...EVENTS.user, ...EVENTS.org];
const EVENT_TEXT = {
  'recording.started': 'A recording started',
  'recording.stored': 'A recording was stored (with its playback link)',
  'source.errored': 'A source errored',
  'source.recovered': 'A source recovered',
  'session.started': 'A play session started',
  'session.ended': 'A play session ended',
  'proof.pending_review': 'An ownership proof waits for review',
};
const STATUS_KIND = { succeeded: 'ok', failed: 'bad', retrying: 'warn', pending: 'info' };

export async function render(main, _params, ctx) {
  const url = h('input', { name: 'url', type: 'url', placeholder: 'https://hooks.example.com/edgeplane', autocapitalize: 'none', spellcheck: 'false', autocomplete: 'off' });
  const desc = h('input', { name: 'description', placeholder: 'optional', maxlength: '200' });
  const format = h('select', { name: 'format' },
    h('option', { value: 'standard' }, 'Standard Webhooks (JSON)'), h('option', { value: 'discord' }, 'Discord'), h('option', { value: 'slack' }, 'Slack'));
  const scopeOpts = [h('option', { value: 'user' }, 'My sources')];
  for (const o of ctx.adminOrgs) scopeOpts.push(h('option', { value: `org:${o.id}` }, `Organization: ${o.name}`));
  if (ctx.isAdmin) scopeOpts.push(h('option', { value: 'platform' }, 'Everything (platform)'));
  const scope = h('select', { name: 'scope' }, scopeOpts);
  const events = h('div', { class: 'row' });
  const eventsBox = h('fieldset', { class: 'field' }, h('legend', {}, 'Events'), events);
  const eventsErr = h('p', { class: 'err', role: 'alert' });
  eventsBox.append(eventsErr);
  const fUrl = field('Destination URL', url, 'https only; private and internal addresses are refused.');
  const fDesc = field('Description', desc);
  const fFormat = field('Payload format', format);
  const fScope = field('Send events of', scope);
  function paintEvents() {
    const kind = scope.value.split(':')[0];
    fill(events, EVENTS[kind].map((e) => h('label', { class: 'check' }, h('input', { type: 'checkbox', name: 'events', value: e, checked: true }), EVENT_TEXT[e])));
  }
  scope.addEventListener('change', paintEvents);
  paintEvents();
  const addBtn = h('button', { type: 'submit', class: 'btn primary' }, 'Add endpoint');
  const form = h('form', { class: 'card', novalidate: true, 'aria-labelledby': 'wh-new-h' },
    h('h2', { id: 'wh-new-h' }, 'New endpoint'),
    h('div', { class: 'form-row' }, fUrl, fDesc), h('div', { class: 'form-row' }, fFormat, fScope), eventsBox, addBtn);

  const { wrap, tbody } = table(['Endpoint', 'Events', 'Format', 'Enabled', h('th', { scope: 'col', class: 'num' }, 'Actions')], { caption: 'Webhook endpoints' });
  const empty = h('p', { class: 'muted' }, 'No endpoints yet.');
  const logCard = h('section', { class: 'card', 'aria-labelledby': 'wh-log-h', hidden: true });
  main.append(pageHead('Webhooks', 'Signed HTTP callbacks (Standard Webhooks headers) when recordings start or are stored, a source errors or recovers, a play session starts or ends, or a proof waits for review.'),
    wrap, empty, logCard, form);

  let stopLog = null;
  function showLog(ep) {
    stopLog?.();
    const { wrap: lw, tbody: lb } = table(['When', 'Event', 'Status', 'Attempts', 'Response', 'Latency', 'Error', h('th', { scope: 'col' }, 'Actions')], { caption: 'Deliveries' });
    const none = h('p', { class: 'muted' }, 'No deliveries yet.');
    const close = h('button', { type: 'button', class: 'btn small' }, 'Close');
    fill(logCard, h('div', { class: 'row' }, h('h2', { id: 'wh-log-h' }, 'Delivery log'), h('code', { class: 'muted' }, ep.url), close), lw, none);
    logCard.hidden = false;
    close.addEventListener('click', () => { stopLog?.(); stopLog = null; logCard.hidden = true; fill(logCard); });
    const paint = (tr, d) => {
      setText(tr.querySelector('.w'), fmtAgo(d.created_at));
      setText(tr.querySelector('.e'), d.event_type);
      fill(tr.querySelector('.s'), badge(d.status, STATUS_KIND[d.status] || ''));
      setText(tr.querySelector('.a'), d.attempts);
      setText(tr.querySelector('.r'), d.response_status ?? '—');
      setText(tr.querySelector('.l'), d.latency_ms === null ? '—' : `${d.latency_ms} ms`);
      setText(tr.querySelector('.x'), d.error || '');
      // Only a failed delivery can be sent again (the server keeps its body and webhook-id).
      tr.retry.hidden = d.status !== 'failed';
    };
    stopLog = poll(async () => {
      const { deliveries } = await api.get(`/api/webhooks/${encodeURIComponent(ep.id)}/deliveries?limit=50`);
      none.hidden = deliveries.length > 0;
      keyed(lb, deliveries, (d) => d.id, (d) => {
        const retry = h('button', { type: 'button', class: 'btn small', 'aria-label': `Retry the ${d.event_type} delivery` }, 'Retry');
        const tr = h('tr', {}, td('When', h('span', { class: 'w' })), td('Event', h('code', { class: 'e' })), td('Status', h('span', { class: 's' })),
          td('Attempts', h('span', { class: 'a' })), td('Response', h('span', { class: 'r' })), td('Latency', h('span', { class: 'l' })), td('Error', h('span', { class: 'x' })),
          h('td', { class: 'actions', 'data-label': 'Actions' }, retry));
        tr.retry = retry;
        retry.addEventListener('click', () => act(retry, async () => {
          const again = await api.post(`/api/webhooks/${encodeURIComponent(ep.id)}/deliveries/${encodeURIComponent(d.id)}/retry`);
          paint(tr, again);
          // The button hides with the row's new status: keep the focus in the log, not on <body>.
          tr.querySelector('.s').setAttribute('tabindex', '-1');
          tr.querySelector('.s').focus();
        }, { ok: 'Delivery queued again' }));
        return tr;
      }, paint);
    }, { every: 4000 });
  }

  async function load() {
    const { endpoints } = await api.get('/api/webhooks');
    empty.hidden = endpoints.length > 0;
    wrap.hidden = endpoints.length === 0;
    const orgName = (id) => ctx.orgs.find((o) => o.id === id)?.name || `org ${id}`;
    keyed(tbody, endpoints, (e) => e.id, (e) => {
      const en = h('input', { type: 'checkbox', 'aria-label': `Endpoint ${e.url} enabled` });
      en.addEventListener('change', () => act(en, async () => { await api.patch(`/api/webhooks/${encodeURIComponent(e.id)}`, { enabled: en.checked }); await load(); }, { ok: en.checked ? 'Endpoint enabled' : 'Endpoint disabled' }));
      const test = h('button', { type: 'button', class: 'btn small' }, 'Send test');
      test.addEventListener('click', () => act(test, async () => { await api.post(`/api/webhooks/${encodeURIComponent(e.id)}/test`); showLog(test.closest('tr').ep); }, { ok: 'Test event queued' }));
      const log = h('button', { type: 'button', class: 'btn small' }, 'Deliveries');
      log.addEventListener('click', () => { showLog(log.closest('tr').ep); logCard.querySelector('h2')?.scrollIntoView({ block: 'nearest' }); });
      const del = h('button', { type: 'button', class: 'btn small danger' }, 'Delete');
      del.addEventListener('click', async () => {
        const x = del.closest('tr').ep;
        if (!(await confirmDialog(`Delete the endpoint ${x.url}?`, { ok: 'Delete', danger: true }))) return;
        await act(del, async () => {
          await api.del(`/api/webhooks/${encodeURIComponent(x.id)}`);
          if (!logCard.hidden && logCard.textContent.includes(x.url)) { stopLog?.(); logCard.hidden = true; fill(logCard); }
          await load();
        }, { ok: 'Endpoint deleted' });
      });
      const tr = h('tr', {}, td('Endpoint', h('code', { class: 'u' }), h('br'), h('span', { class: 'muted small d' })),
        td('Events', h('span', { class: 'ev' })), td('Format', h('span', { class: 'f' })), td('Enabled', en), h('td', { class: 'actions' }, test, log, del));
      tr.en = en;
      return tr;
    }, (tr, e) => {
      tr.ep = e;
      setText(tr.querySelector('.u'), e.url);
      const who = e.scope === 'org' ? orgName(e.org_id) : e.scope === 'platform' ? 'everything' : 'my sources';
      setText(tr.querySelector('.d'), [e.description, who].filter(Boolean).join(' · '));
      setText(tr.querySelector('.ev'), e.events.join(', '));
      setText(tr.querySelector('.f'), e.format);
      tr.en.checked = e.enabled;
    });
  }

  form.addEventListener('submit', async (ev) => {
    ev.preventDefault();
    [fUrl, fDesc].forEach((f) => f.setError(''));
    setText(eventsErr, '');
    if (!url.value.trim()) { fUrl.setError('Enter the URL to send events to.'); return; }
    const chosen = [...events.querySelectorAll('input:checked')].map((i) => i.value);
    if (!chosen.length) { setText(eventsErr, 'Choose at least one event.'); events.querySelector('input')?.focus(); return; }
    const [kind, org] = scope.value.split(':');
    const body = { url: url.value.trim(), description: desc.value.trim(), format: format.value, events: chosen, scope: kind, ...(org ? { org_id: Number(org) } : {}) };
    await act(addBtn, async () => {
      let created;
      try {
        created = await api.post('/api/webhooks', body);
      } catch (er) {
        if (er.status === 400 || er.status === 409) { fUrl.setError(er.message); return; }
        throw er;
      }
      form.reset();
      paintEvents();
      await load();
      const copy = h('button', { type: 'button', class: 'btn small' }, 'Copy');
      copy.addEventListener('click', async () => { try { await navigator.clipboard.writeText(created.secret); toast.ok('Secret copied'); } catch { toast.info('Select the secret and copy it'); } });
      openDialog('Endpoint added: copy its signing secret', h('div', { class: 'stack' },
        h('p', {}, 'This is the only time the secret is shown. Receivers verify the webhook-signature header with it.'),
        h('p', {}, h('code', { class: 'secret', 'data-testid': 'webhook-secret' }, created.secret)), copy));
    });
  });

  await load();
  return () => stopLog?.();
}
