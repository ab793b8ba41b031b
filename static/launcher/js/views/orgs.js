// ORG_SELECT: the user belongs to several orgs; pick the one whose installs, seats and library
// the hub shows. The last org used on this device is focused first.
//
//   orgSelectView(app) → { el }   // sends `orgChosen`

import { h, listItem } from '../dom.js';
import { icon } from '../icons.js';

export function orgSelectView(app) {
  const s = app.session;
  const last = s ? app.store.lastOrg(s.user_id) : null;
  const list = h('div', { class: 'org-list', role: 'list' });
  for (const o of s?.orgs ?? []) {
    list.append(listItem(
      h(
        'button',
        {
          class: 'org-card',
          dataset: { focus: '', orgId: String(o.id), ...(o.id === last ? { autofocus: '' } : {}) },
          onclick: () => {
            app.chooseOrg(o);
            app.go('orgChosen');
          },
        },
        h('span', { class: 'org-initial', 'aria-hidden': 'true' }, (o.name || o.slug || '?').slice(0, 1).toLowerCase()),
        h('span', { class: 'org-name' }, o.name || o.slug),
        h('span', { class: 'org-role' }, o.role === 'platform_admin' ? 'administrator' : o.role),
      )),
    );
  }
  const el = h(
    'section',
    { class: 'view view-orgs' },
    h('div', { class: 'top-glyph' }, icon('couch')),
    h('h1', { class: 'title' }, 'select organization'),
    h('p', { class: 'lede' }, `${s?.username ?? ''}, which organization's games do you want to play?`),
    list,
  );
  return { el, focus: '.org-list [data-autofocus], .org-card', onBack: () => app.go('back') };
}
