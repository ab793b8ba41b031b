// #/library (and #/library/game/{id}, the launcher's QR target) — the player's own library in an
// org: every entry with cover, status (verified / pending review / rejected with the reviewer's
// note), when it was verified and whether it is ready to play in the org; filters; the linked
// Steam account (link through Steam's OpenID page, persona and avatar, verify ownership with a
// summary, unlink); and a form per proof kind that shows exactly what will be sent.
import { api, apiUrl } from '../api.js';
import { h, fill, field, pageHead, act, badge, fmtDate, setText, toast, confirmDialog, segmented } from '../ui.js';
import { orgPicker, coverSrc } from '../console.js';
import { useStyles, KIND_LABEL } from './library-shared.js';

const STATUS = {
  verified: ['Verified', 'ok'],
  pending: ['Pending review', 'warn'],
  rejected: ['Rejected', 'bad'],
  withdrawn: ['Withdrawn', ''],
};

/** Why the Steam link failed, by the code the callback put in the URL (never text from the URL). */
const LINK_FAILURES = {
  state_not_bound: 'The Steam sign-in was started in another browser. Start it again here.',
  state_not_yours: 'That Steam sign-in was started by another account. Start it again while signed in as yourself.',
  invalid_state: 'The Steam sign-in took too long or was already used. Start it again.',
  state_replayed: 'That Steam sign-in was already used. Start it again.',
  assertion_replayed: 'That Steam sign-in was already used. Start it again.',
  invalid_assertion: 'Steam did not confirm the sign-in (it was cancelled or could not be verified).',
  steam_account_taken: 'This Steam account is already linked to another member of this organization.',
  not_org_member: 'You are not a member of that organization any more.',
  steam_unreachable: 'Steam could not be reached to confirm the sign-in. Try again in a moment.',
  steam_failed: 'Steam could not confirm the sign-in right now. Try again in a moment.',
};

/** The proof kinds a player can send (Steam is verified through the link instead). */
const KINDS = ['manual', 'epic', 'gog', 'xbox', 'microsoft', 'ea'];

/** Entry status: the best proof decides (verified, else pending, else the latest). */
function entryStatus(e) {
  if (e.owned) return 'verified';
  if (e.proofs.some((p) => p.status === 'pending')) return 'pending';
  if (e.proofs.some((p) => p.status === 'rejected')) return 'rejected';
  return 'withdrawn';
}
function entryPlatform(e) {
  const best = e.proofs.find((p) => p.status === 'verified') || e.proofs.find((p) => p.status === 'pending') || e.proofs[0];
  return best ? best.kind : e.ownership_source;
}

