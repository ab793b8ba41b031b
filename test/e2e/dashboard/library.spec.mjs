// The player's library journey in a real browser, against a stack whose Steam endpoints point at a
// local double (test/e2e/support/fake-steam.mjs): a member links Steam through the OpenID redirect
// dance, verifies, and watches the catalog fill in with store covers; a member sends a manual
// receipt, an org admin approves it in the review queue, the member sees it verified, and the
// launcher's game page (which showed a QR code to the library) turns to a green Play.
// Each journey also takes light, dark and phone screenshots, hence the long per-test timeouts.
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { expectAccessible } from '../support/axe.mjs';
import { exclusive } from '../support/exclusive.mjs';
import { launch, shot } from '../support/browser.mjs';
import { apiClient, signInWithKeyboard, tvPage } from '../launcher/support.mjs';
import { authedPage, eventually, expectNoSeriousErrors, go } from './helpers.mjs';

const stack = inject('stack');
// The seeded member's games, seats and line in the default org are arranged by the launcher specs
// and this one too: never beside them (support/exclusive.mjs). Registered first, released last.
let releaseMember;
beforeAll(async () => { releaseMember = await exclusive(stack, 'default-org-member'); }, 900_000);
afterAll(async () => releaseMember?.());
const api = apiClient(stack.url);
let browser;
let admin;
let player;
let org;
let naraka;
let nodeToken;
let heartbeat;

async function beat() {
  const r = await api.call('POST', '/nodes/heartbeat', {
    token: nodeToken,
    body: {
      status: 'ready',
      installs: [{ game_id: naraka, install_path: '/srv/games/naraka', launcher: 'steam', executable: 'naraka.exe', proof: { path: '/srv/games/naraka/naraka.exe', sha256: 'b'.repeat(64), size: 2097152, mtime: '2026-11-01T10:00:00Z' } }],
    },
  });
  if (r.status !== 200) throw new Error(`heartbeat: ${r.status} ${JSON.stringify(r.data)}`);
}

beforeAll(async () => {
  browser = await launch();
  admin = await api.login(stack.credentials.admin);
  player = await api.login(stack.credentials.player);
  org = admin.orgs.find((o) => o.slug === 'default');
  const list = await api.call('GET', '/games?q=naraka', { token: admin.token });
  naraka = list.data.items[0].id;
  // A node of the org that has NARAKA ready (heartbeats from here: no timing).
  const n = await api.call('POST', `/orgs/${org.id}/nodes`, { token: admin.token, body: { name: 'e2e-library-rig', region: 'us-east', capacity: 2, stream_base_url: 'https://stream.localhost/' } });
  if (n.status !== 201) throw new Error(`node: ${n.status} ${JSON.stringify(n.data)}`);
  nodeToken = n.data.token;
  await beat();
  heartbeat = setInterval(() => beat().catch(() => {}), 5000);
}, 120_000);

afterAll(async () => {
  clearInterval(heartbeat);
  await browser?.close();
});

async function shots(url, creds, hash, name, ready) {
  for (const [suffix, opts] of [['light', { theme: 'light' }], ['dark', { theme: 'dark' }], ['phone', { width: 360, height: 780, theme: 'light' }]]) {
    const page = await authedPage(browser, url, creds, opts);
    await go(page, url, hash);
    await ready(page);
    await shot(page, `${name}-${suffix}`);
    await expectAccessible(page, `${name}-${suffix}`);
    expectNoSeriousErrors(page);
    await page.context().close();
  }
}

