// GAME: cover, name, description, rating and platforms (GET /games/{id}); ownership from the
// user's library in the org (GET /users/{id}/library?org_id=); a ready installation for the org
// and the preferred region with free seats (GET /games/{id}/availability). A green "play" only
// when the game is owned and installed; otherwise the reason: not owned, not installed (in your
// region), no free seat. Play allocates a cloud session (POST /sessions) or, in local mode, asks
// how to launch it on this device (POST /play/{id}); the server's refusals are shown the same way.
//
// When the game is not owned (or waits for review), a QR code and a short URL lead to that game on
// the player's library page in the web dashboard (link Steam or send a proof from a phone); the
// page checks ownership again whenever the launcher regains focus, so coming back shows the result.
//
//   gameView(app, { game_id, name, cover_url, owned, installed }) → { el, refresh }

import { ApiError } from '../api.js';
import { clear, cover, h, toast } from '../dom.js';
import { icon, platformIcon } from '../icons.js';
import { focusFirst } from '../focus.js';
import { qrCanvas } from '../qr.js';

function idempotencyKey() {
  const b = new Uint8Array(16);
  crypto.getRandomValues(b);
  return Array.from(b, (x) => x.toString(16).padStart(2, '0')).join('');
}

/** The player-facing reason for a refusal of POST /sessions or /play. */
export function refusalReason(e, regionLabel) {
  if (!(e instanceof ApiError)) return String(e);
  if (e.network) return 'the console server cannot be reached: try again';
  switch (e.code) {
    case 'not_owned':
      return 'not owned: you do not own this game in this organization';
    case 'not_org_member':
      return 'you are not a member of this organization';
    case 'not_installed_in_region':
      return `not installed in your region${regionLabel ? ` (${regionLabel})` : ''}`;
    case 'not_installed':
      return 'not installed: no console of this organization has it ready';
    case 'no_free_seat':
      return `no free seat right now${e.retryAfter ? `: try again in ${e.retryAfter} s` : ''}`;
    case 'session_limit':
      return `you already have the most sessions allowed${e.retryAfter ? `: try again in ${e.retryAfter} s` : ''}`;
    case 'game_not_found':
      return 'this game no longer exists';
    default:
      return e.message;
  }
}