export async function render(main, params, ctx) {
  useStyles();
  const focusGame = params.id ? Number(params.id) : null;
  const outcome = readOutcome();
  const orgs = ctx.orgs;
  if (!orgs.length) {
    main.append(pageHead('My library', 'The games you own, per organization.'),
      h('div', { class: 'empty' }, h('p', {}, 'You are not in an organization yet.'), h('p', { class: 'small' }, 'Ask an organization admin for an invite code, then sign in with it: libraries belong to an organization.')));
    return;
  }
  const banner = h('div', { class: 'lib-banner', role: 'status', hidden: true });
  const steamCard = h('section', { class: 'card', 'aria-labelledby': 'steam-h' });
  const filters = h('div', { class: 'toolbar' });
  const grid = h('ul', { class: 'lib-grid', 'aria-label': 'Your games' });
  const proofCard = h('section', { class: 'card', id: 'add-proof', 'aria-labelledby': 'proof-h' });
  let org = null;
  let entries = [];
  let status = 'all';
  let platform = 'all';
  // A member cannot list an org's nodes: no probe, so the picker starts on the remembered or own org.
  const picker = orgPicker(ctx, (o) => { org = o; loadAll(); }, { orgs, label: 'Organization', probe: null });
  main.append(pageHead('My library', 'Games you own in this organization, and how they were proven.'), picker, banner,
    h('div', { class: 'cols' }, steamCard, proofCard), h('h2', { class: 'mt' }, 'Games'), filters, grid);
  if (outcome) showOutcome(outcome);

  function showOutcome(o) {
    banner.hidden = false;
    banner.className = `lib-banner ${o.ok ? 'ok' : 'bad'}`;
    fill(banner, o.ok ? 'Steam account linked. Now verify your Steam games below.' : (LINK_FAILURES[o.code] || 'Linking Steam did not work. Try again.'));
    // Switch only to another org: re-selecting the current one would reload the Steam card under
    // the person's next click (the Verify button they pressed would be replaced mid-request).
    if (o.org && orgs.some((x) => x.id === o.org)) queueMicrotask(() => { if (picker.current()?.id !== o.org) picker.select(o.org); });
  }

  async function loadAll() {
    if (!org) return;
    await Promise.all([loadSteam(), loadLibrary()]);
    renderProofForm();
  }

  // ---------- Steam ----------
  async function loadSteam() {
    let acct;
    try { acct = await api.get(`/ownership/steam?org_id=${org.id}`); } catch (e) { fill(steamCard, h('h2', { id: 'steam-h' }, 'Steam'), h('p', { class: 'form-error' }, e.message)); return; }
    const summary = h('div', { class: 'lib-summary', role: 'status', 'aria-live': 'polite' });
    if (!acct.linked) {
      const link = h('button', { type: 'button', class: 'btn primary', id: 'link-steam' }, 'Link Steam');
      link.addEventListener('click', () => {
        link.disabled = true;
        setText(summary, 'Taking you to Steam to sign in…');
        // A top-level navigation: Steam sends this browser back to the API's callback, which
        // returns here with the outcome.
        location.assign(apiUrl(`/auth/link/steam/start?org_id=${org.id}`));
      });
      fill(steamCard, h('h2', { id: 'steam-h' }, 'Steam'),
        h('p', { class: 'muted' }, 'Link your Steam account to add the games you own on Steam. You sign in on Steam’s own page; we never see your Steam password.'),
        h('div', { class: 'row' }, link), summary);
      return;
    }
    const avatar = acct.avatar ? h('img', { class: 'lib-avatar', src: acct.avatar, alt: '' }) : h('span', { class: 'lib-avatar' });
    const verify = h('button', { type: 'button', class: 'btn primary', id: 'verify-steam' }, 'Verify Steam games');
    const unlink = h('button', { type: 'button', class: 'btn danger', id: 'unlink-steam' }, 'Unlink');
    verify.addEventListener('click', async () => {
      verify.disabled = true;
      summary.className = 'lib-summary';
      fill(summary, h('span', { class: 'lib-spinner', 'aria-hidden': 'true' }), 'Checking your Steam library…');
      try {
        const r = await api.post('/ownership/verify/steam', { org_id: org.id });
        fill(summary,
          h('p', { id: 'verify-summary' }, `Steam reports ${r.steam_game_count} game${r.steam_game_count === 1 ? '' : 's'}: ${r.matched} matched the catalog, ${r.added_to_catalog} added to the catalog.`),
          r.added_to_catalog ? h('p', { class: 'small muted' }, 'New catalog games get their name and cover from the Steam store in the background; this page refreshes them.') : null,
          r.withdrawn.length ? h('p', { class: 'small' }, `${r.withdrawn.length} game${r.withdrawn.length === 1 ? ' is' : 's are'} no longer on your Steam account and lost their Steam proof.`) : null);
        entries = r.library;
        renderGrid();
        if (r.added_to_catalog) watchNewGames();
      } catch (e) {
        summary.className = 'lib-summary bad';
        if (e.code === 'steam_profile_private') {
          fill(summary, h('p', { id: 'verify-summary' }, h('b', {}, 'Your Steam game list is private.')),
            h('p', { class: 'small' }, 'On Steam, open your profile → Edit Profile → Privacy Settings, set “Game details” to Public (and untick “Always keep my total playtime private” if you like), save, then press Verify again. You can set it back to private afterwards.'));
        } else fill(summary, h('p', { id: 'verify-summary' }, e.message || 'Steam could not be checked.'));
      } finally {
        if (verify.isConnected) verify.disabled = false;
      }
    });
    unlink.addEventListener('click', async () => {
      if (!(await confirmDialog('Unlink your Steam account?', { ok: 'Unlink', danger: true, body: h('p', { class: 'muted' }, 'Games proven by Steam stop counting as owned here until you link and verify again. Other proofs are kept.') }))) return;
      await act(unlink, async () => { await api.del(`/auth/link/steam?org_id=${org.id}`); await loadAll(); }, { ok: 'Steam account unlinked' });
    });
    fill(steamCard, h('h2', { id: 'steam-h' }, 'Steam'),
      h('div', { class: 'lib-persona' }, avatar, h('div', {},
        h('b', { id: 'steam-persona' }, acct.persona_name || 'Steam account'),
        h('div', { class: 'small muted' }, `SteamID ${acct.steam_id} · linked ${fmtDate(acct.linked_at)}`))),
      h('div', { class: 'row mt' }, verify, unlink), summary);
  }

  /** After new catalog games were added, refresh the grid a few times while their details arrive. */
  let watching = 0;
  function watchNewGames() {
    const my = ++watching;
    let rounds = 0;
    const tick = async () => {
      if (my !== watching || !grid.isConnected || rounds++ > 20) return;
      await loadLibrary().catch(() => {});
      if (entries.some((e) => /^Steam app \d+$/.test(e.game.name) || !e.game.cover_url)) setTimeout(tick, 3000);
    };
    setTimeout(tick, 2000);
  }

  // ---------- the grid ----------
  async function loadLibrary() {
    entries = await api.get(`/users/${ctx.user.id}/library?org_id=${org.id}`);
    renderFilters();
    renderGrid();
  }

  function renderFilters() {
    const counts = { all: entries.length, verified: 0, pending: 0, rejected: 0 };
    for (const e of entries) { const s = entryStatus(e); if (s in counts) counts[s] += 1; }
    const seg = segmented('Status', [['all', `All ${counts.all}`], ['verified', `Verified ${counts.verified}`], ['pending', `Pending ${counts.pending}`], ['rejected', `Rejected ${counts.rejected}`]], status, (v) => { status = v; renderGrid(); });
    const platforms = [...new Set(entries.map(entryPlatform))].sort();
    if (platform !== 'all' && !platforms.includes(platform)) platform = 'all';
    const sel = h('select', { 'aria-label': 'Platform' }, h('option', { value: 'all' }, 'All platforms'), platforms.map((p) => h('option', { value: p, selected: p === platform }, KIND_LABEL[p] || p)));
    sel.addEventListener('change', () => { platform = sel.value; renderGrid(); });
    fill(filters, seg, sel);
  }

  function renderGrid() {
    const shown = entries.filter((e) => (status === 'all' || entryStatus(e) === status) && (platform === 'all' || entryPlatform(e) === platform));
    if (!entries.length) {
      fill(grid, h('li', { class: 'empty lib-empty' }, h('p', {}, h('b', {}, 'No games yet.')),
        h('p', { class: 'small' }, 'Link Steam and press “Verify Steam games”, or send a receipt or a store proof with the form above. An organization admin reviews non-Steam proofs.')));
      return;
    }
    if (!shown.length) { fill(grid, h('li', { class: 'empty lib-empty' }, 'No game matches these filters.')); return; }
    fill(grid, shown.map(card));
    if (focusGame) grid.querySelector(`[data-game="${focusGame}"]`)?.scrollIntoView({ block: 'center' });
  }

  function card(e) {
    const st = entryStatus(e);
    const [label, kind] = STATUS[st];
    const img = h('img', { class: 'lib-cover', alt: '', loading: 'lazy' });
    const src = coverSrc(e.game.cover_url);
    if (src) img.src = src; else img.classList.add('none');
    img.addEventListener('error', () => { img.removeAttribute('src'); img.classList.add('none'); });
    const rejected = e.proofs.filter((p) => p.status === 'rejected' && p.review_note);
    const pendings = e.proofs.filter((p) => p.status === 'pending');
    return h('li', { class: `lib-card${e.game.id === focusGame ? ' focus' : ''}`, dataset: { game: String(e.game.id), status: st } },
      img,
      h('div', { class: 'lib-body' },
        h('h3', { class: 'lib-name' }, e.game.name),
        h('div', { class: 'row' }, badge(label, kind), h('span', { class: 'small muted' }, KIND_LABEL[entryPlatform(e)] || entryPlatform(e))),
        e.verified_at ? h('p', { class: 'small muted' }, `Verified ${fmtDate(e.verified_at)}`) : null,
        rejected.map((p) => h('p', { class: 'small lib-note' }, `Reviewer: “${p.review_note}”`)),
        h('p', { class: `small ${e.install_ready ? 'lib-ready' : 'muted'}` }, e.install_ready ? `Ready to play in ${org.name}` : `Not installed in ${org.name} yet`),
        pendings.map((p) => {
          const b = h('button', { type: 'button', class: 'btn small' }, `Withdraw ${KIND_LABEL[p.kind] || p.kind} proof`);
          b.addEventListener('click', () => act(b, async () => {
            await api.post(`/users/${ctx.user.id}/library/${e.id}/withdraw`, { kind: p.kind });
            await loadLibrary();
          }, { ok: 'Proof withdrawn' }));
          return b;
        })));
  }

  // ---------- other proofs ----------
  let kind = 'manual';
  function renderProofForm() {
    const gameSel = h('select', { name: 'game', required: true }, h('option', { value: '' }, 'Choose a game…'));
    const search = h('input', { type: 'search', placeholder: 'Search the catalog', 'aria-label': 'Search the catalog' });
    const gameField = field('Game', gameSel);
    const fieldsBox = h('div', {});
    const preview = h('pre', { class: 'lib-preview', id: 'proof-preview', 'aria-live': 'polite' });
    const formError = h('p', { class: 'form-error', hidden: true, role: 'alert' });
    const send = h('button', { type: 'submit', class: 'btn primary', id: 'send-proof' }, 'Send for review');
    const kinds = segmented('Proof kind', KINDS.map((k) => [k, KIND_LABEL[k]]), kind, (v) => { kind = v; formError.hidden = true; buildFields(); update(); });
    let inputs = {};
    /** name → its field wrapper (label, input, error line), for the errors of that input */
    let fields = {};
    let manifest = null;
    let timer = 0;
    async function fillGames(q = '') {
      const page = await api.get(`/games?limit=50${q ? `&q=${encodeURIComponent(q)}` : ''}`);
      const list = page.items;
      if (focusGame && !list.some((g) => g.id === focusGame)) {
        try { list.unshift(await api.get(`/games/${focusGame}`)); } catch { /* gone */ }
      }
      const cur = Number(gameSel.value) || focusGame;
      fill(gameSel, h('option', { value: '' }, 'Choose a game…'), list.map((g) => h('option', { value: String(g.id), selected: g.id === cur }, g.name)));
      update();
    }
    search.addEventListener('input', () => { clearTimeout(timer); timer = setTimeout(() => fillGames(search.value.trim()).catch(() => {}), 250); });
    gameSel.addEventListener('change', update);

    const text = (name, label, help, attrs = {}) => {
      const i = h('input', { name, ...attrs });
      i.addEventListener('input', update);
      inputs[name] = i;
      fields[name] = field(label, i, help);
      return fields[name];
    };
    function buildFields() {
      inputs = {};
      fields = {};
      manifest = null;
      if (kind === 'manual') {
        fill(fieldsBox, text('store', 'Store or shop', 'Where you bought it, e.g. Humble Bundle, a retail box.', { required: true, maxlength: 64 }),
          text('order_id', 'Order or receipt number', null, { required: true, maxlength: 128 }),
          text('purchased_at', 'Purchase date', null, { type: 'date', required: true }),
          h('div', { class: 'form-row fields' }, text('amount', 'Amount (optional)', null, { type: 'number', min: 0, step: '0.01' }), text('currency', 'Currency (optional)', 'e.g. EUR', { maxlength: 3 })),
          text('note', 'Note for the reviewer (optional)', null, { maxlength: 500 }));
      } else if (kind === 'xbox' || kind === 'microsoft') {
        fill(fieldsBox, text('product_id', 'Store product id', '12 characters, e.g. 9NBLGGH4R315 (in the game’s Microsoft Store URL).', { required: true, maxlength: 12 }),
          text('entitlement_id', 'Entitlement id', 'The GUID on your order in the Microsoft account order history.', { required: true, maxlength: 36 }),
          text('acquired_at', 'Acquired on (optional)', null, { type: 'date' }));
      } else if (kind === 'ea') {
        const lt = h('select', { name: 'license_type' }, ['full', 'trial', 'subscription'].map((x) => h('option', { value: x }, x)));
        lt.addEventListener('change', update);
        inputs.license_type = lt;
        fill(fieldsBox, text('offer_id', 'Offer id', 'e.g. Origin.OFR.50.0002694', { required: true, maxlength: 64 }),
          text('content_id', 'Content id', 'Digits only.', { required: true, maxlength: 20 }), field('License', lt),
          text('granted_at', 'Granted on', null, { type: 'date', required: true }));
      } else {
        const file = h('input', { type: 'file', accept: '.json,.item,.info,application/json', id: 'manifest-file' });
        const status = h('p', { class: 'small', role: 'status' });
        file.addEventListener('change', async () => {
          manifest = null;
          const f = file.files?.[0];
          if (!f) { update(); return; }
          try {
            if (f.size > 256 * 1024) throw new Error('that file is too large for a manifest');
            manifest = parseManifest(kind, JSON.parse(await f.text()));
            setText(status, `Read ${f.name}.`);
            status.className = 'small';
          } catch (err) {
            setText(status, `Could not use ${f.name}: ${err.message}`);
            status.className = 'small form-error';
          }
          update();
        });
        fill(fieldsBox, field(`${KIND_LABEL[kind]} manifest file`, file, 'The manifest JSON the CouchSuite launcher wrote for this game (it includes the executable’s SHA-256, size and date). It is read here in your browser and checked again by the server.'), status);
      }
    }
    function body() {
      const gameId = Number(gameSel.value);
      const v = (n) => inputs[n]?.value.trim() || undefined;
      const iso = (d) => (d ? `${d}T00:00:00Z` : undefined);
      const base = { kind, org_id: org.id, game_id: gameId || null };
      if (kind === 'manual') {
        const amount = v('amount');
        return { ...base, receipt: { store: v('store'), order_id: v('order_id'), purchased_at: v('purchased_at'), ...(amount ? { amount: Number(amount) } : {}), ...(v('currency') ? { currency: v('currency').toUpperCase() } : {}), ...(v('note') ? { note: v('note') } : {}) } };
      }
      if (kind === 'xbox' || kind === 'microsoft') return { ...base, entitlement: { product_id: v('product_id')?.toUpperCase(), entitlement_id: v('entitlement_id'), ...(v('acquired_at') ? { acquired_at: iso(v('acquired_at')) } : {}) } };
      if (kind === 'ea') return { ...base, license: { offer_id: v('offer_id'), content_id: v('content_id'), license_type: inputs.license_type.value, granted_at: iso(v('granted_at')) } };
      return { ...base, manifest };
    }
    function update() { setText(preview, JSON.stringify(body(), null, 2)); }
    const form = h('form', { novalidate: true }, gameField, h('div', { class: 'row' }, search), h('div', { class: 'mt' }, kinds), h('div', { class: 'mt' }, fieldsBox),
      h('h3', { class: 'small' }, 'What will be sent'), preview, formError, send);
    form.addEventListener('submit', async (ev) => {
      ev.preventDefault();
      formError.hidden = true;
      gameField.setError('');
      if (!Number(gameSel.value)) { gameField.setError('Choose the game this proof is for.'); gameSel.focus(); return; }
      if ((kind === 'epic' || kind === 'gog') && !manifest) { formError.hidden = false; setText(formError, 'Choose the manifest file first.'); return; }
      for (const f of Object.values(fields)) f.setError('');
      // Required fields are named here, before sending: the server's answer for a missing one is
      // a schema path ("receipt.store: Invalid input: expected string…"), not words for a person.
      const missing = Object.entries(inputs).filter(([n, i]) => i.required && !i.value.trim() && fields[n]);
      if (missing.length) {
        for (const [n] of missing) fields[n].setError('Fill this in.');
        formError.hidden = false;
        setText(formError, missing.length === 1 ? 'One field still needs filling in.' : `${missing.length} fields still need filling in.`);
        return;
      }
      await act(send, async () => {
        try {
          await api.post(`/users/${ctx.user.id}/library/proofs`, body());
        } catch (err) {
          if (err.status === 400 || err.status === 404) { formError.hidden = false; setText(formError, proofError(err, fields)); return; }
          throw err;
        }
        toast.ok('Sent: an organization admin will review it.');
        form.reset();
        buildFields();
        update();
        await loadLibrary();
      });
    });
    fill(proofCard, h('h2', { id: 'proof-h' }, 'Add a game with another proof'),
      h('p', { class: 'muted small' }, 'For games from other stores or bought elsewhere. The proof waits for an organization admin; you can withdraw it until then.'), form);
    buildFields();
    fillGames().catch((e) => toast.error(e));
  }
}

