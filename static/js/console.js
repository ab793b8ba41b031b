// Shared bits of the console pages: the organization picker (remembered per tab) and the
// platform-admin user lookup used to add members by name.
//
//   const pick = orgPicker(ctx, (org) => load(org));   // main.append(pick);
import { api, apiUrl } from './api.js';
import { h, field } from './ui.js';

export function orgPicker(ctx, onChange, { label = 'Organization', orgs = ctx.adminOrgs } = {}) {
  let saved = null;
  try { saved = Number(sessionStorage.getItem('edgeplane-org')); } catch { /* no storage */ }
  const sel = h('select', { name: 'org' }, orgs.map((o) => h('option', { value: String(o.id), selected: o.id === saved }, `${o.name} (${o.slug})`)));
  const f = field(label, sel);
  f.classList.add('org-pick');
  const current = () => orgs.find((o) => String(o.id) === sel.value) || null;
  sel.addEventListener('change', () => {
    try { sessionStorage.setItem('edgeplane-org', sel.value); } catch { /* no storage */ }
    onChange(current());
  });
  f.current = current;
  f.select = (id) => { sel.value = String(id); sel.dispatchEvent(new Event('change')); };
  queueMicrotask(() => onChange(current()));
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
