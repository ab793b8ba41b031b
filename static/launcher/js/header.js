// The header on every signed-in screen (and the profile picker): controller (settings: API base
// URL, play mode, controller test), user (switch user or org, sign out) and Wi-Fi, which shows the
// connectivity to the console API (online / degraded / offline; selecting it checks again).
//
//   renderHeader(app, document.getElementById('header'));

import { clear, h, toast } from './dom.js';
import { icon } from './icons.js';

const SHOWN = new Set(['SELECT_USER', 'ORG_SELECT', 'HUB', 'GAME', 'PLAY', 'LOGIN']);
const WIFI_LABEL = { online: 'online', degraded: 'degraded', offline: 'offline' };

export function renderHeader(app, el) {
  const state = app.machine?.state ?? 'BOOT';
  if (!SHOWN.has(state)) {
    el.hidden = true;
    clear(el);
    return;
  }
  const keep = el.contains(document.activeElement) ? document.activeElement?.id : null;
  const conn = app.api.connectivity;
  const s = app.session;
  const wifiIcon = conn === 'online' ? 'wifi' : conn === 'degraded' ? 'wifi-degraded' : 'wifi-offline';
  const parts = [
    h(
      'nav',
      { class: 'header-icons', 'aria-label': 'launcher' },
      h(
        'button',
        { id: 'hdr-controller', class: 'hdr-btn', dataset: { focus: '' }, title: 'settings and controller test (Start)', 'aria-label': 'settings and controller test', onclick: () => app.openSettings() },
        icon('gamepad'),
      ),
      s
        ? h(
            'button',
            { id: 'hdr-user', class: 'hdr-btn', dataset: { focus: '' }, title: `${s.username}: switch user or org, sign out`, 'aria-label': `user ${s.username}`, onclick: () => app.openUserMenu() },
            icon('user'),
          )
        : null,
      h(
        'button',
        {
          id: 'hdr-wifi',
          class: `hdr-btn wifi wifi-${conn}`,
          dataset: { focus: '', connectivity: conn },
          title: `console server: ${WIFI_LABEL[conn]} (select to check again)`,
          'aria-label': `connection ${WIFI_LABEL[conn]}`,
          onclick: async () => {
            const r = await app.api.probe();
            if (r === 'online') toast('the console server answers', 'ok');
          },
        },
        icon(wifiIcon),
        conn !== 'online' ? h('span', { class: 'wifi-text' }, WIFI_LABEL[conn]) : null,
      ),
    ),
    s
      ? h(
          'div',
          { class: 'header-who', 'aria-live': 'polite' },
          h('span', { class: 'who-user' }, s.username),
          state === 'ORG_SELECT' ? null : s.org ? h('span', { class: 'who-org' }, s.org.name) : h('span', { class: 'who-org muted' }, 'no organization'),
        )
      : null,
  ];
  clear(el).append(...parts.filter(Boolean));
  el.hidden = false;
  if (keep) document.getElementById(keep)?.focus({ preventScroll: true });
}