/**
 * A refused proof in a person's words: each `details` entry whose path ends in one of the form's
 * inputs is shown on that field (the server's sentence without its `name:` prefix, or "not valid"
 * for a bare schema message); the line under the form then says where to look.
 */
export function proofError(err, fields) {
  const details = Array.isArray(err.body?.details) ? err.body.details : [];
  let shown = 0;
  for (const d of details) {
    const name = String(d.path ?? '').split('.').pop();
    const f = fields[name];
    if (!f) continue;
    const msg = String(d.message ?? '').replace(new RegExp(`^${name}:\\s*`), '');
    f.setError(/^Invalid input/.test(msg) || !msg ? 'This value is not valid.' : msg);
    shown += 1;
  }
  if (!shown) return err.message;
  return shown === 1 ? 'Check the highlighted field.' : 'Check the highlighted fields.';
}

/** The `?steam_link=` outcome the Steam callback put on the URL; removed from the address bar. */
function readOutcome() {
  const q = new URLSearchParams(location.search);
  const s = q.get('steam_link');
  if (!s) return null;
  history.replaceState(null, '', location.pathname + location.hash);
  return { ok: s === 'linked', code: q.get('code') || '', org: Number(q.get('org_id')) || null };
}

/**
 * A launcher manifest (our proof shape) or the store's own file, as the proof's `manifest`.
 * Epic `.item` files and GOG `goggame-*.info` files lack the executable's hash: they are refused with
 * a message saying which file to use.
 */
