import { env } from 'cloudflare:test';
import { and, eq } from 'drizzle-orm';
import { afterEach, beforeAll, describe, expect, it } from 'vitest';
import { db } from '../../../src/db/client';
import { auditLog, gameEnrichment, gameExternalIds, libraryProofs, userAccounts, userGameLibrary } from '../../../src/db/schema';
import { call, json } from '../../support/http';
import { addMember, makeOrg, makeUser } from '../../support/users';
import owned from '../../fixtures/steam/owned-games.json';
import afterSale from '../../fixtures/steam/owned-games-after-sale.json';
import privateProfile from '../../fixtures/steam/owned-games-private.json';
import zero from '../../fixtures/steam/owned-games-zero.json';
import rateLimited from '../../fixtures/steam/rate-limited.json';
import unavailable from '../../fixtures/steam/unavailable.json';
import { fakeSteam, makeGame, type Recorded } from './fakes';

type Entry = { id: number; game: { id: number }; verified_at: string | null; owned: boolean; ownership_source: string; proof_value: string | null; proofs: Array<{ kind: string; status: string; proof: Record<string, unknown> }> };
type VerifyOut = { verified: number[]; withdrawn: number[]; steam_game_count: number; matched: number; added_to_catalog: number; library: Entry[] };

let bigPicture: { id: number };
let cyberpunk: { id: number };
let portal: { id: number };
beforeAll(async () => {
  portal = await makeGame({ steam: '620', slug: 'portal-2', name: 'Portal 2' });
  bigPicture = await makeGame({ steam: '1593500', slug: 'steam_big_picture', name: 'Steam Big Picture' });
  cyberpunk = await makeGame({ steam: '1091500', slug: 'cyberpunk-2077', name: 'Cyberpunk 2077' });
});

let restore: (() => void) | null = null;
afterEach(() => {
  restore?.();
  restore = null;
});

function steam(...owned: Recorded[]) {
  const fake = fakeSteam({ owned });
  restore = fake.restore;
  return fake;
}

let steamSeq = 0;
async function linkedMember() {
  const org = await makeOrg();
  const user = await makeUser();
  await addMember(org.id, user.id, 'member');
  steamSeq += 1;
  const steamId = `7656119796${String(1000000 + steamSeq)}`;
  await db(env).insert(userAccounts).values({ orgId: org.id, userId: user.id, platform: 'steam', accountId: steamId }).run();
  return { org, user, steamId };
}

async function verify(token: string, body: Record<string, unknown>) {
  return call('POST', '/ownership/verify/steam', { token, body });
}

