// PLAY: a cloud session (SessionOut) with its status polled (GET /sessions/{id}, which also keeps
// its lease alive), a button that opens the stream URL, and "end session" (DELETE
// /sessions/{id}); leaving the screen (B) ends the session too. A `queued` session (every seat was
// taken) is the line: "you are number N in line, about M minutes", polled every
// `poll_after_seconds` (the poll is its keep-alive), "leave the line" (B or the button, DELETE); when
// the seat comes the screen turns into the play screen by itself. In local mode it shows the launch
// answer of POST /play/{id}: the store deep link or the executable on the node.
// The play screen says what a person on a sofa needs: the game, where it runs (the console's name
// when the player may read it — org admins — and the region), since when, and what B and the
// buttons do; the session id stays available for support, small, at the bottom (#session-id).
//
//   playView(app, { game, session }) | playView(app, { game, local })

import { ApiError } from '../api.js';
import { clear, cover, h, toast } from '../dom.js';
import { icon } from '../icons.js';
import { focusFirst } from '../focus.js';

const POLL_MS = 3000;
const ENDED = new Set(['terminated', 'ended', 'failed', 'expired']);

/** "about 4 minutes" from the server's rough estimate. */
export function waitLabel(etaSeconds) {
  if (typeof etaSeconds !== 'number' || !(etaSeconds >= 0)) return 'a short while';
  if (etaSeconds < 60) return 'less than a minute';
  const m = Math.round(etaSeconds / 60);
  return `about ${m} minute${m === 1 ? '' : 's'}`;
}

