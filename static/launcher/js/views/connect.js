// BOOT (probe the server: does any account exist yet?) and CONNECT_CONTROLLER (three controller
// drawings, the waiting dots, "connect controller"; any gamepad button or key continues).
//
//   bootView(app) → { el }   // sends `booted` once the probe answered or failed

import { h } from '../dom.js';
import { icon } from '../icons.js';

export function bootView(app) {
  const el = h('section', { class: 'view view-boot', 'aria-busy': 'true' }, h('div', { class: 'top-glyph' }, icon('globe')), h('p', { class: 'caption' }, 'starting…'));
  queueMicrotask(async () => {
    try {
      const r = await app.api.get('/users/exists', { auth: false });
      app.hasUsers = Boolean(r?.has_users);
    } catch {
      app.hasUsers = null; // offline: the profile picker still shows remembered profiles
    }
    app.go('booted');
  });
  return { el, manualFocus: true };
}

export function connectView(app) {
  const status = h('p', { class: 'pad-status', id: 'pad-status' });
  const cont = h('button', { class: 'btn btn-primary', id: 'connect-continue', dataset: { focus: '', autofocus: '' }, onclick: () => app.go('continue') }, 'continue');
  const offline = h('p', { class: 'notice notice-offline', hidden: true }, 'the console server cannot be reached: check settings (Start) or the network');
  const el = h(
    'section',
    { class: 'view view-connect' },
    h('button', { class: 'corner-btn', id: 'connect-settings', dataset: { focus: '' }, 'aria-label': 'settings', title: 'settings (Start)', onclick: () => app.openSettings() }, icon('gear')),
    h('div', { class: 'top-glyph' }, icon('globe', 'couchsuite')),
    h('div', { class: 'controllers' }, icon('remote', 'remote'), icon('gamepad', 'gamepad'), icon('arcade', 'arcade stick')),
    h('div', { class: 'wait-dots', 'aria-hidden': 'true' }, h('i'), h('i'), h('i'), h('i')),
    h('h1', { class: 'caption' }, 'connect controller'),
    status,
    cont,
    offline,
  );
  const update = () => {
    const names = app.input.padNames();
    status.textContent = names.length ? `${names[0]} connected: press any button` : 'or press any key to continue';
    el.classList.toggle('has-pad', names.length > 0);
    offline.hidden = app.hasUsers !== null;
  };
  update();
  return {
    el,
    onPad: update,
    onAction(action) {
      // Any button or key continues; Start still opens settings (handled before views).
      if (action === 'select' && document.activeElement?.id === 'connect-settings') return false;
      if (['any', 'select', 'up', 'down', 'left', 'right', 'tabPrev', 'tabNext', 'back', 'erase', 'space'].includes(action)) {
        app.go('continue');
        return true;
      }
      return false;
    },
    refresh() {
      app.api
        .get('/users/exists', { auth: false })
        .then((r) => {
          app.hasUsers = Boolean(r?.has_users);
          update();
        })
        .catch(() => {});
    },
  };
}
