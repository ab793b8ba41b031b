// PLAY: a cloud session (SessionOut) with its status polled (GET /sessions/{id}, which also keeps
// its lease alive), a button that opens the stream URL, and "end session" (DELETE
// /sessions/{id}); leaving the screen (B) ends the session too. In local mode it shows the launch
// answer of POST /play/{id}: the store deep link or the executable on the node.
//
//   playView(app, { game, session }) | playView(app, { game, local })

import { ApiError } from '../api.js';
import { clear, cover, h, toast } from '../dom.js';
import { icon } from '../icons.js';

const POLL_MS = 3000;
const ENDED = new Set(['terminated', 'ended', 'failed', 'expired']);

export function playView(app, payload) {
  const game = payload.game ?? {};
  if (payload.local) return localView(app, game, payload.local);
  let session = payload.session;
  const status = h('p', { class: 'session-status', id: 'session-status', role: 'status' });
  const details = h('dl', { class: 'session-details' });
  const open = h('button', { class: 'btn btn-play is-ready', id: 'open-stream', dataset: { focus: '', autofocus: '' }, onclick: () => openStream() }, icon('play'), 'open stream');
  const end = h('button', { class: 'btn btn-danger', id: 'end-session', dataset: { focus: '' }, onclick: () => endSession() }, icon('stop'), 'end session');
  const el = h(
    'section',
    { class: 'view view-play' },
    h('div', { class: 'game-cover' }, cover(app.api.url(game.cover_url), game.name ?? '', 'cover cover-large')),
    h('div', { class: 'game-info' }, h('p', { class: 'eyebrow' }, 'cloud session'), h('h1', { class: 'game-name' }, game.name ?? 'game'), status, details, h('div', { class: 'actions' }, open, end)),
  );
  let timer = null;
  let ending = false;

  function render() {
    el.dataset.status = session.status;
    status.textContent = ENDED.has(session.status) ? `session ${session.status}` : session.status === 'active' ? 'streaming: the session is live' : 'starting your session…';
    status.className = `session-status status-${session.status}`;
    clear(details).append(
      h('dt', {}, 'session'),
      h('dd', { id: 'session-id' }, String(session.id)),
      h('dt', {}, 'status'),
      h('dd', {}, session.status),
      h('dt', {}, 'stream'),
      h('dd', { class: 'mono' }, session.stream_url ? new URL(session.stream_url).origin : 'not yet'),
    );
    open.disabled = !session.stream_url || ENDED.has(session.status);
    end.textContent = '';
    end.append(icon(ENDED.has(session.status) ? 'retry' : 'stop'), ENDED.has(session.status) ? 'back to the game' : 'end session');
  }

  function openStream() {
    if (!session.stream_url) return;
    // The stream URL carries a short-lived session token: open it, never show or log it.
    window.open(session.stream_url, '_blank', 'noopener,noreferrer');
  }

  async function poll() {
    timer = null;
    try {
      session = await app.api.get(`/sessions/${session.id}`);
      render();
    } catch (e) {
      if (e instanceof ApiError && e.status === 404) {
        session = { ...session, status: 'ended' };
        render();
      }
    }
    if (!ENDED.has(session.status) && !ending) timer = setTimeout(poll, POLL_MS);
  }

  async function endSession() {
    if (ending) return;
    if (ENDED.has(session.status)) return app.go('ended', game);
    ending = true;
    clearTimeout(timer);
    try {
      session = await app.api.del(`/sessions/${session.id}`);
      toast('session ended', 'ok');
    } catch (e) {
      toast(e instanceof ApiError && e.network ? 'offline: the session will end when its lease runs out' : `could not end the session: ${e.message}`, 'error');
    }
    app.go('ended', game);
  }

  // Closing the launcher (or the TV) ends the session too, instead of holding a seat until its lease runs out.
  const onHide = () => {
    if (!ending && !ENDED.has(session.status)) app.api.beacon('DELETE', `/sessions/${session.id}`);
  };
  window.addEventListener('pagehide', onHide);

  render();
  timer = setTimeout(poll, POLL_MS);
  return {
    el,
    onBack: endSession,
    refresh: () => poll(),
    dispose() {
      clearTimeout(timer);
      timer = null;
      ending = true;
      window.removeEventListener('pagehide', onHide);
    },
  };
}

function localView(app, game, local) {
  const target = local.launch?.target ?? local.deep_link ?? local.executable_path ?? local.install_path;
  const isLink = local.launch?.kind === 'deep_link';
  const go = h(
    'button',
    {
      class: 'btn btn-play is-ready',
      id: 'launch-local',
      dataset: { focus: '', autofocus: '' },
      onclick: () => {
        if (isLink) window.open(target, '_self');
        else toast('start it on that console: the path is shown above', 'info');
      },
    },
    icon('play'),
    isLink ? 'launch' : 'ok',
  );
  const back = h('button', { class: 'btn btn-quiet', id: 'local-back', dataset: { focus: '' }, onclick: () => app.go('back', game) }, 'back');
  const el = h(
    'section',
    { class: 'view view-play view-local', dataset: { status: 'local' } },
    h('div', { class: 'game-cover' }, cover(app.api.url(game.cover_url), game.name ?? '', 'cover cover-large')),
    h(
      'div',
      { class: 'game-info' },
      h('p', { class: 'eyebrow' }, 'local launch'),
      h('h1', { class: 'game-name' }, game.name ?? 'game'),
      h('p', { class: 'session-status' }, isLink ? 'ready to launch through the store client on this device' : 'installed on a console of your organization'),
      h(
        'dl',
        { class: 'session-details' },
        h('dt', {}, isLink ? 'link' : 'program'),
        h('dd', { class: 'mono', id: 'local-target' }, target),
        h('dt', {}, 'console'),
        h('dd', {}, `#${local.node_id}${local.node_online ? ' · online' : ' · offline'}`),
      ),
      h('div', { class: 'actions' }, go, back),
    ),
  );
  return { el, onBack: () => app.go('back', game) };
}
