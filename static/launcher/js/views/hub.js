// HUB: the tab carousel tv · home · gaming (cyclic, the current tab centred; LB/RB, Q/E or
// PageUp/PageDown switch) and the tab's content:
//   home   — "recents" (games opened on this device) and "top 10 games" from
//            GET /charts/top10?org_id= with rank, cover, name and owned/installed badges;
//   gaming — the user's library in the org (GET /users/{id}/library?org_id=) as round tiles with a
//            neutral platform badge, and "add game";
//   tv     — the app tiles from GET /apps.
// Every row keeps its last good answer on the device: when the server cannot be reached the saved
// tiles stay visible with an offline badge; any failure shows a retry button.
//
//   hubView(app) → { el, onTab, refresh }

import { ApiError } from '../api.js';
import { clear, cover, h, listItem, toast } from '../dom.js';
import { icon, platformIcon } from '../icons.js';
import { focusEl, focusFirst } from '../focus.js';
import { qrCanvas } from '../qr.js';

export const TABS = ['home', 'gaming', 'tv'];
const GLYPH = { home: 'couch', gaming: 'gamepad', tv: 'tv' };

/** Fetch a list and keep it for offline use; on failure fall back to the saved copy. */
export async function loadCached(app, key, fetcher) {
  try {
    const items = await fetcher();
    const list = Array.isArray(items) ? items : [];
    app.store.cacheTiles(key, list);
    return { items: list, stale: false };
  } catch (e) {
    const saved = app.store.cachedTiles(key);
    if (saved && e instanceof ApiError && e.network) return { items: saved.items, stale: true, at: saved.at, error: e };
    throw e;
  }
}

function gameIdOf(t) {
  return t.game_id ?? t.game?.id ?? null;
}

function badges(t) {
  const out = h('span', { class: 'badges' });
  if (t.owned) out.append(h('span', { class: 'badge badge-owned' }, icon('check'), 'owned'));
  out.append(t.installed ? h('span', { class: 'badge badge-ready' }, icon('cloud'), 'ready') : h('span', { class: 'badge badge-missing' }, 'not installed'));
  return out;
}

function chartTile(app, t) {
  const gid = gameIdOf(t);
  const name = t.name ?? t.game?.name ?? 'game';
  const rank = t.rank ?? t.chart_rank;
  return h(
    'button',
    {
      class: 'tile',
      dataset: { focus: '', gameId: String(gid ?? ''), tile: 'chart' },
      onclick: () => openTile(app, { game_id: gid, name, cover_url: t.cover_url ?? t.game?.cover_url ?? null, owned: Boolean(t.owned), installed: Boolean(t.installed) }),
    },
    h('span', { class: 'tile-art' }, cover(app.api.url(t.cover_url ?? t.game?.cover_url), name), rank ? h('span', { class: 'rank' }, String(rank)) : null),
    h('span', { class: 'tile-name' }, name),
    badges(t),
  );
}

function openTile(app, tile) {
  if (!tile.game_id) {
    toast(`${tile.name} has no game page`, 'info');
    return;
  }
  // Coming back from the game page puts the focus back on this tile.
  app.returnFocus = `[data-game-id="${tile.game_id}"]`;
  app.go('openGame', tile);
}

/** A titled row: heading on the left, tiles scrolling sideways. */
function row(title, id) {
  const tiles = h('div', { class: 'row-tiles', role: 'list', dataset: { scrollX: '' } });
  const status = h('div', { class: 'row-status' });
  const el = h('section', { class: 'row', id, 'aria-label': title }, h('h2', { class: 'row-title' }, title), h('div', { class: 'row-body' }, status, tiles));
  return { el, tiles, status };
}

function showLoading(r) {
  clear(r.status).append(h('span', { class: 'loading' }, 'loading…'));
  r.el.setAttribute('aria-busy', 'true');
}

function showResult(r, res, empty) {
  r.el.removeAttribute('aria-busy');
  clear(r.status);
  if (res.stale) {
    r.el.classList.add('is-offline');
    r.status.append(h('span', { class: 'badge badge-offline', dataset: { offline: '' } }, icon('wifi-offline'), 'offline · saved tiles'));
  } else r.el.classList.remove('is-offline');
  if (!res.items.length) r.status.append(h('span', { class: 'empty' }, empty));
}

function showError(r, e, retry) {
  r.el.removeAttribute('aria-busy');
  clear(r.tiles);
  clear(r.status).append(
    h(
      'span',
      { class: 'row-error', role: 'alert' },
      e instanceof ApiError && e.status === 0 ? 'cannot reach the console server' : e instanceof ApiError && e.status >= 500 ? 'the console server had a problem' : `could not load: ${e.message}`,
    ),
    h('button', { class: 'btn btn-retry', dataset: { focus: '', retry: '' }, onclick: retry }, icon('retry'), 'retry'),
  );
}

