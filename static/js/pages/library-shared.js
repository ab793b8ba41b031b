// What the library page and the review queue share: their stylesheet (loaded once, same origin, so
// the strict CSP holds), the names of proof kinds, and a proof's evidence as readable lines.
//
//   useStyles();   h('dl', {}, proofSummary(kind, proof).map(([k, v]) => [h('dt', {}, k), h('dd', {}, v)]))
export const KIND_LABEL = { steam: 'Steam', manual: 'Receipt', epic: 'Epic', gog: 'GOG', xbox: 'Xbox', microsoft: 'Microsoft Store', ea: 'EA' };

export function useStyles() {
  if (document.querySelector('link[data-library-css]')) return;
  const link = document.createElement('link');
  link.rel = 'stylesheet';
  link.href = new URL('../../css/library.css', import.meta.url).href;
  link.dataset.libraryCss = '';
  document.head.append(link);
}

const day = (s) => (s ? String(s).slice(0, 10) : '—');
const bytes = (n) => (typeof n === 'number' ? `${(n / 1048576).toFixed(n >= 1048576 * 10 ? 0 : 1)} MiB` : '—');

/** [label, value] pairs of a proof's evidence, in the order a reviewer reads them. */
export function proofSummary(kind, proof) {
  const p = proof || {};
  switch (kind) {
    case 'manual': {
      const r = p.receipt || {};
      return [['Store', r.store], ['Order number', r.order_id], ['Purchased', day(r.purchased_at)],
        ['Amount', r.amount !== undefined ? `${r.amount}${r.currency ? ` ${r.currency}` : ''}` : '—'], ['Note', r.note || '—']];
    }
    case 'xbox':
    case 'microsoft': {
      const e = p.entitlement || {};
      return [['Product id', e.product_id], ['Entitlement', e.entitlement_id], ['SKU', e.sku_id || '—'], ['Acquired', day(e.acquired_at)]];
    }
    case 'ea': {
      const l = p.license || {};
      return [['Offer', l.offer_id], ['Content id', l.content_id], ['License', l.license_type], ['Granted', day(l.granted_at)], ['Expires', l.expires_at ? day(l.expires_at) : 'never']];
    }
    case 'epic':
    case 'gog': {
      const m = p.manifest || {};
      const x = m.executable || {};
      const ids = kind === 'epic' ? [['App', m.app_name], ['Catalog item', m.catalog_item_id], ['Namespace', m.namespace], ['Version', m.app_version || '—']]
        : [['Product id', m.product_id], ['Build', m.build_id || '—'], ['Version', m.version || '—']];
      return [...ids, ['Installed in', m.install_location], ['Executable', x.path], ['SHA-256', x.sha256], ['Size', bytes(x.size)], ['Modified', day(x.mtime)]];
    }
    case 'steam':
      return [['App id', String(p.appid ?? '—')], ['Playtime', `${Math.round((p.playtime || 0) / 60)} h`]];
    default:
      return Object.entries(p).map(([k, v]) => [k, typeof v === 'object' ? JSON.stringify(v) : String(v)]);
  }
}

/** The review queue's count in the navigation: pending proofs across the orgs the user reviews. */
export async function refreshReviewBadge(ctx) {
  const el = document.getElementById('review-count');
  if (!el) return;
  if (!ctx.user || !ctx.canConsole) { el.hidden = true; return; }
  useStyles();
  const { api } = await import('../api.js');
  let total = 0;
  for (const o of ctx.adminOrgs.slice(0, 20)) {
    try { total += (await api.get(`/orgs/${o.id}/library/pending`)).total; } catch { /* not reviewable any more */ }
  }
  el.textContent = String(total);
  el.hidden = total === 0;
  el.setAttribute('aria-label', `${total} pending`);
}
