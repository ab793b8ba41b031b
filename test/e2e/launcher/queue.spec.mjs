// The launcher's line for a seat (issue 15), against the seeded stack with a simulated gamepad:
// every seat of a game is taken, Play waits in line ("you are number 1 in line, about … minutes"),
// and when the seat frees the screen turns into the play screen by itself; B leaves the line.
// Screenshots: test-output/screenshots/launcher-queue-*.png.
//
// Arrangement through the API: a node of the default org with one game that no other node has; its
// capacity is set to 0 (every seat taken) and raised to 1 (a seat comes free) by the org admin;
// the player owns the game (verified). The node heartbeats from this process and is deleted at the
// end (its installs go with it).
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { expectAccessible } from '../support/axe.mjs';
import { exclusive } from '../support/exclusive.mjs';
import { launch, shot } from '../support/browser.mjs';
import { apiClient, pad, signInWithKeyboard, tvPage } from './support.mjs';

const stack = inject('stack');
// The seeded member's games, seats and line in the default org are arranged by the launcher specs
// and this one too: never beside them (support/exclusive.mjs). Registered first, released last.
let releaseMember;
beforeAll(async () => { releaseMember = await exclusive(stack, 'default-org-member'); }, 900_000);
afterAll(async () => releaseMember?.());
const api = apiClient(stack.url);
// Games other launcher specs (or the seeded node) rely on: not this one.
const TAKEN = new Set(['counter-strike-2', 'dota-2', 'rust', 'baldurs-gate-3', 'helldivers-2', 'steam_big_picture', 'retro_arcade', 'apex-legends', 'pubg-battlegrounds']);
let browser;
let admin;
let player;
let org;
let game;
let node;
let heartbeat;

async function beat() {
  const installs = [
    {
      game_id: game.id,
      install_path: `/srv/games/${game.slug}`,
      launcher: 'native',
      executable: 'run.sh',
      proof: { path: `/srv/games/${game.slug}/run.sh`, sha256: 'b'.repeat(64), size: 4096, mtime: '2026-11-01T10:00:00Z' },
    },
  ];
  const r = await api.call('POST', '/nodes/heartbeat', { token: node.token, body: { status: 'ready', installs } });
  if (r.status !== 200) throw new Error(`heartbeat: ${r.status} ${JSON.stringify(r.data)}`);
}

async function own(who) {
  const p = await api.call('POST', `/users/${who.user_id}/library/proofs`, {
    token: who.token,
    body: { org_id: org.id, game_id: game.id, kind: 'manual', receipt: { store: 'Demo Store', order_id: `E2E-Q-${who.user_id}`, purchased_at: '2026-10-01' } },
  });
  if (p.status === 409) return;
  if (p.status !== 201) throw new Error(`proof: ${p.status} ${JSON.stringify(p.data)}`);
  if (p.data.owned) return;
  const v = await api.call('POST', `/orgs/${org.id}/library/${p.data.id}/verify`, { token: admin.token, body: { kind: 'manual' } });
  if (v.status !== 200) throw new Error(`verify: ${v.status} ${JSON.stringify(v.data)}`);
}

/** The org admin sets the node's seats: 0 = every seat taken, 1 = one comes free. */
async function seats(capacity) {
  const r = await api.call('PATCH', `/orgs/${org.id}/nodes/${node.id}`, { token: admin.token, body: { capacity } });
  if (r.status !== 200) throw new Error(`capacity: ${r.status} ${JSON.stringify(r.data)}`);
}

beforeAll(async () => {
  browser = await launch();
  admin = await api.login(stack.credentials.admin);
  player = await api.login(stack.credentials.player);
  org = admin.orgs.find((o) => o.slug === 'default');
  const list = await api.call('GET', '/games?limit=100', { token: admin.token });
  const all = Array.isArray(list.data) ? list.data : (list.data?.items ?? []);
  game = all.find((g) => !TAKEN.has(g.slug));
  if (!game) throw new Error('no spare game in the seeded catalog');
  const n = await api.call('POST', `/orgs/${org.id}/nodes`, {
    token: admin.token,
    body: { name: `e2e-queue-rig-${Date.now()}`, region: 'us-east', capacity: 0, stream_base_url: 'https://stream.localhost/' },
  });
  if (n.status !== 201) throw new Error(`node: ${n.status} ${JSON.stringify(n.data)}`);
  node = { id: n.data.node.id, token: n.data.token };
  await beat();
  heartbeat = setInterval(() => beat().catch(() => {}), 5000);
  await own(player);
}, 120_000);

