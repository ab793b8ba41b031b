// #/console/charts — the daily Top 10 (date picker, optional org for install/owned flags) and,
// for platform admins, "Refresh now" plus the recent scrape runs.
import { api } from '../api.js';
import { h, keyed, pageHead, table, td, act, setText, badge, fill, fmtDate, field } from '../ui.js';
import { coverSrc } from '../console.js';

export async function render(main, _p, ctx) {
  const date = h('input', { type: 'date', name: 'date', max: new Date().toISOString().slice(0, 10) });
  const orgSel = h('select', { name: 'org' }, h('option', { value: '' }, 'Public chart (no org)'), ctx.orgs.filter((o) => o.role !== 'platform_admin').map((o) => h('option', { value: String(o.id) }, o.name)));
  const refreshBtn = h('button', { type: 'button', class: 'btn primary', hidden: !ctx.isAdmin }, 'Refresh now');
  const { wrap, tbody } = table([h('th', { scope: 'col', class: 'num' }, '#'), { sr: 'Cover' }, 'Game', 'Steam app', 'Ready', 'Owned'], { caption: 'Top 10' });
  const info = h('p', { class: 'muted small' });
  const empty = h('p', { class: 'empty' }, 'No chart for this date yet.');
  const runsNote = h('p', { class: 'muted small' });
  const runs = table(['Date', 'Trigger', 'Source', 'Status', 'Started', 'Error'], { caption: 'Chart runs' });
  const runsCard = h('section', { class: 'card', 'aria-labelledby': 'runs-h', hidden: !ctx.isAdmin }, h('h2', { id: 'runs-h' }, 'Recent runs'), runsNote, runs.wrap);
  main.append(pageHead('Top 10 chart', 'The most played games of the day, from Steam Charts.', refreshBtn),
    h('div', { class: 'toolbar' }, field('Date', date), field('Organization', orgSel)), info, wrap, empty, runsCard);
  date.addEventListener('change', () => load());
  orgSel.addEventListener('change', () => load());
  refreshBtn.addEventListener('click', () => act(refreshBtn, async () => {
    setText(refreshBtn, 'Refreshing…');
    try {
      const r = await api.post('/charts/top10/refresh');
      setText(info, `Refreshed: ${r.status}${r.source ? ` from ${r.source}` : ''} for ${r.chart_date}.`);
    } finally { setText(refreshBtn, 'Refresh now'); }
    await load();
  }, { ok: 'Chart refreshed' }));

  async function load() {
    const params = new URLSearchParams();
    if (date.value) params.set('date', date.value);
    if (orgSel.value) params.set('org_id', orgSel.value);
    const list = await api.get(`/charts/top10${params.size ? `?${params}` : ''}`);
    keyed(tbody, list, (e) => `${e.chart_date}-${e.rank}`, (e) => {
      const img = h('img', { class: 'cover', alt: '', loading: 'lazy' });
      img.addEventListener('error', () => img.removeAttribute('src'));
      const url = coverSrc(e.cover_url || e.game?.cover_url);
      if (url) img.src = url;
      return h('tr', {}, h('td', { class: 'num', 'data-label': 'Rank' }, h('b', {}, String(e.rank))), h('td', { 'data-label': 'Cover' }, img),
        td('Game', h('b', {}, e.game?.name || e.name), h('br'), h('span', { class: 'muted small' }, e.game?.slug || '')),
        td('Steam app', e.steam_appid ? h('code', {}, String(e.steam_appid)) : '—'),
        td('Ready', badge(e.install_ready ? 'installed' : 'not installed', e.install_ready ? 'ok' : '')),
        td('Owned', badge(e.owned ? 'owned' : '—', e.owned ? 'ok' : '')));
    });
    empty.hidden = list.length > 0;
    wrap.hidden = list.length === 0;
    if (list[0] && !info.textContent.startsWith('Refreshed')) setText(info, `Chart of ${list[0].chart_date}`);
    if (ctx.isAdmin) {
      const rr = await api.get('/charts/runs?limit=10').catch(() => null);
      const r = Array.isArray(rr) ? rr : rr?.runs || [];
      if (rr?.next_retry_at) setText(runsNote, `A failed run is retried automatically at ${fmtDate(rr.next_retry_at)}.`);
      keyed(runs.tbody, r, (x) => x.id, (x) => h('tr', {}, td('Date', x.chart_date), td('Trigger', x.trigger), td('Source', x.source || '—'),
        td('Status', badge(x.status, x.status === 'ok' ? 'ok' : x.status === 'failed' ? 'bad' : 'info')), td('Started', fmtDate(x.started_at)), td('Error', x.error || '')));
      runsCard.hidden = r.length === 0;
    }
  }
  fill(info);
  await load();
}