describe('a player’s library', () => {
  it('a member links Steam through Steam’s sign-in page, verifies, and sees the library fill in with covers', async () => {
    const page = await authedPage(browser, stack.url, stack.credentials.player);
    await go(page, stack.url, 'library');
    await page.locator('#link-steam').click();
    // Steam (the double) approves and sends the browser back through our callback to this page.
    await page.waitForSelector('.lib-banner.ok', { timeout: 60_000 });
    expect(await page.locator('.lib-banner').textContent()).toContain('Steam account linked');
    expect(page.url()).not.toContain('steam_link=');
    await eventually(() => page.locator('#steam-persona').textContent()).toBe('Rabscuttle');
    expect(await page.locator('.lib-persona img.lib-avatar').evaluate((img) => img.src.startsWith('data:image/png'))).toBe(true);

    await page.locator('#verify-steam').click();
    await page.waitForSelector('#verify-summary', { timeout: 60_000 });
    expect(await page.locator('#verify-summary').textContent()).toBe('Steam reports 4 games: 2 matched the catalog, 2 added to the catalog.');
    // The store details arrive in the background (the enrichment queue): names, then covers from R2.
    const portal = page.locator('.lib-card', { hasText: 'Portal 2' });
    await eventually(() => portal.count(), { timeout: 90_000 }).toBe(1);
    await eventually(() => portal.locator('img.lib-cover').evaluate((img) => img.complete && img.naturalWidth > 0 && new URL(img.src).pathname.startsWith('/covers/')), { timeout: 90_000 }).toBe(true);
    await eventually(() => page.locator('.lib-card', { hasText: 'ELDEN RING' }).locator('img.lib-cover').evaluate((img) => img.naturalWidth > 0), { timeout: 90_000 }).toBe(true);
    expect(await portal.locator('.badge').textContent()).toBe('Verified');
    expectNoSeriousErrors(page);
    await page.context().close();

    // The catalog has the store's facts too.
    const games = await api.call('GET', '/games?q=portal', { token: admin.token });
    const detail = await api.call('GET', `/games/${games.data.items[0].id}`, { token: admin.token });
    expect(detail.data).toMatchObject({ name: 'Portal 2', metadata: { status: 'done', genres: ['Action', 'Adventure'], os_platforms: ['windows', 'linux'] } });
    expect(detail.data.ratings).toEqual([expect.objectContaining({ source: 'metacritic', score: 95 })]);

    await shots(stack.url, stack.credentials.player, 'library', 'library-steam', (p) => p.waitForSelector('#steam-persona'));
  }, 300_000);

  it('a member sends a receipt, an org admin approves it in the queue, the member sees it verified and the launcher turns to a green Play', async () => {
    // The launcher first: not owned, with the way to the library page on a phone.
    const tv = await tvPage(browser);
    await signInWithKeyboard(tv, stack.url, stack.credentials.player);
    await tv.waitForSelector('#row-top10 .tile');
    const view = `.view-game[data-game-id="${naraka}"]`;
    for (let attempt = 1; ; attempt++) {
      await tv.locator(`.view-hub [data-game-id="${naraka}"]`).first().focus();
      await tv.keyboard.press('Enter');
      try {
        await tv.waitForSelector(`${view}[data-loaded]`, { timeout: 10_000 });
        break;
      } catch (e) {
        if (attempt === 3) throw e;
      }
    }
    await tv.waitForSelector('#get-it:not([hidden]) canvas');
    expect(await tv.locator('#get-it-url').textContent()).toBe(`${new URL(stack.url).host}/#/library/game/${naraka}`);
    expect(await tv.locator('#play').isDisabled()).toBe(true);
    await shot(tv, 'launcher-game-not-owned');

    // The member follows the link: the proof form is set to that game.
    const page = await authedPage(browser, stack.url, stack.credentials.player);
    await go(page, stack.url, `library/game/${naraka}`);
    const form = page.locator('#add-proof');
    await eventually(() => form.getByLabel('Game').inputValue()).toBe(String(naraka));
    // Sent empty, the form names what is missing at each field, never the schema's path.
    await page.locator('#send-proof').click();
    await eventually(() => form.locator('.form-error').textContent()).toBe('3 fields still need filling in.');
    const errorOf = async (label) => page.locator(`#${await form.getByLabel(label).getAttribute('id')}-err`).textContent();
    expect(await errorOf('Store or shop')).toBe('Fill this in.');
    expect(await form.getByLabel('Store or shop').evaluate((el) => el === document.activeElement)).toBe(true);
    // A value the server refuses is shown on its field, in the server's words without the path.
    await form.getByRole('button', { name: 'Xbox' }).click();
    await form.getByLabel('Store product id').fill('abc');
    await form.getByLabel('Entitlement id').fill('not-a-guid');
    await page.locator('#send-proof').click();
    await eventually(() => form.locator('.form-error').textContent()).toBe('Check the highlighted fields.');
    expect(await errorOf('Store product id')).toMatch(/^a 12-character Store product id/);
    expect(await form.textContent()).not.toContain('entitlement.');
    await form.getByRole('button', { name: 'Receipt' }).click();
    await form.getByLabel('Store or shop').fill('Humble Bundle');
    await form.getByLabel('Order or receipt number').fill('HB-E2E-7781');
    await form.getByLabel('Purchase date').fill('2026-10-30');
    const preview = JSON.parse(await page.locator('#proof-preview').textContent());
    expect(preview).toEqual({ kind: 'manual', org_id: org.id, game_id: naraka, receipt: { store: 'Humble Bundle', order_id: 'HB-E2E-7781', purchased_at: '2026-10-30' } });
    await page.locator('#send-proof').click();
    const card = page.locator(`.lib-card[data-game="${naraka}"]`);
    await eventually(() => card.getAttribute('data-status')).toBe('pending');
    expect(await card.locator('.badge').textContent()).toBe('Pending review');
    await page.context().close();

    // The launcher, regaining focus, now says it waits for an admin.
    await tv.evaluate(() => window.dispatchEvent(new Event('focus')));
    await eventually(() => tv.locator('#play-reason').textContent()).toContain('an organization admin still has to verify it');

    // The org admin reviews it: the badge counts it, the evidence is readable.
    await shots(stack.url, stack.credentials.admin, 'review', 'review-queue', async (p) => {
      await p.locator('select[name="org"]').selectOption(String(org.id));
      await p.waitForSelector(`.rv-item[data-entry]`);
    });
    // An org with nothing waiting names the orgs where the badge's proofs are, one click away.
    const slug = `e2e-review-${Date.now().toString(36)}`;
    const quiet = await api.call('POST', '/orgs', { token: admin.token, body: { slug, name: `Quiet ${slug}` } });
    if (quiet.status !== 201) throw new Error(`org: ${quiet.status} ${JSON.stringify(quiet.data)}`);
    const review = await authedPage(browser, stack.url, stack.credentials.admin);
    await go(review, stack.url, 'review');
    await review.locator('select[name="org"]').selectOption(String(quiet.data.id));
    await review.waitForSelector('#review-elsewhere');
    expect(await review.locator('#review-empty b').textContent()).toBe(`Nothing to review in Quiet ${slug}.`);
    await review.locator('#review-elsewhere').getByRole('button', { name: new RegExp(`^${org.name} \\(\\d+\\)$`) }).click();
    await eventually(() => review.locator('select[name="org"]').inputValue()).toBe(String(org.id));
    const item = review.locator('.rv-item', { hasText: 'HB-E2E-7781' });
    await item.waitFor();
    await eventually(() => review.locator('#review-count').textContent()).not.toBe('0');
    expect(await item.locator('.rv-evidence').textContent()).toContain('Humble Bundle');
    await item.getByLabel(/^Note for/).fill('Receipt matches.');
    await item.getByRole('button', { name: 'Approve' }).click();
    await eventually(() => review.locator('.rv-item', { hasText: 'HB-E2E-7781' }).count()).toBe(0);
    expectNoSeriousErrors(review);
    await review.context().close();

    // The member sees it verified.
    const mine = await authedPage(browser, stack.url, stack.credentials.player);
    await go(mine, stack.url, 'library');
    const verified = mine.locator(`.lib-card[data-game="${naraka}"]`);
    await eventually(() => verified.getAttribute('data-status')).toBe('verified');
    expect(await verified.textContent()).toContain('Ready to play in');
    await mine.context().close();

    // And the launcher's game page, on focus, offers a green Play.
    await tv.evaluate(() => window.dispatchEvent(new Event('focus')));
    await tv.waitForSelector('#play.is-ready', { timeout: 30_000 });
    expect(await tv.locator('#get-it').isHidden()).toBe(true);
    await shot(tv, 'launcher-game-owned');
    await tv.context().close();

    await shots(stack.url, stack.credentials.player, `library/game/${naraka}`, 'library-receipt', async (p) => {
      await p.waitForSelector(`.lib-card[data-game="${naraka}"][data-status="verified"]`);
      await p.waitForFunction(() => [...document.querySelectorAll('.lib-card.focus img.lib-cover')].every((i) => i.complete && i.naturalWidth > 0));
    });
  }, 300_000);
});
