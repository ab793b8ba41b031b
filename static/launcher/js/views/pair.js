// PAIR: sign in with a phone (RFC 8628 device authorization). The TV asks for a code pair, shows the
// short user code in large type and a QR code of the pairing link, counts down to the code's expiry
// and polls for the tokens at the server's interval (a `slow_down` answer adds 5 s, as the RFC says).
// When someone approves on a signed-in phone the TV lands in the hub (or the org picker), saving the
// profile exactly like a password sign-in does. An expired or refused code offers "new code".
//
//   pairView(app) → { el, focus, dispose }   // sends `signedIn`, `chooseOrg`, `usePassword`, `back`

import { ApiError } from '../api.js';
import { h, toast } from '../dom.js';
import { icon } from '../icons.js';
import { qrCanvas } from '../qr.js';
import { enterWithOrgs, ownOrgs, serverLine } from './users.js';

const GRANT_TYPE = 'urn:ietf:params:oauth:grant-type:device_code';

/** How the phone will name this device ("which device is asking?"). */
function clientName() {
  const ua = navigator.userAgent || '';
  const platform = /Android/i.test(ua) ? 'Android' : /CrOS/i.test(ua) ? 'ChromeOS' : /Windows/i.test(ua) ? 'Windows' : /Mac OS/i.test(ua) ? 'macOS' : /Linux/i.test(ua) ? 'Linux' : '';
  return platform ? `TV launcher (${platform})` : 'TV launcher';
}

const mmss = (ms) => {
  const s = Math.max(0, Math.ceil(ms / 1000));
  return `${Math.floor(s / 60)}:${String(s % 60).padStart(2, '0')}`;
};

export function pairView(app) {
  const code = h('p', { class: 'pair-code', id: 'pair-code', 'aria-live': 'polite' }, '····-····');
  const link = h('p', { class: 'pair-link', id: 'pair-link' }, '');
  const status = h('p', { class: 'pair-status', id: 'pair-status', role: 'status' }, 'getting a code…');
  const qrBox = h('div', { class: 'pair-qr', id: 'pair-qr' });
  const newCode = h('button', { class: 'btn btn-primary', type: 'button', id: 'pair-new', hidden: true, dataset: { focus: '' }, onclick: () => start() }, 'new code');
  const usePassword = h('button', { class: 'btn', type: 'button', id: 'pair-password', dataset: { focus: '' }, onclick: () => app.go('usePassword', { mode: 'signin' }) }, icon('keyboard'), 'use a password instead');
  const back = h('button', { class: 'btn btn-quiet', type: 'button', id: 'pair-back', dataset: { focus: '' }, onclick: () => app.go('back') }, 'back');
  const el = h(
    'section',
    { class: 'view view-pair' },
    h('div', { class: 'top-glyph' }, icon('user')),
    h('h1', { class: 'title' }, 'sign in with your phone'),
    h(
      'div',
      { class: 'pair-body' },
      h(
        'div',
        { class: 'pair-text' },
        h('p', { class: 'pair-step' }, h('b', {}, '1'), ' on a phone where you are signed in, open'),
        link,
        h('p', { class: 'pair-step' }, h('b', {}, '2'), ' enter this code'),
        code,
        status,
      ),
      h('div', { class: 'pair-qr-col' }, qrBox, h('p', { class: 'pair-step pair-or' }, 'or scan this with the phone')),
    ),
    h('div', { class: 'actions' }, newCode, usePassword, back),
    serverLine(app),
  );

  let generation = 0;
  let gone = false;
  let pollTimer = null;
  let tickTimer = null;
  let deviceCode = null;
  let interval = 5;
  let expiresAt = 0;

  function stop() {
    clearTimeout(pollTimer);
    clearInterval(tickTimer);
    pollTimer = null;
    tickTimer = null;
  }

  /** The code can no longer be used (expired, refused, failed): offer a new one. */
  function ended(message) {
    stop();
    deviceCode = null;
    el.classList.add('is-ended');
    status.textContent = message;
    newCode.hidden = false;
    app.refocus('#pair-new');
  }

  function tick() {
    const left = expiresAt - Date.now();
    if (left <= 0) ended('the code expired: get a new one');
    else status.textContent = `waiting for your phone · the code expires in ${mmss(left)}`;
  }

  function schedule(gen) {
    clearTimeout(pollTimer);
    pollTimer = setTimeout(() => poll(gen), interval * 1000);
  }

  async function start() {
    const gen = ++generation;
    stop();
    el.classList.remove('is-ended');
    newCode.hidden = true;
    status.textContent = 'getting a code…';
    let r;
    try {
      r = await app.api.post('/auth/device', { client_name: clientName() }, { auth: false });
    } catch (e) {
      if (gone || gen !== generation) return;
      ended(e instanceof ApiError && e.network ? 'the console server cannot be reached: try again' : `no code: ${e.message}`);
      return;
    }
    if (gone || gen !== generation) return;
    deviceCode = r.device_code;
    interval = Number.isFinite(r.interval) && r.interval > 0 ? r.interval : 5;
    expiresAt = Date.now() + r.expires_in * 1000;
    code.textContent = r.user_code;
    link.textContent = r.verification_uri.replace(/^https?:\/\//, '');
    qrBox.replaceChildren(qrCanvas(r.verification_uri_complete, { label: `QR code of ${r.verification_uri_complete}` }));
    qrBox.dataset.text = r.verification_uri_complete;
    if (document.activeElement === newCode || !el.contains(document.activeElement)) app.refocus('#pair-password');
    tick();
    tickTimer = setInterval(tick, 1000);
    // RFC 8628 §3.5: the first poll waits one interval too.
    schedule(gen);
  }

  async function poll(gen) {
    if (gone || gen !== generation || !deviceCode) return;
    let resp;
    try {
      resp = await app.api.post('/auth/device/token', { grant_type: GRANT_TYPE, device_code: deviceCode }, { auth: false });
    } catch (e) {
      if (gone || gen !== generation) return;
      const c = e instanceof ApiError ? e.code : '';
      if (c === 'slow_down') interval += 5;
      if (c === 'expired_token' || c === 'invalid_grant') return ended('the code expired: get a new one');
      if (c === 'access_denied') return ended('the sign-in was refused on the phone');
      // Pending, slowed down, offline for a moment or throttled: ask again after the interval.
      return schedule(gen);
    }
    if (gone || gen !== generation) return;
    stop();
    const orgs = ownOrgs(resp.orgs);
    app.hasUsers = true;
    app.startSession(resp, orgs);
    toast(`signed in as ${resp.username}`, 'ok');
    const chosen = orgs.find((o) => o.id === resp.org_id);
    if (chosen) {
      app.chooseOrg(chosen);
      app.go('signedIn');
    } else enterWithOrgs(app);
  }

  queueMicrotask(start);
  return {
    el,
    focus: '#pair-password',
    onBack: () => app.go('back'),
    dispose() {
      gone = true;
      stop();
    },
  };
}
