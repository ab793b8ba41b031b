// SELECT_USER (the avatar carousel of profiles remembered on this device, "+" for a new one; on a
// server with no account yet only "+", which creates the first account) and LOGIN (sign in or
// create an account). A profile with a refresh token resumes without a password.
//
//   selectUserView(app) → { el }      LOGIN payload: { mode: 'signin'|'create', username? }

import { ApiError, SLOW_TIMEOUT_MS } from '../api.js';
import { h, listItem, toast } from '../dom.js';
import { icon } from '../icons.js';

/** After a login or a resume: Home, or the org picker when the user has several orgs. */
export function enterWithOrgs(app, { first = false } = {}) {
  const orgs = app.session?.orgs ?? [];
  if (!first && orgs.length > 1) return app.go('chooseOrg');
  app.chooseOrg(app.session.org ?? orgs[0] ?? null);
  // LOGIN and PAIR sign in; SELECT_USER resumes.
  return app.go(app.machine.can('signedIn') ? 'signedIn' : 'resumed');
}

/** Which server this screen talks to: a password typed here goes to that host (issue 11). */
export function serverLine(app) {
  let host = app.base;
  try {
    host = new URL(app.base).host;
  } catch {
    // A base that does not parse is shown as it is.
  }
  return h('p', { class: 'server-line', id: 'server-host' }, 'console server: ', h('b', {}, host));
}

/** Memberships the user actually has (a platform admin also sees every org, marked so). */
export function ownOrgs(list) {
  const arr = Array.isArray(list) ? list : [];
  const mine = arr.filter((o) => o.role !== 'platform_admin');
  return mine.length ? mine : arr;
}

async function resume(app, profile) {
  const rt = app.store.refreshToken(profile.user_id);
  if (!rt) return app.go('signIn', { mode: 'signin', username: profile.username });
  app.api.setSession({ refreshToken: rt });
  // Tokens rotate: the new refresh token is stored in app.startSession below (and on every refresh).
  app.session = { ...profile, orgs: [], org: null };
  let ok;
  try {
    ok = await app.api.refreshOnce();
  } catch (e) {
    app.session = null;
    toast(e instanceof ApiError && e.network ? 'offline: cannot sign in right now' : `sign-in failed: ${e.message}`, 'error');
    return;
  }
  if (!ok) {
    app.session = null;
    toast('please sign in again', 'info');
    return app.go('signIn', { mode: 'signin', username: profile.username });
  }
  let orgs = [];
  try {
    orgs = ownOrgs(await app.api.get('/orgs'));
  } catch (e) {
    toast(`could not load your organizations: ${e.message}`, 'error');
  }
  const last = app.store.lastOrg(profile.user_id);
  app.session = { ...profile, orgs, org: orgs.find((o) => o.id === last) ?? orgs[0] ?? null };
  app.store.rememberProfile(profile);
  app.tab = 'home';
  enterWithOrgs(app);
}

export function selectUserView(app) {
  const profiles = app.hasUsers === false ? [] : app.store.profiles();
  const lastUser = app.store.lastUser();
  const carousel = h('div', { class: 'avatars', role: 'list', dataset: { scrollX: '' } });
  const items = [];
  for (const p of profiles) {
    const b = h(
      'button',
      {
        class: 'avatar',
        dataset: { focus: '', userId: String(p.user_id), ...(p.user_id === lastUser ? { autofocus: '' } : {}) },
        'aria-label': `continue as ${p.username}`,
        onclick: () => resume(app, p),
      },
      h('span', { class: 'avatar-disc' }, icon('avatar')),
      h('span', { class: 'avatar-name' }, p.username),
      h('i', { class: 'dot', 'aria-hidden': 'true' }),
    );
    items.push(b);
  }
  const first = app.hasUsers === false;
  const add = h(
    'button',
    { class: 'avatar avatar-add', id: 'add-user', dataset: { focus: '', ...(profiles.length ? {} : { autofocus: '' }) }, onclick: () => (first ? app.go('signIn', { mode: 'create' }) : app.go('pair')) },
    h('span', { class: 'avatar-disc' }, icon('plus')),
    h('span', { class: 'avatar-name' }, first ? 'create account' : 'new user'),
  );
  items.push(add);
  carousel.append(...items.map(listItem));
  const el = h(
    'section',
    { class: 'view view-users' },
    h('div', { class: 'top-glyph' }, icon('globe')),
    h('h1', { class: 'title' }, first ? 'welcome' : 'select user'),
    first ? h('p', { class: 'lede' }, 'this console has no account yet: create the first one (it becomes the administrator)') : null,
    carousel,
  );
  return { el, focus: '.avatars [data-autofocus], .avatar', onBack: () => app.go('back') };
}

