// The launcher's entry point: wires the API client, the device store, input and focus to the state
// machine (machine.js) and mounts one view per state. Views are plain functions returning
// `{ el, onTab?, onBack?, refresh?, focus?, dispose? }`; they change the screen only through
// `app.go(event, payload)`, which asks the machine.
//
// Served at /launcher/ (optionally /launcher/?api=https://console.example to use another API).

import { createApi } from './api.js';
import { clear, toast } from './dom.js';
import { focusEl, focusFirst, move, step } from './focus.js';
import { createInput } from './input.js';
import { createMachine } from './machine.js';
import { createOsk } from './osk.js';
import { apiFromQuery, deviceStore, resolveApiBase } from './store.js';
import { renderHeader } from './header.js';
import { bootView, connectView } from './views/connect.js';
import { confirmApiView } from './views/confirm-api.js';
import { selectUserView, loginView } from './views/users.js';
import { pairView } from './views/pair.js';
import { orgSelectView } from './views/orgs.js';
import { hubView } from './views/hub.js';
import { gameView } from './views/game.js';
import { playView } from './views/play.js';
import { settingsOverlay, userMenuOverlay } from './views/overlays.js';

const VIEWS = {
  CONFIRM_API: confirmApiView,
  BOOT: bootView,
  CONNECT_CONTROLLER: connectView,
  SELECT_USER: selectUserView,
  LOGIN: loginView,
  PAIR: pairView,
  ORG_SELECT: orgSelectView,
  HUB: hubView,
  GAME: gameView,
  PLAY: playView,
};

const root = document.getElementById('app');
const screen = document.getElementById('screen');
const header = document.getElementById('header');
const overlayRoot = document.getElementById('overlay');

const base = resolveApiBase(location);
// `?api=` is only a request: CONFIRM_API shows the host and asks before anything is sent there.
const requestedApi = apiFromQuery(location);
const confirmFirst = Boolean(requestedApi && requestedApi !== base);
if (requestedApi && !confirmFirst) history.replaceState(null, '', location.pathname);
const store = deviceStore(base);

/** Everything the views share. */
const app = {
  base,
  store,
  /** Set by the boot probe: false on a server with no account yet, null when unknown. */
  hasUsers: null,
  /** The signed-in user: { user_id, username, role, orgs, org } or null. */
  session: null,
  tab: 'home',
  /** Selector of the tile to focus again when the hub comes back (the game just left). */
  returnFocus: null,
  view: null,
  overlay: null,
  lastAction: null,
  api: null,
  machine: null,
  input: null,
  go(event, payload) {
    return app.machine.send(event, payload);
  },
  toast,
  /** Remember a signed-in user and the tokens of this login. */
  startSession(resp, orgs = resp.orgs) {
    const profile = { user_id: resp.user_id, username: resp.username, role: resp.role ?? 'user' };
    store.rememberProfile(profile);
    store.setRefreshToken(profile.user_id, resp.refresh_token);
    app.api.setSession({ token: resp.token, refreshToken: resp.refresh_token });
    const list = Array.isArray(orgs) ? orgs : [];
    const last = store.lastOrg(profile.user_id);
    app.session = { ...profile, orgs: list, org: list.find((o) => o.id === last) ?? list[0] ?? null };
    app.tab = 'home';
    return app.session;
  },
  chooseOrg(org) {
    if (!app.session) return;
    app.session.org = org;
    if (org) store.setLastOrg(app.session.user_id, org.id);
  },
  async signOut() {
    const s = app.session;
    if (s) {
      try {
        await app.api.post('/auth/logout', undefined);
      } catch {
        // Offline or already expired: forgetting the token locally still signs this device out.
      }
      store.setRefreshToken(s.user_id, null);
    }
    app.api.clearSession();
    app.session = null;
  },
  openOverlay(make) {
    app.closeOverlay(false);
    const returnTo = document.activeElement;
    const ov = make(app);
    app.overlay = { ...ov, returnTo };
    clear(overlayRoot).append(ov.el);
    overlayRoot.hidden = false;
    root.classList.add('has-overlay');
    app.osk.quiet(() => focusFirst([overlayRoot]));
  },
  closeOverlay(restore = true) {
    if (!app.overlay) return;
    const { returnTo, dispose } = app.overlay;
    dispose?.();
    app.overlay = null;
    clear(overlayRoot);
    overlayRoot.hidden = true;
    root.classList.remove('has-overlay');
    if (restore && returnTo && document.contains(returnTo)) focusEl(returnTo);
    else if (restore) focusFirst(layer());
  },
  openSettings() {
    app.openOverlay(settingsOverlay);
  },
  openUserMenu() {
    app.openOverlay(userMenuOverlay);
  },
  /** Re-render the header (user, org, connectivity). */
  header() {
    renderHeader(app, header);
  },
  refocus(selector) {
    focusFirst(layer(), selector);
  },
};