export function gameView(app, tile) {
  const s = app.session;
  const gameId = Number(tile.game_id);
  const prefs = app.store.prefs();
  const art = h('div', { class: 'game-cover' }, cover(app.api.url(tile.cover_url), tile.name ?? '', 'cover cover-large'));
  const name = h('h1', { class: 'game-name' }, tile.name ?? 'game');
  const meta = h('div', { class: 'game-meta' });
  const desc = h('p', { class: 'game-desc' });
  const facts = h('ul', { class: 'game-facts', 'aria-live': 'polite' });
  const reason = h('p', { class: 'play-reason', id: 'play-reason', role: 'status' });
  const play = h('button', { class: 'btn btn-play', id: 'play', dataset: { focus: '' }, disabled: true, onclick: () => doPlay() }, icon('play'), prefs.playMode === 'local' ? 'play here' : 'play');
  const check = h('button', { class: 'btn', id: 'check-again', dataset: { focus: '' }, onclick: () => load() }, icon('retry'), 'check again');
  const back = h('button', { class: 'btn btn-quiet', id: 'game-back', dataset: { focus: '' }, onclick: () => app.go('back') }, 'back');
  const getIt = h('div', { class: 'get-it', id: 'get-it', hidden: true });
  const el = h(
    'section',
    { class: 'view view-game', dataset: { gameId: String(gameId) } },
    art,
    h('div', { class: 'game-info' }, name, meta, desc, facts, h('div', { class: 'actions' }, play, check, back), reason, getIt),
  );

  // Whether the player has moved the focus inside this view (to anything but "check again").
  let moved = false;
  el.addEventListener('focusin', (e) => { if (e.target !== check) moved = true; });

  /** The dashboard's library page for this game (the dashboard is served at the API's origin). */
  function libraryUrl() {
    const base = new URL(app.api.url('/'), location.href);
    return `${base.origin}/#/library/game/${gameId}`;
  }

  function renderGetIt() {
    const missing = Boolean(s?.org) && (state.owned === 'no' || state.owned === 'pending');
    getIt.hidden = !missing;
    if (!missing || getIt.dataset.for === state.owned) return;
    getIt.dataset.for = state.owned;
    const url = libraryUrl();
    clear(getIt).append(
      qrCanvas(url, { px: 220, label: 'QR code of this game’s library page' }),
      h(
        'div',
        { class: 'get-it-text' },
        h('p', { class: 'get-it-title' }, state.owned === 'pending' ? 'waiting for an admin to verify your proof' : 'get it into your library'),
        h('p', {}, state.owned === 'pending' ? 'see its status on your phone:' : 'scan with your phone to link Steam or send a proof, or open'),
        h('p', { class: 'get-it-url', id: 'get-it-url' }, url.replace(/^https?:\/\//, '')),
        h('p', { class: 'get-it-hint' }, 'this page checks again when you come back'),
      ),
    );
  }

  // Coming back from the phone (or another window): check ownership again, at most every 3 s.
  let lastFocusCheck = 0;
  const onFocus = () => {
    if (!el.isConnected) {
      window.removeEventListener('focus', onFocus);
      document.removeEventListener('visibilitychange', onFocus);
      return;
    }
    if (document.hidden || busy || Date.now() - lastFocusCheck < 3000) return;
    lastFocusCheck = Date.now();
    load();
  };
  window.addEventListener('focus', onFocus);
  document.addEventListener('visibilitychange', onFocus);
  let state = { owned: tile.owned ? 'yes' : 'unknown', ownedVia: null, ready: Boolean(tile.installed), readyAnywhere: null, freeSeats: null };
  let busy = false;
  let loaded = false;

  function fact(iconName, text, cls = '') {
    return h('li', { class: cls }, icon(iconName), h('span', {}, text));
  }

  function render() {
    clear(facts);
    if (!s?.org) facts.append(fact('lock', 'no organization: sign in to one to play', 'bad'));
    if (state.owned === 'yes') facts.append(fact('check', `owned${state.ownedVia ? ` · ${state.ownedVia}` : ''}`, 'good'));
    else if (state.owned === 'pending') facts.append(fact('lock', 'ownership waiting for verification', 'warn'));
    else if (state.owned === 'no') facts.append(fact('lock', 'not owned in this organization', 'bad'));
    else facts.append(fact('lock', 'ownership unknown', 'warn'));
    if (state.ready) facts.append(fact('cloud', `installed and ready${prefs.region ? ` in ${prefs.region}` : ''}`, 'good'));
    else if (state.readyAnywhere) facts.append(fact('cloud', `not installed in your region (${prefs.region})`, 'bad'));
    else facts.append(fact('download', 'not installed for this organization', 'bad'));
    if (state.freeSeats !== null && state.ready) facts.append(fact('gamepad', state.freeSeats > 0 ? `${state.freeSeats} free seat${state.freeSeats === 1 ? '' : 's'}` : 'no free seat right now: play to wait in line', state.freeSeats > 0 ? 'good' : 'bad'));
    const local = prefs.playMode === 'local';
    let why = '';
    if (!s?.org) why = 'join an organization to play';
    else if (state.owned === 'no') why = 'not owned: you do not own this game in this organization';
    else if (state.owned === 'pending') why = 'not owned yet: an organization admin still has to verify it';
    else if (!state.ready && state.readyAnywhere) why = `not installed in your region (${prefs.region})`;
    else if (!state.ready) why = 'not installed: no console of this organization has it ready';
    // No free seat is no reason to refuse: Play waits in the org's line (the play screen shows it).
    const ok = !why && state.owned !== 'unknown';
    play.disabled = !ok || busy;
    play.classList.toggle('is-ready', ok);
    reason.textContent = ok ? '' : why || (loaded ? 'ownership could not be checked: check again' : 'checking…');
    reason.classList.toggle('is-pending', !ok && !why && !loaded);
    el.dataset.playable = String(ok);
    renderGetIt();
  }

  async function load() {
    reason.textContent = 'checking…';
    // Progress, not a refusal: not in the refusal's red.
    reason.classList.add('is-pending');
    const orgId = s?.org?.id;
    const region = prefs.region ? `&region=${encodeURIComponent(prefs.region)}` : '';
    const [game, library, avail] = await Promise.allSettled([
      app.api.get(`/games/${gameId}`),
      orgId ? app.api.get(`/users/${s.user_id}/library?org_id=${orgId}`) : Promise.resolve([]),
      orgId ? app.api.get(`/games/${gameId}/availability?org_id=${orgId}${region}`) : Promise.resolve(null),
    ]);
    if (game.status === 'fulfilled' && game.value) {
      const g = game.value;
      name.textContent = g.name;
      desc.textContent = g.description ?? '';
      clear(meta);
      if (typeof g.rating === 'number') meta.append(h('span', { class: 'rating', 'aria-label': `rated ${g.rating} of 5` }, icon('star'), g.rating.toFixed(1)));
      for (const p of g.platforms ?? Object.keys(g.external_ids ?? {})) meta.append(h('span', { class: 'chip' }, icon(platformIcon(p)), p));
      if (g.cover_url && !tile.cover_url) clear(art).append(cover(app.api.url(g.cover_url), g.name, 'cover cover-large'));
    } else if (game.status === 'rejected') {
      desc.textContent = game.reason instanceof ApiError && game.reason.status === 404 ? 'this game no longer exists' : '';
    }
    if (library.status === 'fulfilled' && Array.isArray(library.value)) {
      const entry = library.value.find((e) => (e.game?.id ?? e.game_id) === gameId);
      state.owned = entry ? ((typeof entry.owned === 'boolean' ? entry.owned : Boolean(entry.verified_at)) ? 'yes' : 'pending') : 'no';
      state.ownedVia = entry?.ownership_source ?? null;
    }
    if (avail.status === 'fulfilled' && avail.value) {
      state.ready = Boolean(avail.value.install_ready);
      state.readyAnywhere = Boolean(avail.value.install_ready_anywhere);
      state.freeSeats = typeof avail.value.free_seats === 'number' ? avail.value.free_seats : null;
    }
    const failed = [game, library, avail].find((r) => r.status === 'rejected');
    loaded = true;
    el.dataset.loaded = 'true';
    render();
    if (failed) {
      const e = failed.reason;
      toast(e instanceof ApiError && e.network ? 'offline: showing what is known' : `some details could not be loaded: ${e.message}`, 'error');
    }
    // The view opens on "check again" (play is disabled until the facts are in). Until the player
    // moves away from it, the focus follows the facts: on play as soon as play is possible, so the
    // first A press plays instead of checking again.
    const parked = document.activeElement === check && !moved;
    if (app.overlay) return; // a menu opened meanwhile keeps the focus
    if (document.activeElement === document.body || !document.activeElement || !el.contains(document.activeElement) || parked) focusFirst([el], play.disabled ? '#check-again' : '#play');
    else if (document.activeElement === play && play.disabled) focusFirst([el], '#check-again');
  }

  async function doPlay() {
    if (busy || !s?.org) return;
    busy = true;
    render();
    reason.textContent = 'starting…';
    reason.classList.add('is-pending');
    try {
      if (prefs.playMode === 'local') {
        const local = await app.api.post(`/play/${gameId}`, { org_id: s.org.id });
        app.store.pushRecent(s.user_id, { game_id: gameId, name: name.textContent, cover_url: tile.cover_url ?? null, owned: true, installed: true });
        app.go('play', { game: { ...tile, name: name.textContent }, local });
      } else {
        const body = { org_id: s.org.id, user_id: s.user_id, game_id: gameId, queue: true, ...(prefs.region ? { region: prefs.region } : {}) };
        const session = await app.api.post('/sessions', body, { headers: { 'Idempotency-Key': idempotencyKey() } });
        app.store.pushRecent(s.user_id, { game_id: gameId, name: name.textContent, cover_url: tile.cover_url ?? null, owned: true, installed: true });
        app.go('play', { game: { ...tile, name: name.textContent }, session });
      }
    } catch (e) {
      busy = false;
      render();
      const why = refusalReason(e, prefs.region);
      reason.textContent = why;
      reason.classList.remove('is-pending');
      el.dataset.refusal = e instanceof ApiError ? e.code : 'error';
      toast(why, 'error');
      focusFirst([el], '#check-again');
    } finally {
      busy = false;
    }
  }

  render();
  queueMicrotask(load);
  return { el, focus: '#check-again', refresh: load };
}
