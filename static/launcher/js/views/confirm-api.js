// CONFIRM_API: a `?api=` link asks to point the launcher at another console server. That server
// would receive every password and sign-in typed on this TV, so nothing happens until the person
// reads the host and chooses; "keep" is focused first. Both choices reload the launcher without the
// query (confirming also remembers the new base). A host this deployment does not allow (its CSP
// and `LAUNCHER_API_ORIGINS`) can only be refused.
//
//   confirmApiView(app, { requested: 'https://console.example' }) → { el }

import { h } from '../dom.js';
import { icon } from '../icons.js';
import { apiAllowed, saveApiBase } from '../store.js';

const hostOf = (base) => {
  try {
    return new URL(base).host;
  } catch {
    return base;
  }
};

export function confirmApiView(app, { requested }) {
  const allowed = apiAllowed(requested);
  const restart = () => location.replace(location.pathname);
  const use = h(
    'button',
    { class: 'btn btn-danger', type: 'button', id: 'api-use', hidden: !allowed, dataset: { focus: '' }, onclick: () => (saveApiBase(requested), restart()) },
    `use ${hostOf(requested)}`,
  );
  const keep = h('button', { class: 'btn btn-primary', type: 'button', id: 'api-keep', dataset: { focus: '', autofocus: '' }, onclick: restart }, `keep ${hostOf(app.base)}`);
  const el = h(
    'section',
    { class: 'view view-confirm-api' },
    h('div', { class: 'top-glyph' }, icon('globe')),
    h('h1', { class: 'title' }, 'connect to another console server?'),
    h('p', { class: 'lede' }, 'a link asks this launcher to use'),
    h('p', { class: 'confirm-host', id: 'api-host' }, hostOf(requested)),
    h('p', { class: 'lede muted' }, requested),
    allowed
      ? h('p', { class: 'confirm-warn' }, 'everything you sign in with on this TV, passwords and codes, would go to that server. use it only if you trust it.')
      : h('p', { class: 'confirm-warn', id: 'api-refused' }, 'this launcher is not allowed to connect to that server (ask the administrator to list it in LAUNCHER_API_ORIGINS).'),
    h('p', { class: 'server-line' }, 'now: ', h('b', {}, hostOf(app.base))),
    h('div', { class: 'actions' }, keep, use),
  );
  return { el, focus: '#api-keep' };
}
