// Overlays over any screen: settings (API base URL, play mode, preferred region, and a live
// controller test) opened with Start or the controller icon, and the user menu (switch user,
// switch org, sign out). B / Escape closes them.
//
//   app.openOverlay(settingsOverlay);   app.openOverlay(userMenuOverlay);

import { clear, h, toast } from '../dom.js';
import { icon } from '../icons.js';
import { apiAllowed, normalizeBase, saveApiBase } from '../store.js';

export function settingsOverlay(app) {
  const prefs = app.store.prefs();
  const apiInput = h('input', { id: 'settings-api', name: 'api', inputmode: 'url', autocomplete: 'url', spellcheck: 'false', maxlength: '300', dataset: { focus: '' } });
  apiInput.value = app.base;
  const region = h('input', { id: 'settings-region', name: 'region', maxlength: '32', spellcheck: 'false', placeholder: 'any', dataset: { focus: '' } });
  region.value = prefs.region;
  const modeBtn = h('button', { type: 'button', class: 'btn', id: 'settings-mode', dataset: { focus: '' } });
  let mode = prefs.playMode;
  const renderMode = () => {
    modeBtn.textContent = mode === 'local' ? 'play mode: local (this device)' : 'play mode: cloud';
  };
  renderMode();
  modeBtn.addEventListener('click', () => {
    mode = mode === 'local' ? 'cloud' : 'local';
    renderMode();
  });
  const msg = h('p', { class: 'form-error', role: 'alert', id: 'settings-error' });
  const pads = h('div', { class: 'pad-test', id: 'pad-test', 'aria-live': 'off' });
  const lastAction = h('p', { class: 'pad-last', id: 'pad-last' }, 'press a button or a key to test it');

  const form = h(
    'form',
    {
      class: 'settings-form',
      novalidate: true,
      onsubmit: async (ev) => {
        ev.preventDefault();
        msg.textContent = '';
        const base = normalizeBase(apiInput.value);
        if (!base) {
          msg.textContent = 'enter an http:// or https:// address';
          apiInput.focus();
          return;
        }
        if (!apiAllowed(base)) {
          msg.textContent = `this launcher is not allowed to connect to ${new URL(base).host} (LAUNCHER_API_ORIGINS)`;
          apiInput.focus();
          return;
        }
        const r = region.value.trim().toLowerCase();
        if (r && !/^[a-z0-9][a-z0-9-]{0,31}$/.test(r)) {
          msg.textContent = 'a region is lowercase letters, digits and dashes (for example eu-west)';
          region.focus();
          return;
        }
        app.store.setPrefs({ playMode: mode, region: r });
        if (base !== app.base) {
          try {
            const res = await fetch(`${base}/health`, { cache: 'no-store', credentials: 'omit' });
            if (!res.ok) throw new Error(String(res.status));
          } catch {
            msg.textContent = `no console server answers at ${base}`;
            return;
          }
          saveApiBase(base);
          // Profiles and tokens are kept per server: start again against the new one.
          location.replace(location.pathname);
          return;
        }
        toast('settings saved', 'ok');
        app.closeOverlay();
        app.view?.refresh?.();
      },
    },
    h('h2', {}, icon('gear'), 'settings'),
    h('label', { class: 'field' }, h('span', {}, 'console server (API base URL)'), apiInput),
    h('label', { class: 'field' }, h('span', {}, 'preferred region'), region),
    modeBtn,
    msg,
    h(
      'div',
      { class: 'actions' },
      h('button', { type: 'submit', class: 'btn btn-primary', id: 'settings-save', dataset: { focus: '' } }, 'save'),
      h('button', { type: 'button', class: 'btn btn-quiet', id: 'settings-close', dataset: { focus: '' }, onclick: () => app.closeOverlay() }, 'close'),
    ),
  );
  const el = h(
    'div',
    { class: 'dialog dialog-wide', role: 'dialog', 'aria-modal': 'true', 'aria-label': 'settings' },
    form,
    h('section', { class: 'pad-section' }, h('h2', {}, icon('gamepad'), 'controller test'), pads, lastAction),
  );

  const NAMES = ['A', 'B', 'X', 'Y', 'LB', 'RB', 'LT', 'RT', 'select', 'start', 'L3', 'R3', 'up', 'down', 'left', 'right', 'home'];
  const drawPads = () => {
    const list = app.input.padState();
    clear(pads);
    if (!list.length) pads.append(h('p', { class: 'muted' }, 'no controller detected: press a button on it to wake it up'));
    for (const p of list) {
      pads.append(
        h(
          'div',
          { class: 'pad', dataset: { pad: String(p.index) } },
          h('p', { class: 'pad-name' }, p.id),
          h('div', { class: 'pad-buttons' }, ...p.buttons.map((on, i) => h('span', { class: `pad-btn${on ? ' on' : ''}` }, NAMES[i] ?? `b${i}`))),
          h('p', { class: 'pad-axes' }, `stick ${p.axes.slice(0, 2).map((a) => a.toFixed(2)).join(' / ')}`),
        ),
      );
    }
  };
  drawPads();
  const timer = setInterval(drawPads, 150);
  return {
    el,
    onInput(action, source) {
      if (action !== 'padChanged') lastAction.textContent = `last input: ${action} (${source})`;
    },
    dispose: () => clearInterval(timer),
  };
}

export function userMenuOverlay(app) {
  const s = app.session;
  const item = (id, label, iconName, fn, show = true) =>
    show ? h('button', { class: 'menu-item', id, dataset: { focus: '' }, onclick: fn }, icon(iconName), label) : null;
  const el = h(
    'div',
    { class: 'dialog', role: 'dialog', 'aria-modal': 'true', 'aria-label': 'user menu' },
    h('h2', {}, icon('user'), s?.username ?? 'not signed in'),
    s?.org ? h('p', { class: 'muted' }, `${s.org.name} · ${s.org.role}`) : null,
    h(
      'div',
      { class: 'menu' },
      item('menu-switch-user', 'switch user', 'avatar', () => {
        app.closeOverlay(false);
        app.api.clearSession();
        app.session = null;
        app.go('switchUser');
      }, app.machine.can('switchUser')),
      item('menu-switch-org', 'switch organization', 'couch', () => {
        app.closeOverlay(false);
        app.go('switchOrg');
      }, (s?.orgs?.length ?? 0) > 1 && app.machine.can('switchOrg')),
      item('menu-sign-out', 'sign out', 'lock', async () => {
        app.closeOverlay(false);
        await app.signOut();
        toast('signed out', 'ok');
        app.go('signOut');
      }, Boolean(s) && app.machine.can('signOut')),
      item('menu-close', 'close', 'retry', () => app.closeOverlay()),
    ),
  );
  return { el };
}