describe('POST /ownership/verify/steam', () => {
  it('maps the owned appids through the catalog and records verified Steam proofs in one go', async () => {
    const { org, user, steamId } = await linkedMember();
    const fake = steam(owned);
    const res = await verify(user.token, { org_id: org.id });
    expect(res.status).toBe(200);
    const body = await json<VerifyOut>(res);
    expect(body.verified).toEqual([portal.id, bigPicture.id, cyberpunk.id].sort((a, b) => a - b));
    expect(body.withdrawn).toEqual([]);
    expect(body.steam_game_count).toBe(3);
    expect(body.matched).toBe(3);
    expect(body.added_to_catalog).toBe(0);
    const url = new URL(fake.calls[0]!.url);
    expect(url.pathname).toBe('/IPlayerService/GetOwnedGames/v1/');
    expect(url.searchParams.get('key')).toBe('test-steam-key');
    expect(url.searchParams.get('steamid')).toBe(steamId);
    const entry = body.library.find((e) => e.game.id === bigPicture.id)!;
    expect(entry.owned).toBe(true);
    expect(entry.verified_at).not.toBeNull();
    expect(entry.ownership_source).toBe('steam');
    expect(JSON.parse(entry.proof_value!)).toMatchObject({ appid: 1593500, playtime: 4120 });
    expect(entry.proofs[0]).toMatchObject({ kind: 'steam', status: 'verified', proof: { appid: 1593500, playtime: 4120 } });
    expect(typeof entry.proofs[0]!.proof.timestamp).toBe('string');
    const audits = await db(env).select().from(auditLog).where(and(eq(auditLog.action, 'ownership.steam.verify'), eq(auditLog.orgId, org.id)));
    expect(audits).toHaveLength(1);
  });

  it('uses the caller’s primary org when none is named', async () => {
    const { user } = await linkedMember();
    steam(owned);
    expect((await verify(user.token, {})).status).toBe(200);
  });

  it('reports a private profile clearly and deletes nothing', async () => {
    const { org, user } = await linkedMember();
    steam(owned);
    await verify(user.token, { org_id: org.id });
    restore!();
    steam(privateProfile);
    const res = await verify(user.token, { org_id: org.id });
    expect(res.status).toBe(409);
    const body = await json<{ error: string; code: string }>(res);
    expect(body.code).toBe('steam_profile_private');
    expect(body.error).toMatch(/private/);
    const lib = await json<Entry[]>(await call('GET', `/users/${user.id}/library?org_id=${org.id}`, { token: user.token }));
    expect(lib.filter((e) => e.owned)).toHaveLength(3);
  });

  it('withdraws Steam proofs of games no longer owned, keeping the other proofs', async () => {
    const { org, user } = await linkedMember();
    steam(owned);
    await verify(user.token, { org_id: org.id });
    // A manual receipt for the same game, approved by an org admin, survives the Steam withdrawal.
    const admin = await makeUser();
    await addMember(org.id, admin.id, 'admin');
    const proof = await call('POST', `/users/${user.id}/library/proofs`, {
      token: user.token,
      body: { kind: 'manual', org_id: org.id, game_id: cyberpunk.id, receipt: { store: 'Retail box', order_id: 'R-1001', purchased_at: '2024-12-24' } },
    });
    expect(proof.status).toBe(201);
    const entryId = (await json<{ id: number }>(proof)).id;
    restore!();
    steam(afterSale);
    const body = await json<VerifyOut>(await verify(user.token, { org_id: org.id }));
    expect(body.verified).toEqual([portal.id, cyberpunk.id].sort((a, b) => a - b));
    expect(body.withdrawn).toEqual([bigPicture.id]);
    const gone = body.library.find((e) => e.game.id === bigPicture.id)!;
    expect(gone.owned).toBe(false);
    expect(gone.verified_at).toBeNull();
    expect(gone.proofs).toEqual([expect.objectContaining({ kind: 'steam', status: 'withdrawn' })]);
    const kept = body.library.find((e) => e.game.id === cyberpunk.id)!;
    expect(kept.id).toBe(entryId);
    expect(kept.proofs.map((p) => [p.kind, p.status]).sort()).toEqual([
      ['manual', 'pending'],
      ['steam', 'verified'],
    ]);
    // Zero games now: every Steam proof is withdrawn, the manual one stays.
    restore!();
    steam(zero);
    const none = await json<VerifyOut>(await verify(user.token, { org_id: org.id }));
    expect(none.verified).toEqual([]);
    expect(none.steam_game_count).toBe(0);
    expect(none.library.every((e) => !e.owned)).toBe(true);
    const rows = await db(env).select().from(libraryProofs).where(eq(libraryProofs.entryId, entryId));
    expect(rows.find((r) => r.kind === 'manual')?.status).toBe('pending');
    expect(rows.find((r) => r.kind === 'steam')?.status).toBe('withdrawn');
    // Buying it back re-verifies it.
    restore!();
    steam(owned);
    const back = await json<VerifyOut>(await verify(user.token, { org_id: org.id }));
    expect(back.library.filter((e) => e.owned)).toHaveLength(3);
  });

  it('retries a 429 and succeeds', async () => {
    const { org, user } = await linkedMember();
    const fake = steam(rateLimited, owned);
    const res = await verify(user.token, { org_id: org.id });
    expect(res.status).toBe(200);
    expect(fake.calls).toHaveLength(2);
  });

  it('gives up after a bounded number of 5xx answers with a 502, writing nothing', async () => {
    const { org, user } = await linkedMember();
    const fake = steam(unavailable);
    const res = await verify(user.token, { org_id: org.id });
    expect(res.status).toBe(502);
    const body = await json<{ error: string; code: string }>(res);
    expect(body.code).toBe('steam_unavailable');
    expect(body.error).toMatch(/HTTP 503/);
    expect(fake.calls).toHaveLength(3);
    const rows = await db(env).select().from(userGameLibrary).where(and(eq(userGameLibrary.orgId, org.id), eq(userGameLibrary.userId, user.id)));
    expect(rows).toHaveLength(0);
  });

  it('needs a linked account in that org', async () => {
    const org = await makeOrg();
    const user = await makeUser();
    await addMember(org.id, user.id, 'member');
    const fake = steam(owned);
    const res = await verify(user.token, { org_id: org.id });
    expect(res.status).toBe(409);
    expect(await json(res)).toMatchObject({ code: 'steam_not_linked' });
    expect(fake.calls).toHaveLength(0);
  });

  it('never trusts a steam id or game list from the body', async () => {
    const { org, user } = await linkedMember();
    const fake = steam(owned);
    for (const body of [{ org_id: org.id, steam_id: '76561197960287930' }, { org_id: org.id, game_ids: [bigPicture.id] }, { org_id: 'one' }]) {
      expect((await verify(user.token, body)).status).toBe(400);
    }
    expect(fake.calls).toHaveLength(0);
  });

  it('refuses anonymous callers, other users, and orgs the user is not in; a platform admin may verify for a member', async () => {
    const { org, user } = await linkedMember();
    const other = await makeUser();
    await addMember(org.id, other.id, 'admin');
    const elsewhere = await makeOrg();
    const fake = steam(owned);
    expect((await call('POST', '/ownership/verify/steam', { body: { org_id: org.id } })).status).toBe(401);
    expect((await verify(other.token, { org_id: org.id, user_id: user.id })).status).toBe(403);
    const theirs = await verify(user.token, { org_id: elsewhere.id });
    const missing = await verify(user.token, { org_id: 999999 });
    expect(theirs.status).toBe(403);
    expect(await theirs.json()).toEqual(await missing.json());
    expect(fake.calls).toHaveLength(0);
    const root = await makeUser({ role: 'admin' });
    expect((await verify(root.token, { org_id: org.id, user_id: user.id })).status).toBe(200);
  });

  it('adds owned games the catalog lacks as stubs, owned at once and queued for store details — once', async () => {
    const { org, user } = await linkedMember();
    const ownsNew: Recorded = {
      status: 200,
      headers: { 'content-type': 'application/json; charset=UTF-8' },
      body: { response: { game_count: 2, games: [{ appid: 1245620, playtime_forever: 6120 }, { appid: 1593500, playtime_forever: 12 }] } },
    };
    steam(ownsNew);
    const body = await json<VerifyOut>(await verify(user.token, { org_id: org.id }));
    expect(body).toMatchObject({ steam_game_count: 2, matched: 1, added_to_catalog: 1 });
    const added = await db(env).select().from(gameExternalIds).where(and(eq(gameExternalIds.platform, 'steam'), eq(gameExternalIds.externalId, '1245620'))).get();
    expect(added).toBeDefined();
    const entry = body.library.find((e) => e.game.id === added!.gameId)!;
    expect(entry.owned).toBe(true);
    expect(entry.game).toMatchObject({ name: 'Steam app 1245620', slug: 'steam-app-1245620' });
    const job = await db(env).select().from(gameEnrichment).where(eq(gameEnrichment.gameId, added!.gameId)).get();
    expect(job).toMatchObject({ source: 'steam', externalId: '1245620' });
    // A second verification adds nothing new to the catalog and queues nothing twice.
    const again = await json<VerifyOut>(await verify(user.token, { org_id: org.id }));
    expect(again).toMatchObject({ matched: 2, added_to_catalog: 0 });
    expect(await db(env).select().from(gameEnrichment).where(eq(gameEnrichment.gameId, added!.gameId))).toHaveLength(1);
  });
});
