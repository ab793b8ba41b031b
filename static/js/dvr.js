// Shared DVR helpers for the recorder pages: subscription actions (owner routes and admin
// sub_id routes), status badges, thumbnails and canonical links (dvr-api §3.2–§4.3).
//
//   const b = statusBadge(sub);            // REC / waiting / error ...
//   await subAction(sub, 'pause', ctx);    // owner route, or admin route for others' subs
import { api, apiUrl, seg } from './api.js';
import { h, badge, statusKind } from './ui.js';

export const DRIVERS = ['chaturbate', 'stripchat', 'bongacams', 'cam4', 'camsoda'];
export const srcKey = (s) => `${s.driver}/${s.username}`;
export const srcHref = (s) => `#/source/${seg(s.driver)}/${seg(s.username)}`;
export const subPath = (s) => `/api/subscriptions/${seg(s.driver)}/${seg(s.username)}`;

/** Owner route for one's own subscription; admins acting on someone else's use the sub_id routes. */
export function subAction(sub, action, ctx) {
  // Restart exists only as an admin route.
  const own = action !== 'restart' && (!ctx.user || sub.user_id === ctx.user.id);
  if (own) return action === 'delete' ? api.del(subPath(sub)) : api.post(`${subPath(sub)}/${action}`);
  const base = `/api/admin/subscriptions/${sub.sub_id}`;
  return action === 'delete' ? api.del(base) : api.post(`${base}/${action}`);
}

export const statusLabel = { recording: 'Recording', waiting: 'Waiting', starting: 'Starting', error: 'Error', inactive: 'Inactive' };
export function statusBadge(s, { duration = true } = {}) {
  if (s.recording_state === 'recording' || s.status === 'recording') return badge(`REC${duration && s.session_duration ? ` ${s.session_duration}` : ''}`, 'rec');
  return badge(statusLabel[s.status] || s.status || s.worker_state, statusKind[s.status] || '');
}
export function thumbUrl(s, live) {
  const bust = live ? `?t=${Math.floor(Date.now() / 30000)}` : '';
  return apiUrl(`/thumbnails/${seg(s.driver)}/${seg(s.username)}.jpg${bust}`);
}
/** A 16:9 thumbnail box; a failing image is hidden (placeholder text shows instead). Not
 * `loading="lazy"`: Chromium never loads a lazy image while it is hidden, so the box stayed "No preview". */
export function thumbBox(s, live) {
  const img = h('img', { alt: '', decoding: 'async' });
  const ph = h('span', {}, 'No preview');
  img.addEventListener('error', () => { img.hidden = true; ph.hidden = false; });
  img.addEventListener('load', () => { img.hidden = false; ph.hidden = true; });
  img.hidden = true;
  const box = h('div', { class: 'thumb' }, img, ph);
  box.refresh = (sub, isLive) => {
    const url = thumbUrl(sub, isLive);
    if (img.dataset.src !== url) { img.dataset.src = url; img.src = url; }
  };
  box.refresh(s, live);
  return box;
}
/** Filter key of the subscriptions page (recording_state || worker_state || idle). */
export const filterKey = (s) => s.recording_state || s.worker_state || 'idle';
