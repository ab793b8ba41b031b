// #/console/metrics — charts of what the platform records (GET /metrics/series): requests by
// status, failed sign-ins, play sessions by outcome, node heartbeats, recordings. Platform admins
// see every metric (all orgs or one); org owners/admins see their org's play sessions and heartbeats.
// Drawn as plain SVG (no chart library: nothing else fits the strict CSP without a build step),
// each chart with a text summary for screen readers and its numbers in a table under "Data".
import { api } from '../api.js';
import { h, fill, pageHead, segmented, setText, fmtBytes } from '../ui.js';

const SPLIT = { 'http.requests': 'status', 'play.sessions': 'outcome', 'dvr.recordings': 'event', 'auth.login_failures': 'product', 'dvr.stored_bytes': 'driver' };
const SVG = 'http://www.w3.org/2000/svg';
const W = 640, H = 180, PAD = { l: 44, r: 8, t: 10, b: 22 };

function svg(tag, attrs = {}, ...kids) {
  const el = document.createElementNS(SVG, tag);
  for (const [k, v] of Object.entries(attrs)) el.setAttribute(k, String(v));
  el.append(...kids);
  return el;
}

const fmtValue = (unit, v) => (unit === 'bytes' ? fmtBytes(v) : Number.isInteger(v) ? v.toLocaleString() : v.toFixed(1));
function fmtTick(iso, range) {
  const d = new Date(iso);
  return range === '24h' ? d.toLocaleString([], { weekday: 'short', hour: '2-digit', minute: '2-digit' }) : d.toLocaleDateString([], { month: 'short', day: 'numeric' });
}

/** One line per series (at most 5; the rest summed as "other"), a y axis from 0 to the max. */
export function lineChart(data, { unit, range, title }) {
  const top = data.series.slice(0, 4);
  const rest = data.series.slice(4);
  if (rest.length) top.push({ key: 'other', total: rest.reduce((a, s) => a + s.total, 0), points: rest[0].points.map((p, i) => ({ t: p.t, v: rest.reduce((a, s) => a + s.points[i].v, 0) })) });
  const n = top[0]?.points.length ?? 0;
  const max = Math.max(1, ...top.flatMap((s) => s.points.map((p) => p.v)));
  const x = (i) => PAD.l + (n <= 1 ? 0 : (i * (W - PAD.l - PAD.r)) / (n - 1));
  const y = (v) => H - PAD.b - (v / max) * (H - PAD.t - PAD.b);
  const summary = top.length
    ? `${title}, ${range}: ${top.map((s) => `${s.key || 'all'} ${fmtValue(unit, s.total)}`).join(', ')}. Peak ${fmtValue(unit, max)} per bucket.`
    : `${title}, ${range}: nothing recorded.`;
  const chart = svg('svg', { viewBox: `0 0 ${W} ${H}`, class: 'chart', role: 'img', 'aria-label': summary },
    svg('line', { x1: PAD.l, x2: W - PAD.r, y1: y(0), y2: y(0), class: 'axis' }),
    svg('line', { x1: PAD.l, x2: W - PAD.r, y1: y(max), y2: y(max), class: 'grid' }),
    svg('text', { x: PAD.l - 6, y: y(max) + 4, class: 'tick', 'text-anchor': 'end' }, fmtValue(unit, max)),
    svg('text', { x: PAD.l - 6, y: y(0) + 4, class: 'tick', 'text-anchor': 'end' }, '0'),
    n ? svg('text', { x: PAD.l, y: H - 4, class: 'tick' }, fmtTick(top[0].points[0].t, range)) : '',
    n ? svg('text', { x: W - PAD.r, y: H - 4, class: 'tick', 'text-anchor': 'end' }, fmtTick(top[0].points[n - 1].t, range)) : '',
    ...top.map((s, k) => svg('polyline', { class: `line s${k}`, fill: 'none', points: s.points.map((p, i) => `${x(i).toFixed(1)},${y(p.v).toFixed(1)}`).join(' ') })));
  const legend = h('ul', { class: 'legend' }, top.map((s, k) => h('li', {}, h('span', { class: `swatch s${k}`, 'aria-hidden': 'true' }), `${s.key || 'all'} · ${fmtValue(unit, s.total)}`)));
  const rows = top[0]?.points.map((p, i) => h('tr', {}, h('th', { scope: 'row' }, fmtTick(p.t, range)), top.map((s) => h('td', {}, fmtValue(unit, s.points[i].v))))) ?? [];
  const dataTable = h('details', { class: 'chart-data' }, h('summary', {}, 'Data'),
    h('div', { class: 'table-wrap', tabindex: '0', role: 'region', 'aria-label': `${title} data` },
      h('table', { class: 'tbl' }, h('thead', {}, h('tr', {}, h('th', { scope: 'col' }, 'Time'), top.map((s) => h('th', { scope: 'col' }, s.key || 'all')))), h('tbody', {}, rows))));
  return h('div', {}, chart, legend, dataTable);
}

