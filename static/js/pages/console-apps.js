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
  main.append(pageHead('App tiles', 'What the launcher shows, in this order. Chart and game tiles are added automatically.'), wrap, form);

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
    tbody.querySelector(`[data-key="${CSS.escape(a.id)}"] [data-move="${dir}"]`)?.focus();
  }
  async function load() {
    const all = await api.get('/apps');
    // Only real app rows are editable here (not chart-/game- tiles built from other tables).
    rows = all.filter((t) => t.chart_rank === null && !/^chart-|^game-/.test(t.id)).sort((a, b) => a.sort_order - b.sort_order || a.id.localeCompare(b.id));
    keyed(tbody, rows, (a) => a.id, (a) => {
      const en = h('input', { type: 'checkbox', 'aria-label': `${a.name} enabled` });
      en.addEventListener('change', () => act(en, async () => { await put(en.closest('tr').app, { enabled: en.checked }); await load(); }, { ok: `${a.name} ${en.checked ? 'enabled' : 'disabled'}` }));
      const up = h('button', { type: 'button', class: 'btn small', 'aria-label': `Move ${a.name} up`, dataset: { move: '-1' } }, '↑');
      const down = h('button', { type: 'button', class: 'btn small', 'aria-label': `Move ${a.name} down`, dataset: { move: '1' } }, '↓');
      up.addEventListener('click', () => act(up, () => move(up.closest('tr').app, -1)));
      down.addEventListener('click', () => act(down, () => move(down.closest('tr').app, 1)));
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