export function parseManifest(kind, doc) {
  if (!doc || typeof doc !== 'object' || Array.isArray(doc)) throw new Error('not a JSON object');
  const m = doc.manifest && typeof doc.manifest === 'object' ? doc.manifest : doc;
  if (doc.kind && doc.kind !== kind) throw new Error(`this is a ${doc.kind} manifest, not ${kind}`);
  const exe = m.executable;
  if (!exe || typeof exe !== 'object' || !/^[0-9a-fA-F]{64}$/.test(String(exe.sha256 || ''))) {
    throw new Error('it has no executable with a SHA-256: use the manifest the CouchSuite launcher wrote, not the store’s own file');
  }
  const executable = { path: String(exe.path || ''), sha256: String(exe.sha256).toLowerCase(), size: Number(exe.size), mtime: String(exe.mtime || '') };
  if (kind === 'epic') {
    const out = { app_name: m.app_name ?? m.AppName, catalog_item_id: m.catalog_item_id ?? m.CatalogItemId, namespace: m.namespace ?? m.CatalogNamespace, install_location: m.install_location ?? m.InstallLocation, executable };
    const version = m.app_version ?? m.AppVersionString;
    if (version) out.app_version = String(version);
    for (const k of ['app_name', 'catalog_item_id', 'namespace', 'install_location']) if (!out[k]) throw new Error(`it has no ${k}`);
    return out;
  }
  const out = { product_id: String(m.product_id ?? m.gameId ?? ''), install_location: m.install_location ?? m.rootGameId ?? '', executable };
  if (m.build_id ?? m.buildId) out.build_id = String(m.build_id ?? m.buildId);
  if (m.version) out.version = String(m.version);
  if (!out.product_id) throw new Error('it has no product_id');
  if (!out.install_location) throw new Error('it has no install_location');
  return out;
}