/** Where focus may go: the open overlay, else the screen first and then the header. */
function layer() {
  return app.overlay ? [overlayRoot] : [screen, header];
}

app.api = createApi({
  base,
  onTokens: ({ refresh_token }) => {
    if (app.session) store.setRefreshToken(app.session.user_id, refresh_token);
  },
  onSessionLost: () => {
    if (!app.session) return;
    toast('your sign-in expired: sign in again', 'error');
    const who = app.session;
    app.api.clearSession();
    app.session = null;
    app.closeOverlay(false);
    app.go('sessionLost', { username: who.username });
  },
});

app.machine = createMachine(
  (to, from, event, payload) => {
    root.dataset.state = to;
    mount(to, payload);
  },
  confirmFirst ? 'CONFIRM_API' : 'BOOT',
);

function mount(state, payload) {
  app.osk?.close(false);
  app.closeOverlay(false);
  app.view?.dispose?.();
  const view = VIEWS[state](app, payload ?? {});
  app.view = view;
  clear(screen).append(view.el);
  screen.dataset.view = state.toLowerCase();
  app.header();
  if (!view.manualFocus) focusFirst(layer(), view.focus);
}

app.api.onConnectivity((state, before) => {
  root.dataset.connectivity = state;
  app.header();
  if (state === 'online' && before !== 'online') {
    toast('back online', 'ok');
    app.view?.refresh?.();
  } else if (state === 'offline') toast('offline: the console server cannot be reached', 'error');
  else if (state === 'degraded') toast('the console server is having trouble', 'error');
});
root.dataset.connectivity = 'online';

function handle(action, source) {
  app.lastAction = { action, source, at: Date.now() };
  app.overlay?.onInput?.(action, source);
  if (action === 'padChanged') {
    app.view?.onPad?.();
    return;
  }
  // The on-screen keyboard, when open, owns the controller (Start still reaches settings).
  if (app.osk?.handle(action)) return;
  if (action === 'settings') {
    if (app.overlay) app.closeOverlay();
    else if (app.machine.state !== 'BOOT' && app.machine.state !== 'CONFIRM_API') app.openSettings();
    return;
  }
  if (app.overlay) {
    if (action === 'back') app.closeOverlay();
    else if (['up', 'down', 'left', 'right'].includes(action)) move(layer(), action);
    else if (action === 'next' || action === 'prev') step(layer(), action === 'next' ? 1 : -1);
    else if (action === 'select') activate();
    else if (action === 'submit') submit();
    return;
  }
  if (app.view?.onAction?.(action, source)) return;
  switch (action) {
    case 'up':
    case 'down':
    case 'left':
    case 'right':
      if (!move(layer(), action)) app.view?.onEdge?.(action);
      break;
    case 'next':
    case 'prev':
      step(layer(), action === 'next' ? 1 : -1);
      break;
    case 'select':
      activate();
      break;
    case 'submit':
      submit();
      break;
    case 'tabPrev':
    case 'tabNext':
      app.view?.onTab?.(action === 'tabNext' ? 1 : -1);
      break;
    case 'back':
      if (app.view?.onBack) app.view.onBack();
      else if (app.machine.can('back')) app.go('back');
      break;
    default:
      break;
  }
}

function activate() {
  const el = document.activeElement;
  if (el instanceof HTMLElement && el !== document.body && !el.matches('input, textarea')) el.click();
  // A on a text field opens the on-screen keyboard (again); Enter from a keyboard submits.
  else if (el instanceof HTMLInputElement && !app.osk.maybeOpen(el, { force: true })) submit();
}

function submit() {
  const el = document.activeElement;
  const form = el instanceof HTMLElement ? el.closest('form') : null;
  if (form) form.requestSubmit();
  else activate();
}

// A pointer or a touch still works (laptops): clicks are handled by the buttons themselves.
app.input = createInput(handle);
app.osk = createOsk({ root, keyboardUsed: () => app.input.keyboardUsed() });
// Reaching a text field by D-pad (or a view focusing one) opens the keyboard when no physical one
// has been used on this page.
document.addEventListener('focusin', (ev) => {
  if (!app.osk.isOpen && ev.target instanceof HTMLInputElement) app.osk.maybeOpen(ev.target);
});
root.dataset.state = app.machine.state;
mount(app.machine.state, { requested: requestedApi });