afterAll(async () => {
  clearInterval(heartbeat);
  if (node) await api.call('DELETE', `/orgs/${org.id}/nodes/${node.id}`, { token: admin.token });
  await browser?.close();
});

async function openQueuedGame(page) {
  await signInWithKeyboard(page, stack.url, stack.credentials.player);
  await page.waitForSelector('.view-hub[data-tab="home"]');
  await page.keyboard.press('e'); // gaming tab: the player's library
  const tile = `.view-hub #row-library [data-game-id="${game.id}"]`;
  await page.waitForSelector(tile);
  await page.locator(tile).first().focus();
  await page.keyboard.press('Enter');
  await page.waitForSelector(`.view-game[data-game-id="${game.id}"][data-loaded]`);
}

describe('the line for a seat', () => {
  it('waits in line when every seat is taken, shows the place and the wait, and turns into the play screen when the seat comes', async () => {
    await seats(0);
    const page = await tvPage(browser, { gamepad: true });
    await openQueuedGame(page);
    // No free seat is no longer a refusal: Play is green and offers the line.
    expect(await page.getAttribute('.view-game', 'data-playable')).toBe('true');
    expect(await page.locator('.game-facts').textContent()).toContain('wait in line');
    await page.locator('#play').focus();
    await pad(page, 'A');

    await page.waitForSelector('.view-play[data-status="queued"]');
    expect(await page.locator('#session-status').textContent()).toMatch(/^you are number 1 in line, (about \d+ minutes?|less than a minute)$/);
    expect(await page.locator('#queue-position').textContent()).toBe('1');
    await page.waitForFunction(() => document.activeElement?.id === 'leave-queue');
    expect(await page.locator('#open-stream').isVisible()).toBe(false);
    await shot(page, 'launcher-queue-waiting');
    await expectAccessible(page, 'launcher-queue-waiting');

    // A seat comes free: the next poll gives it to the player, with no key pressed.
    await seats(1);
    await page.waitForSelector('.view-play[data-status="provisioning"], .view-play[data-status="active"]', { timeout: 30_000 });
    await page.waitForFunction(() => document.activeElement?.id === 'open-stream');
    expect(await page.locator('#open-stream').isEnabled()).toBe(true);
    expect(await page.locator('#leave-queue').isVisible()).toBe(false);
    await shot(page, 'launcher-queue-seat-ready');

    const sessionId = await page.locator('#session-id').textContent();
    await pad(page, 'B'); // leaving ends the session, as on any play screen
    await page.waitForSelector('.view-game');
    const after = await api.call('GET', `/sessions/${sessionId}`, { token: player.token });
    expect(after.data.status).toBe('terminated');
    expect(page.errors).toEqual([]);
  });

  it('B leaves the line: the place is given up and the queue is empty', async () => {
    await seats(0);
    const page = await tvPage(browser, { gamepad: true });
    await openQueuedGame(page);
    await page.locator('#play').focus();
    await pad(page, 'A');
    await page.waitForSelector('.view-play[data-status="queued"]');
    const queue = await api.call('GET', `/orgs/${org.id}/queue`, { token: admin.token });
    expect(queue.data.map((e) => e.user_id)).toEqual([player.user_id]);
    const waiting = queue.data[0].id;

    await pad(page, 'B');
    await page.waitForSelector('.view-game');
    const left = await api.call('GET', `/sessions/${waiting}`, { token: player.token });
    expect(left.data).toMatchObject({ status: 'terminated', end_reason: 'left_queue' });
    expect((await api.call('GET', `/orgs/${org.id}/queue`, { token: admin.token })).data).toEqual([]);
    expect(page.errors).toEqual([]);
  });
});