export function loginView(app, payload) {
  let mode = payload.mode === 'create' ? 'create' : 'signin';
  const first = app.hasUsers === false;
  const user = h('input', { id: 'login-username', name: 'username', autocomplete: 'username', autocapitalize: 'none', spellcheck: 'false', maxlength: '64', required: true, dataset: { focus: '' } });
  user.value = payload.username ?? '';
  const pass = h('input', { id: 'login-password', name: 'password', type: 'password', autocomplete: 'current-password', maxlength: '256', required: true, dataset: { focus: '' } });
  const invite = h('input', { id: 'login-invite', name: 'invite', autocomplete: 'off', maxlength: '128', dataset: { focus: '' } });
  const inviteRow = h('label', { class: 'field' }, h('span', {}, 'invite code (if you have one)'), invite);
  const error = h('p', { class: 'form-error', role: 'alert', id: 'login-error' });
  const title = h('h1', { class: 'title' });
  const submit = h('button', { class: 'btn btn-primary', type: 'submit', id: 'login-submit', dataset: { focus: '' } });
  const toggle = h('button', { class: 'btn', type: 'button', id: 'login-toggle', dataset: { focus: '' }, onclick: () => setMode(mode === 'create' ? 'signin' : 'create') });
  const back = h('button', { class: 'btn btn-quiet', type: 'button', id: 'login-back', dataset: { focus: '' }, onclick: () => app.go('back') }, 'back');
  const phone = h('button', { class: 'btn', type: 'button', id: 'login-pair', dataset: { focus: '' }, onclick: () => app.go('pair') }, icon('phone'), 'sign in with your phone');
  function setMode(m) {
    mode = m;
    title.textContent = mode === 'create' ? (first ? 'create the first account' : 'new account') : 'sign in';
    submit.textContent = mode === 'create' ? 'create account' : 'sign in';
    toggle.textContent = mode === 'create' ? 'use an existing account' : 'create an account instead';
    toggle.hidden = first;
    phone.hidden = first;
    inviteRow.hidden = mode !== 'create' || first;
    pass.autocomplete = mode === 'create' ? 'new-password' : 'current-password';
    error.textContent = '';
  }
  setMode(mode);
  for (const f of [user, pass, invite]) f.addEventListener('input', () => (error.textContent = ''));
  let busy = false;
  const form = h(
    'form',
    {
      class: 'login-form',
      novalidate: true,
      onsubmit: async (ev) => {
        ev.preventDefault();
        if (busy) return;
        const username = user.value.trim();
        if (!username || !pass.value) {
          error.textContent = 'enter a username and a password';
          (username ? pass : user).focus();
          return;
        }
        if (app.api.connectivity === 'offline') {
          error.textContent = 'offline: the console server cannot be reached';
          return;
        }
        busy = true;
        submit.disabled = true;
        error.textContent = '';
        try {
          const body = { username, password: pass.value };
          if (mode === 'create' && invite.value.trim()) body.invite_code = invite.value.trim();
          const opts = { auth: false, timeoutMs: SLOW_TIMEOUT_MS };
          const resp = mode === 'create' ? await app.api.post('/users', body, opts) : await app.api.post('/auth/login', body, opts);
          app.hasUsers = true;
          app.startSession(resp, ownOrgs(resp.orgs));
          toast(mode === 'create' ? `welcome, ${resp.username}` : `signed in as ${resp.username}`, 'ok');
          enterWithOrgs(app, { first });
        } catch (e) {
          const msg =
            e instanceof ApiError
              ? e.network
                ? 'the console server cannot be reached: try again'
                : e.status === 401
                  ? 'wrong username or password'
                  : e.status === 429
                    ? `too many attempts: wait${e.retryAfter ? ` ${e.retryAfter} s` : ''} and try again`
                    : e.message
              : String(e);
          error.textContent = msg;
          pass.value = '';
          pass.focus();
        } finally {
          busy = false;
          submit.disabled = false;
        }
      },
    },
    title,
    h('label', { class: 'field' }, h('span', {}, 'username'), user),
    h('label', { class: 'field' }, h('span', {}, 'password'), pass),
    inviteRow,
    error,
    h('div', { class: 'actions' }, submit, toggle, back),
    h('div', { class: 'actions' }, phone),
  );
  const el = h('section', { class: 'view view-login' }, h('div', { class: 'top-glyph' }, icon('user')), form, serverLine(app));
  return { el, focus: payload.username ? '#login-password' : '#login-username', onBack: () => app.go('back') };
}
