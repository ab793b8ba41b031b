/**
 * Two tenants side by side: nothing one org's member can call reveals the other org's installs,
 * members, libraries or even its existence (errors for a foreign org equal those for a missing one).
 */
import { env } from 'cloudflare:test';
import { beforeAll, describe, expect, it } from 'vitest';
import { db } from '../../../src/db/client';
import { apps, chartsTop10, userAccounts } from '../../../src/db/schema';
import { call, json } from '../../support/http';
import { addMember, makeOrg, makeUser, type TestUser } from '../../support/users';
import { installGame, makeGame } from '../library/fakes';

type Tile = { id: string; installed: boolean; owned: boolean };
const MISSING = 987654321;

let orgA: { id: number };
let orgB: { id: number };
let alice: TestUser; // admin of A
let bob: TestUser; // owner of B
let game: { id: number };
let bobEntry: number;

beforeAll(async () => {
  orgA = await makeOrg({ name: 'Alpha Household' });
  orgB = await makeOrg({ name: 'Beta Household' });
  alice = await makeUser();
  bob = await makeUser();
  await addMember(orgA.id, alice.id, 'admin');
  await addMember(orgB.id, bob.id, 'owner');
  game = await makeGame({ slug: 'only-in-b', name: 'Only In B', steam: '4000' });
  await db(env).insert(apps).values({ id: 'only-in-b', name: 'Only In B', moonlightName: 'Only In B' }).run();
  await db(env).insert(chartsTop10).values({ chartDate: '2026-11-21', rank: 1, name: 'Only In B', steamAppid: 4000, gameId: game.id }).run();
  await installGame(orgB.id, game.id);
  await db(env).insert(userAccounts).values({ orgId: orgB.id, userId: bob.id, platform: 'steam', accountId: '76561197960287999' }).run();
  const res = await call('POST', `/users/${bob.id}/library/proofs`, {
    token: bob.token,
    body: { kind: 'manual', org_id: orgB.id, game_id: game.id, receipt: { store: 'Shop', order_id: 'B-1', purchased_at: '2025-02-02' } },
  });
  bobEntry = (await json<{ id: number }>(res)).id;
});

async function sameRefusal(a: Response, b: Response) {
  expect(a.status).toBe(b.status);
  expect(a.status).toBeGreaterThanOrEqual(400);
  expect(await a.json()).toEqual(await b.json());
}

