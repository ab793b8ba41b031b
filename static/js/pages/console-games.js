// #/console/games — the game catalog (platform admins): search and page through games, create and
// edit them (slug, name, description, rating, external ids per platform) and upload a cover (raw
// image bytes to PUT /games/{id}/cover; the server recognises the format by content).
import { api } from '../api.js';
import { h, keyed, field, pageHead, table, td, act, confirmDialog, setText, fill, toast } from '../ui.js';
import { coverSrc } from '../console.js';

const PAGE = 20;

export async function render(main) {
  let offset = 0;
  const q = h('input', { type: 'search', placeholder: 'Search games', 'aria-label': 'Search games' });
  let timer = 0;
  q.addEventListener('input', () => { clearTimeout(timer); timer = setTimeout(() => { offset = 0; load(); }, 250); });
  const { wrap, tbody } = table([{ sr: 'Cover' }, 'Game', 'Rating', 'External ids', h('th', { scope: 'col', class: 'num' }, 'Actions')], { caption: 'Games' });
  const pager = h('div', { class: 'row mt' });
  const editor = h('section', { class: 'card', 'aria-labelledby': 'ed-h' });
  const newBtn = h('button', { type: 'button', class: 'btn primary', onclick: () => edit(null) }, 'New game');
  main.append(pageHead('Games', 'The catalog every organization draws from.', newBtn),
    h('div', { class: 'toolbar' }, h('div', { class: 'grow' }, q)), wrap, pager, editor);
  editor.hidden = true;

  function coverImg(g) {
    const img = h('img', { class: 'cover', alt: '', loading: 'lazy' });
    img.addEventListener('error', () => { img.removeAttribute('src'); });
    const src = coverSrc(g.cover_url);
    if (src) img.src = src;
    return img;
  }
  let gen = 0;
  async function load() {
    const my = ++gen;
    const params = new URLSearchParams({ limit: String(PAGE), offset: String(offset) });
    if (q.value.trim()) params.set('q', q.value.trim());
    const page = await api.get(`/games?${params}`);
    if (my !== gen) return; // a newer search is in flight
    keyed(tbody, page.items, (g) => g.id, (g) => {
      const cov = h('td', { 'data-label': 'Cover', class: 'cv' });
      const up = h('input', { type: 'file', accept: 'image/png,image/jpeg,image/webp,image/gif,image/avif', class: 'sr-only', 'aria-label': `Cover image for ${g.name}` });
      const upBtn = h('button', { type: 'button', class: 'btn small', onclick: () => up.click() }, 'Upload cover');
      up.addEventListener('change', () => { const f = up.files?.[0]; if (f) uploadCover(upBtn.closest('tr').game, f, upBtn); up.value = ''; });
      const ed = h('button', { type: 'button', class: 'btn small', onclick: () => edit(ed.closest('tr').game) }, 'Edit');
      const del = h('button', { type: 'button', class: 'btn small danger' }, 'Delete');
      del.addEventListener('click', async () => {
        const x = del.closest('tr').game;
        if (!(await confirmDialog(`Delete ${x.name}?`, { ok: 'Delete game', danger: true, body: h('p', { class: 'muted' }, 'Library entries, installs and chart rows of this game go too.') }))) return;
        await act(del, async () => { await api.del(`/games/${x.id}`); await load(); }, { ok: `Deleted ${x.name}` });
      });
      return h('tr', {}, cov, td('Game', h('b', { class: 'nm' }), h('br'), h('span', { class: 'muted small sl' })), td('Rating', h('span', { class: 'rt' })),
        td('External ids', h('span', { class: 'small ex' })), h('td', { class: 'actions' }, ed, upBtn, up, del));
    }, (tr, g) => {
      tr.game = g;
      setText(tr.querySelector('.nm'), g.name);
      setText(tr.querySelector('.sl'), g.slug);
      setText(tr.querySelector('.rt'), g.rating ?? '—');
      setText(tr.querySelector('.ex'), Object.entries(g.external_ids || {}).map(([k, v]) => `${k}: ${v}`).join(', ') || '—');
      const cv = tr.querySelector('.cv');
      if (cv.dataset.url !== (g.cover_url || '')) { cv.dataset.url = g.cover_url || ''; fill(cv, coverImg(g)); }
    });
    const prev = h('button', { type: 'button', class: 'btn small', disabled: offset === 0, onclick: () => { offset = Math.max(0, offset - PAGE); load(); } }, '← Previous');
    const next = h('button', { type: 'button', class: 'btn small', disabled: page.next_offset === null, onclick: () => { offset = page.next_offset; load(); } }, 'Next →');
    fill(pager, prev, h('span', { class: 'muted small' }, page.total ? `${offset + 1}–${offset + page.items.length} of ${page.total}` : 'No games'), next);
  }
  async function uploadCover(g, file, btn) {
    if (file.size > 5 * 1024 * 1024) { toast.error('The image is larger than 5 MiB.', { title: 'Cover not uploaded' }); return; }
    await act(btn, async () => {
      await api.put(`/games/${g.id}/cover`, undefined, { raw: file, contentType: file.type || 'application/octet-stream' });
      await load();
    }, { ok: `Cover of ${g.name} updated`, title: 'Cover not uploaded' });
  }
  function edit(g) {
    const slug = h('input', { name: 'slug', value: g?.slug || '', autocapitalize: 'none', spellcheck: 'false' });
    const name = h('input', { name: 'name', value: g?.name || '' });
    const desc = h('textarea', { name: 'description', rows: 3 });
    desc.value = g?.description || '';
    const rating = h('input', { name: 'rating', type: 'number', min: 0, max: 5, step: '0.1', value: g?.rating ?? '' });
    const fs = { slug: field('Slug', slug, 'Lowercase letters, digits, "_" and "-".'), name: field('Name', name), description: field('Description', desc), rating: field('Rating (0–5)', rating) };
    const ext = h('div', {});
    const addExt = (p = '', v = '') => {
      const pi = h('input', { value: p, placeholder: 'steam', 'aria-label': 'Platform', class: 'pl' });
      const vi = h('input', { value: v, placeholder: '1593500', 'aria-label': 'External id', class: 'ev' });
      const row = h('div', { class: 'form-row mt' }, h('div', { class: 'field' }, pi), h('div', { class: 'field' }, vi), h('button', { type: 'button', class: 'btn small danger', onclick: () => row.remove() }, 'Remove'));
      ext.append(row);
      return pi;
    };
    for (const [p, v] of Object.entries(g?.external_ids || {})) addExt(p, v);
    const err = h('p', { class: 'form-error', role: 'alert' });
    const save = h('button', { type: 'submit', class: 'btn primary' }, g ? 'Save changes' : 'Create game');
    const form = h('form', { novalidate: true }, h('div', { class: 'form-row' }, fs.name, fs.slug, fs.rating), fs.description,
      h('h3', {}, 'External ids'), ext, h('div', { class: 'row mt' }, h('button', { type: 'button', class: 'btn small', onclick: () => addExt().focus() }, 'Add external id')),
      err, h('div', { class: 'row mt' }, save, h('button', { type: 'button', class: 'btn', onclick: () => { editor.hidden = true; newBtn.focus(); } }, 'Cancel')));
    fill(editor, h('h2', { id: 'ed-h' }, g ? `Edit ${g.name}` : 'New game'), form);
    editor.hidden = false;
    name.focus();
    form.addEventListener('submit', async (e) => {
      e.preventDefault();
      Object.values(fs).forEach((f) => f.setError(''));
      setText(err, '');
      const external_ids = {};
      for (const row of ext.children) { const p = row.querySelector('.pl').value.trim(); const v = row.querySelector('.ev').value.trim(); if (p && v) external_ids[p] = v; }
      const body = { slug: slug.value.trim(), name: name.value.trim(), description: desc.value.trim() || null, rating: rating.value === '' ? null : Number(rating.value), external_ids };
      if (!body.name) { fs.name.setError('Enter a name.'); name.focus(); return; }
      if (!body.slug) { fs.slug.setError('Enter a slug.'); slug.focus(); return; }
      await act(save, async () => {
        try {
          if (g) await api.put(`/games/${g.id}`, body); else await api.post('/games', body);
        } catch (er) {
          if (er.status === 400 || er.status === 409) {
            const d = Array.isArray(er.body?.details) ? er.body.details : [];
            let shown = false;
            for (const x of d) { const k = String(x.path || '').split('.')[0]; if (fs[k]) { fs[k].setError(x.message); shown = true; } }
            if (!shown) setText(err, er.message);
            return;
          }
          throw er;
        }
        editor.hidden = true;
        toast.ok(g ? `Saved ${body.name}` : `Created ${body.name}`);
        await load();
      });
    });
  }
  await load();
}
