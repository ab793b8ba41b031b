// #/console/apps — the launcher's TV-tab tiles (platform admins): order (move up/down or edit the
// number), enable/disable, add and delete app rows.
import { api } from '../api.js';
import { h, keyed, field, pageHead, table, td, act, confirmDialog, setText, toast } from '../ui.js';

export async function render(main) {
  const id = h('input', { name: 'id', placeholder: 'steam_big_picture', autocapitalize: 'none', spellcheck: 'false' });
  const name = h('input', { name: 'name', placeholder: 'Steam Big Picture' });
  const ml = h('input', { name: 'moonlight_name', placeholder: 'as Moonlight knows it' });
  const fId = field('Id', id); const fName = field('Name', name); const fMl = field('Moonlight name', ml);
  const addBtn = h('button', { type: 'submit', class: 'btn primary' }, 'Add tile');
  const form = h('form', { class: 'card', novalidate: true, 'aria-labelledby': 'na-h' }, h('h2', { id: 'na-h' }, 'New app tile'), h('div', { class: 'form-row' }, fId, fName, fMl, addBtn));
  const { wrap, tbody } = table(['Order', 'Tile', 'Moonlight name', 'Enabled', h('th', { scope: 'col', class: 'num' }, 'Actions')], { caption: 'App tiles' });
  main.append(pageHead('App tiles', 'The apps table: the launcher’s tiles when there is no chart, and the name, order and switch of chart games with the same id.'), wrap, form);

  let rows = [];
  const put = (a, patch) => api.put(`/apps/${encodeURIComponent(a.id)}`, { id: a.id, name: a.name, moonlight_name: a.moonlight_name, enabled: a.enabled, sort_order: a.sort_order, ...patch });
  async function move(a, dir) {
    const i = rows.findIndex((r) => r.id === a.id);
    const j = i + dir;
    if (j < 0 || j >= rows.length) return;
    const b = rows[j];
    // Swap positions; equal sort orders are spread so the swap is visible.
    const ao = a.sort_order === b.sort_order ? b.sort_order + dir : b.sort_order;
    await Promise.all([put(a, { sort_order: ao }), put(b, { sort_order: a.sort_order })]);
    await load();
  }
  async function load() {
    // There is no "list app rows" route: the catalog of a day without a chart is exactly the apps
    // table (console contract §4.3 fallback), so ask for a date long before any chart.
    const all = await api.get('/apps?chart_date=1970-01-01');
    rows = all.filter((t) => t.chart_rank === null).sort((a, b) => a.sort_order - b.sort_order || a.id.localeCompare(b.id));
    keyed(tbody, rows, (a) => a.id, (a) => {
      const en = h('input', { type: 'checkbox', 'aria-label': `${a.name} enabled` });
      en.addEventListener('change', () => act(en, async () => { await put(en.closest('tr').app, { enabled: en.checked }); await load(); }, { ok: `${a.name} ${en.checked ? 'enabled' : 'disabled'}` }));
      const up = h('button', { type: 'button', class: 'btn small', 'aria-label': `Move ${a.name} up`, dataset: { move: '-1' } }, '↑');
      const down = h('button', { type: 'button', class: 'btn small', 'aria-label': `Move ${a.name} down`, dataset: { move: '1' } }, '↓');
      // The row element is kept (keyed) and only moved, so focus can follow the tile it moved.
      up.addEventListener('click', async () => { await act(up, () => move(up.closest('tr').app, -1)); up.focus(); });
      down.addEventListener('click', async () => { await act(down, () => move(down.closest('tr').app, 1)); down.focus(); });
      const del = h('button', { type: 'button', class: 'btn small danger' }, 'Delete');
      del.addEventListener('click', async () => {
        const x = del.closest('tr').app;
        if (!(await confirmDialog(`Delete the ${x.name} tile?`, { ok: 'Delete', danger: true }))) return;
        await act(del, async () => { await api.del(`/apps/${encodeURIComponent(x.id)}`); await load(); }, { ok: `Deleted ${x.name}` });
      });
      const tr = h('tr', {}, td('Order', h('span', { class: 'so' })), td('Tile', h('b', { class: 'nm' }), h('br'), h('code', { class: 'muted' }, a.id)),
        td('Moonlight name', h('span', { class: 'ml' })), td('Enabled', en), h('td', { class: 'actions' }, up, down, del));
      tr.en = en;
      return tr;
    }, (tr, a) => {
      tr.app = a;
      setText(tr.querySelector('.so'), a.sort_order);
      setText(tr.querySelector('.nm'), a.name);
      setText(tr.querySelector('.ml'), a.moonlight_name);
      tr.en.checked = a.enabled;
    });
  }
  form.addEventListener('submit', async (e) => {
    e.preventDefault();
    [fId, fName, fMl].forEach((f) => f.setError(''));
    if (!id.value.trim()) { fId.setError('Enter an id.'); id.focus(); return; }
    if (!name.value.trim()) { fName.setError('Enter a name.'); name.focus(); return; }
    const last = rows.length ? rows[rows.length - 1].sort_order + 1 : 1;
    await act(addBtn, async () => {
      try {
        await api.post('/apps', { id: id.value.trim(), name: name.value.trim(), moonlight_name: ml.value.trim() || name.value.trim(), enabled: true, sort_order: last });
      } catch (er) {
        if (er.status === 400 || er.status === 409) { (/moonlight/i.test(er.message) ? fMl : /name/i.test(er.message) ? fName : fId).setError(er.message); return; }
        throw er;
      }
      toast.ok(`Added ${name.value.trim()}`);
      form.reset();
      await load();
    });
  });
  await load();
}