function homeTab(app) {
  const s = app.session;
  const orgQ = s?.org ? `?org_id=${s.org.id}` : '';
  const recents = s ? app.store.recents(s.user_id) : [];
  const parts = [];
  if (recents.length) {
    const r = row('recents', 'row-recents');
    for (const t of recents) r.tiles.append(listItem(chartTile(app, t)));
    parts.push(r);
  }
  const top = row('top 10 games', 'row-top10');
  parts.push(top);
  const load = async () => {
    showLoading(top);
    try {
      const res = await loadCached(app, `home:${s?.org?.id ?? 'public'}`, () => app.api.get(`/charts/top10${orgQ}`));
      clear(top.tiles).append(...res.items.map((t) => listItem(chartTile(app, t))));
      showResult(top, res, 'no chart yet today');
      return res;
    } catch (e) {
      showError(top, e, () => load().then(() => app.refocus('#row-top10 [data-focus]')));
      if (!(e instanceof ApiError && e.network)) toast(`top 10: ${e.message}`, 'error');
      return null;
    }
  };
  // "ready to play": the user's verified games that a console of the org has ready (the library).
  const ready = row('ready to play', 'row-ready');
  ready.el.hidden = true;
  parts.push(ready);
  const loadReady = async () => {
    if (!s?.org) return;
    try {
      const res = await loadCached(app, `gaming:${s.user_id}:${s.org.id}`, () => app.api.get(`/users/${s.user_id}/library?org_id=${s.org.id}`));
      const list = res.items.filter((e) => (typeof e.owned === 'boolean' ? e.owned : Boolean(e.verified_at)) && e.install_ready && e.game);
      clear(ready.tiles).append(
        ...list.map((e) => listItem(chartTile(app, { game_id: e.game.id, name: e.game.name, cover_url: e.game.cover_url, owned: true, installed: true }))),
      );
      showResult(ready, { ...res, items: list }, '');
      ready.el.hidden = list.length === 0;
    } catch {
      ready.el.hidden = true; // the top 10 row already reports failures
    }
  };
  // The hub focuses the first tile when `load` resolves: that is the top 10, so the focus lands as
  // soon as those tiles show; "ready to play" (below them) fills in when the library answers.
  const loadBoth = async () => {
    loadReady();
    return load();
  };
  return { parts, load: loadBoth, focus: '#row-top10 .tile, #row-recents .tile, [data-retry]' };
}

function gamingTab(app) {
  const s = app.session;
  const r = row('my games', 'row-library');
  r.el.classList.add('row-round');
  const addGame = () =>
    h(
      'button',
      { class: 'tile tile-round tile-add', dataset: { focus: '' }, id: 'add-game', onclick: () => app.openOverlay(addGameOverlay) },
      h('span', { class: 'tile-art' }, icon('plus')),
      h('span', { class: 'tile-name' }, 'add game'),
    );
  const load = async () => {
    if (!s?.org) {
      clear(r.tiles).append(listItem(addGame()));
      clear(r.status).append(h('span', { class: 'empty' }, 'join an organization to see your games'));
      return null;
    }
    showLoading(r);
    try {
      const res = await loadCached(app, `gaming:${s.user_id}:${s.org.id}`, () => app.api.get(`/users/${s.user_id}/library?org_id=${s.org.id}`));
      clear(r.tiles).append(
        ...res.items.map((e) => {
          const g = e.game ?? {};
          const verified = typeof e.owned === 'boolean' ? e.owned : Boolean(e.verified_at);
          const source = e.ownership_source ?? e.platform ?? '';
          return listItem(h(
            'button',
            {
              class: `tile tile-round${verified ? '' : ' is-pending'}`,
              dataset: { focus: '', gameId: String(g.id ?? '') },
              onclick: () => openTile(app, { game_id: g.id, name: g.name, cover_url: g.cover_url, owned: verified, installed: Boolean(e.install_ready) }),
            },
            h('span', { class: 'platform-badge', title: source }, icon(platformIcon(source)), h('span', {}, source || 'game')),
            h('span', { class: 'tile-art' }, cover(app.api.url(g.cover_url), g.name ?? '')),
            h('span', { class: 'tile-name' }, g.name ?? 'game'),
            h('span', { class: 'badges' }, verified ? null : h('span', { class: 'badge badge-pending' }, 'pending'), e.install_ready ? h('span', { class: 'badge badge-ready' }, icon('cloud'), 'ready') : h('span', { class: 'badge badge-missing' }, 'not installed')),
            h('i', { class: 'dot', 'aria-hidden': 'true' }),
          ));
        }),
        listItem(addGame()),
      );
      showResult(r, res, 'no games in your library for this organization yet');
      return res;
    } catch (e) {
      showError(r, e, () => load().then(() => app.refocus('#row-library [data-focus]')));
      return null;
    }
  };
  return { parts: [r], load, focus: '#row-library .tile, [data-retry]' };
}