describe('cross-tenant isolation', () => {
  it('tiles: installed only for the org that has it, never for anonymous callers or other tenants', async () => {
    const mine = await json<Tile[]>(await call('GET', '/apps', { token: alice.token }));
    expect(mine.find((t) => t.id === 'only-in-b')).toMatchObject({ installed: false, owned: false });
    const anon = await json<Tile[]>(await call('GET', '/apps'));
    expect(anon.find((t) => t.id === 'only-in-b')?.installed).toBe(false);
    const theirs = await json<Tile[]>(await call('GET', '/apps', { token: bob.token }));
    expect(theirs.find((t) => t.id === 'only-in-b')?.installed).toBe(true);
    await sameRefusal(await call('GET', `/apps?org_id=${orgB.id}`, { token: alice.token }), await call('GET', `/apps?org_id=${MISSING}`, { token: alice.token }));
    await sameRefusal(await call('GET', `/repo/default?org_id=${orgB.id}`, { token: alice.token }), await call('GET', `/repo/default?org_id=${MISSING}`, { token: alice.token }));
    await sameRefusal(
      await call('GET', `/users/${alice.id}/apps?org_id=${orgB.id}`, { token: alice.token }),
      await call('GET', `/users/${alice.id}/apps?org_id=${MISSING}`, { token: alice.token }),
    );
    expect((await call('GET', `/apps?org_id=${orgB.id}`)).status).toBe(400);
  });

  it('orgs and members: only one’s own', async () => {
    const list = await json<Array<{ id: number }>>(await call('GET', '/orgs', { token: alice.token }));
    expect(list.map((o) => o.id)).toEqual([orgA.id]);
    await sameRefusal(await call('GET', `/orgs/${orgB.id}/members`, { token: alice.token }), await call('GET', `/orgs/${MISSING}/members`, { token: alice.token }));
    await sameRefusal(
      await call('POST', `/orgs/${orgB.id}/members`, { token: alice.token, body: { user_id: alice.id } }),
      await call('POST', `/orgs/${MISSING}/members`, { token: alice.token, body: { user_id: alice.id } }),
    );
    await sameRefusal(
      await call('PUT', `/orgs/${orgB.id}/members/${bob.id}`, { token: alice.token, body: { role: 'member' } }),
      await call('PUT', `/orgs/${MISSING}/members/${bob.id}`, { token: alice.token, body: { role: 'member' } }),
    );
    await sameRefusal(await call('DELETE', `/orgs/${orgB.id}/members/${bob.id}`, { token: alice.token }), await call('DELETE', `/orgs/${MISSING}/members/${bob.id}`, { token: alice.token }));
    await sameRefusal(await call('POST', `/orgs/${orgB.id}/invites`, { token: alice.token, body: {} }), await call('POST', `/orgs/${MISSING}/invites`, { token: alice.token, body: {} }));
    await sameRefusal(await call('POST', `/orgs/${orgB.id}/leave`, { token: alice.token }), await call('POST', `/orgs/${MISSING}/leave`, { token: alice.token }));
  });

  it('libraries, proofs, reviews and Steam: nothing crosses', async () => {
    await sameRefusal(
      await call('GET', `/users/${bob.id}/library?org_id=${orgB.id}`, { token: alice.token }),
      await call('GET', `/users/${bob.id}/library?org_id=${MISSING}`, { token: alice.token }),
    );
    // Alice administers A; Bob's entry lives in B: through A it is simply not there.
    await sameRefusal(
      await call('POST', `/orgs/${orgA.id}/library/${bobEntry}/verify`, { token: alice.token, body: { kind: 'manual' } }),
      await call('POST', `/orgs/${orgA.id}/library/${MISSING}/verify`, { token: alice.token, body: { kind: 'manual' } }),
    );
    await sameRefusal(
      await call('POST', `/orgs/${orgB.id}/library/${bobEntry}/reject`, { token: alice.token, body: { kind: 'manual' } }),
      await call('POST', `/orgs/${MISSING}/library/${bobEntry}/reject`, { token: alice.token, body: { kind: 'manual' } }),
    );
    const proof = { kind: 'manual', game_id: game.id, receipt: { store: 'Shop', order_id: 'A-1', purchased_at: '2025-02-02' } };
    await sameRefusal(
      await call('POST', `/users/${alice.id}/library/proofs`, { token: alice.token, body: { ...proof, org_id: orgB.id } }),
      await call('POST', `/users/${alice.id}/library/proofs`, { token: alice.token, body: { ...proof, org_id: MISSING } }),
    );
    await sameRefusal(
      await call('POST', '/ownership/verify/steam', { token: alice.token, body: { org_id: orgB.id } }),
      await call('POST', '/ownership/verify/steam', { token: alice.token, body: { org_id: MISSING } }),
    );
    await sameRefusal(
      await call('GET', `/auth/link/steam/start?org_id=${orgB.id}`, { token: alice.token }),
      await call('GET', `/auth/link/steam/start?org_id=${MISSING}`, { token: alice.token }),
    );
    // Her own library in A is empty: no count or flag of B's entries leaks into it.
    expect(await json(await call('GET', `/users/${alice.id}/library?org_id=${orgA.id}`, { token: alice.token }))).toEqual([]);
    // Bob's entry is still pending: nothing Alice did changed it.
    const lib = await json<Array<{ proofs: Array<{ status: string }>; install_ready: boolean }>>(await call('GET', `/users/${bob.id}/library?org_id=${orgB.id}`, { token: bob.token }));
    expect(lib[0]!.proofs[0]!.status).toBe('pending');
    expect(lib[0]!.install_ready).toBe(true);
  });
});
