// Shared bits of the console pages: the organization picker (the last choice remembered in this
// browser, else an org with something to show) and the
// platform-admin user lookup used to add members by name.
//
//   const pick = orgPicker(ctx, (org) => load(org));   // main.append(pick);
import { api, apiUrl } from './api.js';
import { h, field } from './ui.js';

const ORG_KEY = 'edgeplane-org';
/** How many orgs the picker asks about their nodes when it has no remembered choice. */
const PROBE_AT_MOST = 8;

/** The default probe: an org's cluster nodes (the nodes page takes the answer as its first load). */
const NODES_PROBE = { what: 'cluster nodes', load: (o) => api.get(`/orgs/${o.id}/nodes`), shows: (n) => Array.isArray(n) && n.length > 0 };

/**
 * What a probe found, kept for this page's life (hash navigation keeps it): the next console page
 * starts on the same org without asking the API again. Keyed by the probe and the orgs it asked.
 */
const probed = new Map();

/**
 * The org the picker starts on, and why: the last one chosen in this browser (localStorage); else
 * the first (by name) that has something to show (`probe`: cluster nodes by default); else the
 * caller's own org (a real membership, not a platform admin's view); else the first by name.
 * `answer` is the probe's fresh answer for the org chosen (undefined when it was not asked now).
 */
async function startingOrg(orgs, probe) {
  let saved = null;
  try { saved = Number(localStorage.getItem(ORG_KEY)); } catch { /* no storage */ }
  const last = orgs.find((o) => o.id === saved);
  if (last) return { org: last, why: 'your last choice' };
  if (orgs.length > 1 && probe) {
    const some = orgs.slice(0, PROBE_AT_MOST);
    const key = `${probe.what}:${some.map((o) => o.id)}`;
    if (probed.has(key)) {
      const id = probed.get(key);
      const org = some.find((o) => o.id === id);
      if (org) return { org, why: `the first with ${probe.what}` };
    } else {
      const answers = await Promise.all(some.map((o) => probe.load(o).catch(() => null)));
      const i = answers.findIndex((a) => a != null && probe.shows(a));
      probed.set(key, i >= 0 ? some[i].id : null);
      if (i >= 0) return { org: some[i], why: `the first with ${probe.what}`, answer: answers[i] };
    }
  }
  const own = orgs.find((o) => o.role && o.role !== 'platform_admin');
  if (own && orgs.length > 1) return { org: own, why: 'your organization' };
  return { org: orgs[0] ?? null, why: orgs.length > 1 ? 'the first by name' : '' };
}

/**
 * An organization <select>. It starts on `startingOrg`'s choice and says which and why under the
 * field; a choice the user makes is remembered (localStorage) for the next page and visit.
 * `onChange(org, answer)`: `answer` is the probe's answer for that org when the picker just asked
 * for it (the nodes page shows it instead of asking again), else undefined.
 * `probe: null` skips asking the API (pages for plain members, who cannot list nodes).
 * A closed <select> cannot wrap, so a face (`.org-face`, app.css) over it shows the chosen name,
 * wrapping, with the slug secondary; the select fills the same grid cell, grows with the face and
 * stays what is clicked, focused and read. Forced colours keep the plain select.
 */
export function orgPicker(ctx, onChange, { label = 'Organization', orgs = ctx.adminOrgs, probe = NODES_PROBE } = {}) {
  const sel = h('select', { name: 'org' }, orgs.map((o) => h('option', { value: String(o.id) }, `${o.name} (${o.slug})`)));
  const f = field(label, sel);
  f.classList.add('org-pick');
  // A closed <select> cannot wrap, so a long "Name (slug)" was cut off at 360 px. Over it lies a face
  // showing the chosen org's name (wrapping) with its slug secondary; the select below stays the
  // control (clicks, keys, its name and value for assistive tech) and its options keep "Name (slug)".
  const face = h('span', { class: 'org-face', 'aria-hidden': 'true' }, h('span', { class: 'org-name' }), h('span', { class: 'org-slug' }));
  const box = h('div', { class: 'org-box' });
  sel.replaceWith(box);
  box.append(sel, face);
  const why = h('p', { class: 'muted small org-why', 'aria-live': 'polite' });
  f.append(why);
  const current = () => orgs.find((o) => String(o.id) === sel.value) || null;
  const paint = () => { const o = current(); face.firstChild.textContent = o ? o.name : ''; face.lastChild.textContent = o ? o.slug : ''; };
  paint();
  let picked = false;
  sel.addEventListener('change', () => {
    paint();
    picked = true;
    try { localStorage.setItem(ORG_KEY, sel.value); } catch { /* no storage */ }
    why.textContent = '';
    onChange(current());
  });
  f.current = current;
  f.select = (id) => { sel.value = String(id); sel.dispatchEvent(new Event('change')); };
  // Until the starting org is chosen (the probe may ask the API about several orgs) the field says
  // so; pages hold their forms and empty states until their first onChange (see console-nodes.js).
  f.setAttribute('aria-busy', 'true');
  why.textContent = 'Loading organizations…';
  const settled = () => f.removeAttribute('aria-busy');
  sel.addEventListener('change', settled);
  startingOrg(orgs, probe).then(({ org, why: reason, answer }) => {
    // The user (or a test) chose while the API was asked: their choice stands.
    if (picked) return;
    settled();
    if (org) sel.value = String(org.id);
    paint();
    why.textContent = org && reason ? `Showing ${org.name}: ${reason}.` : '';
    onChange(current(), answer);
  });
  return f;
}

/** Accepts "42" or a username (platform admins can resolve names through /api/users). */
export async function resolveUserId(text, ctx) {
  const t = text.trim();
  if (/^\d+$/.test(t)) return Number(t);
  if (!ctx.isAdmin) throw new Error('Enter the user’s numeric id (only platform admins can look up names).');
  const users = await api.get('/api/users');
  const u = users.find((x) => x.username.toLowerCase() === t.toLowerCase());
  if (!u) throw new Error(`No user named “${t}”.`);
  return u.id;
}
export const ORG_ROLES = ['member', 'admin', 'owner'];

/**
 * Cover image URL usable under the CSP: covers stored by this API are re-pointed at the configured
 * API base (the stored absolute URL may name another host alias); foreign hosts are not loaded.
 */
export function coverSrc(url) {
  if (!url) return null;
  try {
    const u = new URL(url, location.href);
    if (u.pathname.startsWith('/covers/')) return apiUrl(u.pathname);
    const apiOrigin = new URL(apiUrl('/'), location.href).origin;
    return u.origin === location.origin || u.origin === apiOrigin ? u.href : null;
  } catch {
    return null;
  }
}