function tvTab(app) {
  const r = row('apps', 'row-apps');
  const load = async () => {
    showLoading(r);
    try {
      const res = await loadCached(app, 'tv', () => app.api.get('/apps'));
      clear(r.tiles).append(
        ...res.items.map((t) =>
          listItem(h(
            'button',
            { class: 'tile tile-wide', dataset: { focus: '', appId: t.id }, onclick: () => openTile(app, { game_id: t.game_id, name: t.name, cover_url: t.cover_url, owned: t.owned, installed: t.installed }) },
            h('span', { class: 'tile-art' }, cover(app.api.url(t.cover_url), t.name)),
            h('span', { class: 'tile-name' }, t.name),
            t.game_id ? badges(t) : h('span', { class: 'badges' }, h('span', { class: 'badge' }, icon('monitor'), 'app')),
          )),
        ),
      );
      showResult(r, res, 'no apps yet');
      return res;
    } catch (e) {
      showError(r, e, () => load().then(() => app.refocus('#row-apps [data-focus]')));
      return null;
    }
  };
  return { parts: [r], load, focus: '#row-apps .tile, [data-retry]' };
}

// A person on the sofa does not know where "the web dashboard" is: the dialog names the library
// page's address and shows it as a QR code (the dashboard is served at the API's origin), as the
// game page does for a game not owned yet.
function addGameOverlay(app) {
  const close = h('button', { class: 'btn btn-primary', dataset: { focus: '' }, onclick: () => app.closeOverlay() }, 'ok');
  const url = `${new URL(app.api.url('/'), location.href).origin}/#/library`;
  const el = h(
    'div',
    { class: 'dialog', role: 'dialog', 'aria-modal': 'true', 'aria-labelledby': 'add-game-title' },
    h('h2', { id: 'add-game-title' }, 'add a game'),
    h('p', {}, 'games join your library when you prove you own them: link your store account or send a receipt, then an organization admin verifies it.'),
    h(
      'div',
      { class: 'get-it' },
      qrCanvas(url, { px: 220, label: 'QR code of your library page' }),
      h(
        'div',
        { class: 'get-it-text' },
        h('p', {}, 'scan with your phone, or open'),
        h('p', { class: 'get-it-url', id: 'add-game-url' }, url.replace(/^https?:\/\//, '')),
      ),
    ),
    h('div', { class: 'actions' }, close),
  );
  return { el };
}

export function hubView(app) {
  const tabIndex = () => Math.max(0, TABS.indexOf(app.tab));
  const glyph = h('div', { class: 'top-glyph' });
  // The page's heading for screen readers (the glyph and the centred tab show it to the eye).
  const heading = h('h1', { class: 'sr-only', id: 'hub-title' });
  const tabs = h('nav', { class: 'tabs', 'aria-label': 'sections' });
  const content = h('div', { class: 'hub-content' });
  const el = h('section', { class: 'view view-hub', 'aria-labelledby': 'hub-title' }, heading, glyph, tabs, content);
  let current = null;
  let seq = 0;

  function renderTabs() {
    const i = tabIndex();
    const order = [TABS[(i + TABS.length - 1) % TABS.length], TABS[i], TABS[(i + 1) % TABS.length]];
    clear(glyph).append(icon(GLYPH[app.tab]));
    heading.textContent = app.tab;
    clear(tabs).append(
      ...order.map((t, j) =>
        h(
          'button',
          {
            class: `tab${j === 1 ? ' is-current' : ''}`,
            dataset: { focus: '', tab: t },
            'aria-current': j === 1 ? 'page' : undefined,
            onclick: () => (j === 1 ? focusFirst([content], current?.focus) : switchTo(t)),
          },
          t,
        ),
      ),
    );
  }

  async function show({ keepFocusOnTabs = false } = {}) {
    const my = ++seq;
    el.dataset.tab = app.tab;
    renderTabs();
    const tab = app.tab === 'gaming' ? gamingTab(app) : app.tab === 'tv' ? tvTab(app) : homeTab(app);
    current = tab;
    clear(content).append(...tab.parts.map((p) => p.el));
    if (!keepFocusOnTabs) focusFirst([content]) ?? focusEl(tabs.querySelector('.is-current'));
    await tab.load();
    // A menu or settings opened while the rows loaded keeps the focus (its close restores it).
    if (my !== seq || app.overlay) return;
    const active = document.activeElement;
    if (keepFocusOnTabs) focusEl(tabs.querySelector('.is-current'));
    else if (!active || active === document.body || !el.contains(active) || active.closest('.tabs')) {
      const back = app.returnFocus;
      app.returnFocus = null;
      if (!focusFirst([content], back ? `${back}, ${tab.focus}` : tab.focus)) focusEl(tabs.querySelector('.is-current'));
    }
  }

  function switchTo(t, opts) {
    app.tab = t;
    show(opts);
  }

  queueMicrotask(() => show());
  return {
    el,
    manualFocus: true,
    onTab(delta) {
      switchTo(TABS[(tabIndex() + delta + TABS.length) % TABS.length]);
    },
    onBack() {
      // B on the hub: back to the tab strip, then nothing (sign out lives in the user menu).
      const cur = tabs.querySelector('.is-current');
      if (document.activeElement !== cur) focusEl(cur);
    },
    refresh() {
      current?.load();
    },
  };
}
