import { env } from 'cloudflare:test';
import { sql } from 'drizzle-orm';
import { describe, expect, it } from 'vitest';
import { db } from '../../../src/db/client';
import { call, json } from '../../support/http';
import { makeUser } from '../../support/users';
import { heartbeat, install, makeGame, member, onlineNode, own, playWorld, registerNode, startSession } from './helpers';

interface Availability {
  game_id: number;
  org_id: number;
  region: string | null;
  install_ready: boolean;
  install_ready_anywhere: boolean;
  free_seats: number;
  regions: Array<{ region: string | null; ready_nodes: number; free_seats: number }>;
}

describe('GET /games/{id}/availability', () => {
  it('answers install_ready and free seats per region in one request', async () => {
    const w = await playWorld();
    const game = await makeGame();
    const alice = await member(w);
    await own(w.org.id, alice.id, game);
    await onlineNode(w, [game], { region: 'eu-west', capacity: 2 });
    await onlineNode(w, [game], { region: 'us-east', capacity: 3 });
    await startSession(alice, { org_id: w.org.id, user_id: alice.id, game_id: game, region: 'eu-west' });
    const all = await json<Availability>(await call('GET', `/games/${game}/availability?org_id=${w.org.id}`, { token: alice.token }));
    expect(all).toMatchObject({ game_id: game, org_id: w.org.id, region: null, install_ready: true, install_ready_anywhere: true, free_seats: 4 });
    expect(all.regions).toEqual([
      { region: 'eu-west', ready_nodes: 1, free_seats: 1 },
      { region: 'us-east', ready_nodes: 1, free_seats: 3 },
    ]);
    const eu = await json<Availability>(await call('GET', `/games/${game}/availability?org_id=${w.org.id}&region=eu-west`, { token: alice.token }));
    expect(eu).toMatchObject({ region: 'eu-west', install_ready: true, free_seats: 1 });
    const ap = await json<Availability>(await call('GET', `/games/${game}/availability?org_id=${w.org.id}&region=ap-south`, { token: alice.token }));
    expect(ap).toMatchObject({ install_ready: false, install_ready_anywhere: true, free_seats: 0 });
  });

  it('does not count draining or offline nodes', async () => {
    const w = await playWorld();
    const game = await makeGame();
    const a = await onlineNode(w, [game]);
    const b = await onlineNode(w, [game]);
    await call('POST', `/orgs/${w.org.id}/nodes/${a.id}/drain`, { token: w.admin.token });
    await db(env).run(sql`UPDATE cluster_nodes SET last_seen = '2020-01-01T00:00:00.000Z' WHERE id = ${b.id}`);
    const res = await json<Availability>(await call('GET', `/games/${game}/availability?org_id=${w.org.id}`, { token: w.admin.token }));
    expect(res).toMatchObject({ install_ready: false, free_seats: 0, regions: [] });
  });

  it('is for members of the org only', async () => {
    const w = await playWorld();
    const game = await makeGame();
    const stranger = await makeUser();
    const other = await playWorld();
    expect((await call('GET', `/games/${game}/availability?org_id=${w.org.id}`)).status).toBe(401);
    expect((await call('GET', `/games/${game}/availability?org_id=${w.org.id}`, { token: stranger.token })).status).toBe(403);
    expect((await call('GET', `/games/${game}/availability?org_id=${w.org.id}`, { token: other.admin.token })).status).toBe(403);
  });

  it('validates its inputs and answers 404 for an unknown game', async () => {
    const w = await playWorld();
    expect((await call('GET', `/games/1/availability`, { token: w.admin.token })).status).toBe(400);
    expect((await call('GET', `/games/x/availability?org_id=${w.org.id}`, { token: w.admin.token })).status).toBe(400);
    expect((await call('GET', `/games/1/availability?org_id=${w.org.id}&region=EU`, { token: w.admin.token })).status).toBe(400);
    expect((await call('GET', `/games/99999999/availability?org_id=${w.org.id}`, { token: w.admin.token })).status).toBe(404);
  });
});

describe('POST /play/{game_id} (dev/local mode)', () => {
  it('answers a Steam deep link for a Steam install', async () => {
    const w = await playWorld();
    const game = await makeGame({ steamAppid: '1593500' });
    const alice = await member(w);
    await own(w.org.id, alice.id, game);
    const node = await registerNode(w);
    await heartbeat(node.token, [install(game, { install_path: '/var/couchsuite/steam_big_picture', launcher: 'steam', executable: 'steam' })]);
    const res = await call('POST', `/play/${game}`, { token: alice.token, body: { org_id: w.org.id } });
    expect(res.status).toBe(200);
    expect(await json(res)).toMatchObject({
      game_id: game,
      node_id: node.id,
      node_online: true,
      launcher: 'steam',
      deep_link: 'steam://rungameid/1593500',
      executable_path: '/var/couchsuite/steam_big_picture/steam',
      launch: { kind: 'deep_link', target: 'steam://rungameid/1593500' },
    });
  });

  it('answers the executable path for other launchers, on the chosen node', async () => {
    const w = await playWorld();
    const game = await makeGame();
    const alice = await member(w);
    await own(w.org.id, alice.id, game);
    const a = await onlineNode(w, [game]);
    const b = await registerNode(w);
    await heartbeat(b.token, [install(game, { install_path: 'C:\\Games\\Retro', launcher: 'retro', executable: 'retro-launcher.exe' })]);
    const res = await json(await call('POST', `/play/${game}`, { token: alice.token, body: { org_id: w.org.id, node_id: b.id } }));
    expect(res).toMatchObject({ node_id: b.id, deep_link: null, launch: { kind: 'executable', target: 'C:\\Games\\Retro\\retro-launcher.exe' } });
    expect(a.id).not.toBe(b.id);
  });

  it('applies the same ownership checks as sessions', async () => {
    const w = await playWorld();
    const game = await makeGame();
    await onlineNode(w, [game]);
    const bob = await member(w);
    const stranger = await makeUser();
    expect((await call('POST', `/play/${game}`, { body: { org_id: w.org.id } })).status).toBe(401);
    const notOwned = await call('POST', `/play/${game}`, { token: bob.token, body: { org_id: w.org.id } });
    expect(notOwned.status).toBe(403);
    expect((await json(notOwned)).code).toBe('not_owned');
    const notMember = await call('POST', `/play/${game}`, { token: stranger.token, body: { org_id: w.org.id } });
    expect(notMember.status).toBe(403);
    expect((await json(notMember)).code).toBe('not_org_member');
    expect((await call('POST', `/play/99999999`, { token: bob.token, body: { org_id: w.org.id } })).status).toBe(404);
  });

  it('answers 409 when there is no install record, and 400 for bad input', async () => {
    const w = await playWorld();
    const game = await makeGame();
    const alice = await member(w);
    await own(w.org.id, alice.id, game);
    const res = await call('POST', `/play/${game}`, { token: alice.token, body: { org_id: w.org.id } });
    expect(res.status).toBe(409);
    expect((await json(res)).code).toBe('not_installed');
    expect((await call('POST', `/play/${game}`, { token: alice.token, body: {} })).status).toBe(400);
    expect((await call('POST', `/play/abc`, { token: alice.token, body: { org_id: w.org.id } })).status).toBe(400);
  });
});