export async function render(main, _p, ctx) {
  const { metrics } = await api.get('/metrics/catalog');
  const orgSel = h('select', { name: 'org', 'aria-label': 'Organization' },
    ctx.isAdmin ? h('option', { value: '' }, 'All organizations') : null,
    ctx.adminOrgs.map((o) => h('option', { value: String(o.id) }, o.name)));
  let range = '24h';
  const seg = segmented('Time range', [['24h', 'Last 24 hours'], ['7d', '7 days'], ['30d', '30 days']], range, (v) => { range = v; load(); });
  const grid = h('div', { class: 'chart-grid' });
  const err = h('p', { class: 'form-error', role: 'alert' });
  orgSel.addEventListener('change', () => load());
  main.append(pageHead('Metrics', ctx.isAdmin ? 'What the platform did, by hour or day.' : 'Play sessions and node heartbeats of your organization.'),
    h('div', { class: 'toolbar row' }, orgSel, seg), err, grid);

  let gen = 0;
  async function load() {
    const my = ++gen;
    setText(err, '');
    const org = orgSel.value;
    // Org admins read org-scoped metrics only; a platform admin's org filter narrows those too.
    const visible = metrics.filter((m) => (ctx.isAdmin && !org) || m.org_scoped);
    const cards = visible.map((m) => {
      const body = h('div', { class: 'chart-body', 'aria-busy': 'true' }, h('p', { class: 'muted small' }, 'Loading…'));
      const total = h('span', { class: 'chart-total' });
      return { m, body, total, card: h('section', { class: 'card chart-card', 'aria-labelledby': `chart-${m.name.replace('.', '-')}` },
        h('div', { class: 'row chart-head' }, h('h2', { id: `chart-${m.name.replace('.', '-')}`, class: 'h3' }, m.title), total), body) };
    });
    fill(grid, cards.map((c) => c.card));
    await Promise.all(cards.map(async ({ m, body, total }) => {
      const q = new URLSearchParams({ metric: m.name, range });
      if (org) q.set('org_id', org);
      if (SPLIT[m.name]) q.set('by', SPLIT[m.name]);
      try {
        const data = await api.get(`/metrics/series?${q}`);
        if (my !== gen) return;
        setText(total, fmtValue(m.unit, data.total));
        fill(body, lineChart(data, { unit: m.unit, range, title: m.title }));
      } catch (e) {
        if (my !== gen) return;
        fill(body, h('p', { class: e.status === 503 ? 'muted' : 'form-error' }, e.message));
      } finally {
        body.removeAttribute('aria-busy');
      }
    }));
  }
  if (!ctx.isAdmin && ctx.adminOrgs.length === 0) { fill(grid, h('p', { class: 'empty' }, 'Metrics are for platform admins and org owners or admins.')); return; }
  await load();
}