export function playView(app, payload) {
  const game = payload.game ?? {};
  if (payload.local) return localView(app, game, payload.local);
  let session = payload.session;
  const status = h('p', { class: 'session-status', id: 'session-status', role: 'status' });
  const details = h('dl', { class: 'session-details' });
  const open = h('button', { class: 'btn btn-play is-ready', id: 'open-stream', dataset: { focus: '', autofocus: '' }, onclick: () => openStream() }, icon('play'), 'open stream');
  const end = h('button', { class: 'btn btn-danger', id: 'end-session', dataset: { focus: '' }, onclick: () => endSession() }, icon('stop'), 'end session');
  const leave = h('button', { class: 'btn btn-danger', id: 'leave-queue', dataset: { focus: '', autofocus: '' }, onclick: () => endSession() }, icon('stop'), 'leave the line');
  const eyebrow = h('p', { class: 'eyebrow' }, 'cloud session');
  const ref = h('p', { class: 'session-ref' });
  const el = h(
    'section',
    { class: 'view view-play' },
    h('div', { class: 'game-cover' }, cover(app.api.url(game.cover_url), game.name ?? '', 'cover cover-large')),
    h('div', { class: 'game-info' }, eyebrow, h('h1', { class: 'game-name' }, game.name ?? 'game'), status, details, h('div', { class: 'actions' }, open, end, leave), ref),
  );
  let timer = null;
  let ending = false;
  let wasQueued = session.status === 'queued';
  /** The console's name, once read (org admins may read it; members see the region only). */
  let nodeName = null;
  let nodeAsked = null;

  function renderQueue() {
    el.dataset.status = 'queued';
    eyebrow.textContent = 'waiting for a seat';
    const n = session.position ?? '?';
    status.textContent = `you are number ${n} in line, ${waitLabel(session.eta_seconds)}`;
    status.className = 'session-status status-queued';
    status.id = 'session-status';
    clear(details).append(
      h('dt', {}, 'place in line'),
      h('dd', { id: 'queue-position' }, String(n)),
      h('dt', {}, 'wait'),
      h('dd', { id: 'queue-eta' }, waitLabel(session.eta_seconds)),
      h('dt', {}, 'leave'),
      h('dd', {}, 'press B or “leave the line”: your place is given up'),
    );
    open.hidden = true;
    end.hidden = true;
    leave.hidden = false;
    clear(ref);
  }

  /** Reads the console's name once per node, for those allowed to (GET /orgs/{org}/nodes/{id} is for org admins). */
  function askNodeName() {
    const org = app.session?.org;
    const mayRead = app.session?.role === 'admin' || ['owner', 'admin', 'platform_admin'].includes(org?.role);
    if (!mayRead || !session.node_id || nodeAsked === session.node_id) return;
    nodeAsked = session.node_id;
    app.api.get(`/orgs/${session.org_id}/nodes/${session.node_id}`).then(
      (n) => {
        if (typeof n?.name === 'string' && n.id === session.node_id) {
          nodeName = n.name;
          if (session.status !== 'queued') render();
        }
      },
      () => {},
    );
  }

  function render() {
    if (session.status === 'queued') return renderQueue();
    open.hidden = false;
    end.hidden = false;
    leave.hidden = true;
    eyebrow.textContent = 'cloud session';
    el.dataset.status = session.status;
    const ended = ENDED.has(session.status);
    status.textContent = ended ? `session ${session.status}` : session.status === 'active' ? 'streaming: the session is live' : 'starting your session…';
    status.className = `session-status status-${session.status}`;
    askNodeName();
    clear(details).append(
      h('dt', {}, 'where'),
      h('dd', { id: 'session-where' }, whereLabel(session, nodeName)),
      h('dt', {}, ended ? 'started' : 'since'),
      h('dd', { id: 'session-since' }, sinceLabel(session.created_at)),
      h('dt', {}, ended ? 'next' : 'to stop'),
      h('dd', { id: 'session-hint' }, ended ? 'press B or “back to the game”' : 'press B or “end session”, back to the game'),
    );
    // For support: small, at the bottom; the stream's host says which console answers.
    clear(ref).append('session id ', h('span', { class: 'mono', id: 'session-id' }, String(session.id)), session.stream_url ? ` · stream from ${new URL(session.stream_url).host}` : '');
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
      if (wasQueued && session.status !== 'queued') {
        wasQueued = false;
        // The seat came while the player waited: they are on the play screen now, focus on "open".
        if (!ENDED.has(session.status)) toast('your seat is ready', 'ok');
        focusFirst([el], ENDED.has(session.status) ? '#end-session' : '#open-stream');
      }
    } catch (e) {
      if (e instanceof ApiError && e.status === 404) {
        session = { ...session, status: 'ended' };
        render();
      }
    }
    if (!ENDED.has(session.status) && !ending) timer = setTimeout(poll, nextPollMs());
  }

  // A waiter polls as often as the server asks: the poll is what keeps its place in line.
  function nextPollMs() {
    const ask = session.status === 'queued' ? Number(session.poll_after_seconds) * 1000 : NaN;
    return Number.isFinite(ask) && ask > 0 ? Math.min(ask, POLL_MS * 5) : POLL_MS;
  }

  async function endSession() {
    if (ending) return;
    if (ENDED.has(session.status)) return app.go('ended', game);
    ending = true;
    clearTimeout(timer);
    try {
      const wasWaiting = session.status === 'queued';
      session = await app.api.del(`/sessions/${session.id}`);
      toast(wasWaiting ? 'you left the line' : 'session ended', 'ok');
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
  timer = setTimeout(poll, nextPollMs());
  return {
    el,
    focus: session.status === 'queued' ? '#leave-queue' : '#open-stream',
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

/** "us-east · living-room-pc", or what is known of it yet. */
export function whereLabel(session, nodeName) {
  if (!session.node_id) return session.region ? `${session.region}, finding a console…` : 'finding a console…';
  const name = nodeName ?? `console #${session.node_id}`;
  return session.region ? `${session.region} · ${name}` : name;
}

/** "21:04 (12 minutes ago)" in the TV's own clock and language. */
export function sinceLabel(iso, now = Date.now()) {
  const t = Date.parse(iso);
  if (!Number.isFinite(t)) return 'just now';
  const clock = new Date(t).toLocaleTimeString([], { hour: '2-digit', minute: '2-digit' });
  const m = Math.floor(Math.max(0, now - t) / 60000);
  const ago = m < 1 ? 'just now' : m < 60 ? `${m} minute${m === 1 ? '' : 's'} ago` : `${Math.floor(m / 60)} h ${m % 60} min ago`;
  return `${clock} (${ago})`;
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
