import { env } from 'cloudflare:test';
import { and, eq } from 'drizzle-orm';
import { beforeAll, describe, expect, it } from 'vitest';
import { app } from '../../../src/app';
import { db } from '../../../src/db/client';
import { auditLog, libraryProofs, refreshSessions, userGameLibrary } from '../../../src/db/schema';
import { nowIso } from '../../../src/world';
import { call, json } from '../../support/http';
import { addMember, makeOrg, makeUser, type TestUser } from '../../support/users';
import { household } from '../household';
import { installGame, makeGame } from './fakes';

type Entry = { id: number; org_id: number; user_id: number; game: { id: number; slug: string }; verified_at: string | null; owned: boolean; install_ready: boolean; proof_type: string | null; proofs: Array<{ kind: string; status: string }> };

const EPIC_ID = '4c7d0bb3ad0a4a1cb4b2d4e4e0b5a6f1';
let fortnite: { id: number };
let other: { id: number };
beforeAll(async () => {
  fortnite = await makeGame({ epic: EPIC_ID, slug: 'fortnite', name: 'Fortnite' });
  other = await makeGame({ slug: 'loose-game' });
});

const exe = { path: 'C:/Games/Fortnite/FortniteGame/Binaries/Win64/FortniteClient-Win64-Shipping.exe', sha256: 'A3F1'.repeat(16), size: 104_857_600, mtime: '2026-10-02T17:44:10Z' };
const epic = (orgId: number, gameId = fortnite.id) => ({
  kind: 'epic',
  org_id: orgId,
  game_id: gameId,
  manifest: { app_name: 'Fortnite', catalog_item_id: EPIC_ID, namespace: 'fn', app_version: '++Fortnite+Release-32.00', install_location: 'C:/Games/Fortnite', executable: exe },
});

async function submit(user: TestUser, body: Record<string, unknown>, userId = user.id) {
  return call('POST', `/users/${userId}/library/proofs`, { token: user.token, body });
}

async function entriesOf(orgId: number, userId: number) {
  return db(env).select().from(userGameLibrary).where(and(eq(userGameLibrary.orgId, orgId), eq(userGameLibrary.userId, userId)));
}

describe('POST /users/{user_id}/library/proofs', () => {
  it('stores an Epic manifest proof as pending: the game is not owned yet', async () => {
    const { org, member } = await household();
    const res = await submit(member, epic(org.id));
    expect(res.status).toBe(201);
    const entry = await json<Entry>(res);
    expect(entry).toMatchObject({ org_id: org.id, user_id: member.id, owned: false, verified_at: null, proof_type: 'epic' });
    expect(entry.proofs).toEqual([expect.objectContaining({ kind: 'epic', status: 'pending' })]);
    const audits = await db(env).select().from(auditLog).where(and(eq(auditLog.action, 'library.proof.submit'), eq(auditLog.orgId, org.id)));
    expect(audits).toHaveLength(1);
  });

  it('accepts each kind with its own schema', async () => {
    const { org, member } = await household();
    const bodies = [
      { kind: 'xbox', org_id: org.id, game_id: other.id, entitlement: { product_id: '9NBLGGH4R315', entitlement_id: '0f8fad5b-d9cb-469f-a165-70867728950e', sku_id: '0010', acquired_at: '2025-01-01T10:00:00Z' } },
      { kind: 'microsoft', org_id: org.id, game_id: other.id, entitlement: { product_id: '9NBLGGH4R315', entitlement_id: '0f8fad5b-d9cb-469f-a165-70867728950e' } },
      { kind: 'ea', org_id: org.id, game_id: other.id, license: { offer_id: 'Origin.OFR.50.0002694', content_id: '1008632', license_type: 'full', granted_at: '2023-05-04T12:00:00Z', expires_at: null } },
      { kind: 'gog', org_id: org.id, game_id: other.id, manifest: { product_id: '1207664643', build_id: '56034251827429466', version: '1.4.1', install_location: 'D:/GOG Games/Witcher 3', executable: exe } },
      { kind: 'manual', org_id: org.id, game_id: other.id, receipt: { store: 'Retail box', order_id: 'R-2024-77', purchased_at: '2024-12-24', amount: 59.99, currency: 'EUR', note: 'Gift\nfrom grandma' } },
    ];
    for (const body of bodies) expect((await submit(member, body)).status).toBe(201);
    const lib = await json<Entry[]>(await call('GET', `/users/${member.id}/library?org_id=${org.id}`, { token: member.token }));
    expect(lib).toHaveLength(1);
    expect(lib[0]!.proofs.map((p) => p.kind).sort()).toEqual(['ea', 'gog', 'manual', 'microsoft', 'xbox']);
    expect(lib[0]!.owned).toBe(false);
  });

  it('rejects malformed proofs with 400 and writes nothing', async () => {
    const { org, member } = await household();
    const e = epic(org.id);
    const bad: unknown[] = [
      { ...e, kind: 'steam' },
      { ...e, kind: 'psn' },
      { ...e, manifest: { ...e.manifest, executable: { ...exe, sha256: 'not-a-hash' } } },
      { ...e, manifest: { ...e.manifest, executable: { ...exe, size: -1 } } },
      { ...e, manifest: { ...e.manifest, executable: { ...exe, mtime: 'yesterday' } } },
      { ...e, manifest: { ...e.manifest, executable: undefined } },
      { ...e, manifest: { ...e.manifest, verified: true } },
      { ...e, verified_at: '2026-01-01T00:00:00Z' },
      { ...e, org_id: 'one' },
      { kind: 'manual', org_id: org.id, game_id: other.id, receipt: { store: 'Shop\u0000', order_id: 'x', purchased_at: '2024-01-01' } },
      { kind: 'manual', org_id: org.id, game_id: other.id, receipt: { store: 'Shop', order_id: 'x'.repeat(500), purchased_at: '2024-01-01' } },
      { kind: 'manual', org_id: org.id, game_id: other.id, receipt: { store: 'Shop', order_id: 'x', purchased_at: '2024-01-01', status: 'approved' } },
      [],
      'proof',
    ];
    for (const body of bad) {
      const res = await submit(member, body as Record<string, unknown>);
      expect(res.status).toBe(400);
    }
    expect(await entriesOf(org.id, member.id)).toHaveLength(0);
  });

  it('refuses a manifest of another game, and unknown games', async () => {
    const { org, member } = await household();
    const e = epic(org.id);
    const res = await submit(member, { ...e, manifest: { ...e.manifest, catalog_item_id: 'f'.repeat(32), app_name: 'SomethingElse' } });
    expect(res.status).toBe(400);
    expect(await json(res)).toMatchObject({ code: 'proof_mismatch' });
    expect((await submit(member, epic(org.id, 99999999))).status).toBe(404);
    expect(await entriesOf(org.id, member.id)).toHaveLength(0);
  });

  it('refuses anonymous callers, other users, org admins acting for members, and orgs the user is not in', async () => {
    const { org, admin, member } = await household();
    const stranger = await makeOrg();
    expect((await call('POST', `/users/${member.id}/library/proofs`, { body: epic(org.id) })).status).toBe(401);
    expect((await submit(admin, epic(org.id), member.id)).status).toBe(403);
    const theirs = await submit(member, epic(stranger.id));
    const missing = await submit(member, epic(999999));
    expect(theirs.status).toBe(403);
    expect(await theirs.json()).toEqual(await missing.json());
    expect(await entriesOf(org.id, member.id)).toHaveLength(0);
    const root = await makeUser({ role: 'admin' });
    expect((await submit(root, epic(org.id), member.id)).status).toBe(201);
  });
});

describe('reviewing proofs', () => {
  async function pending() {
    const h = await household();
    const entry = await json<Entry>(await submit(h.member, epic(h.org.id)));
    return { ...h, entry };
  }

  it('an org admin verifies a pending proof: the entry becomes owned, audited', async () => {
    const { org, admin, member, entry } = await pending();
    const res = await call('POST', `/orgs/${org.id}/library/${entry.id}/verify`, { token: admin.token, body: { kind: 'epic', note: 'checked the launcher' } });
    expect(res.status).toBe(200);
    const after = await json<Entry>(res);
    expect(after.owned).toBe(true);
    expect(after.verified_at).not.toBeNull();
    expect(after.proofs[0]).toMatchObject({ kind: 'epic', status: 'verified' });
    const row = await db(env).select().from(libraryProofs).where(eq(libraryProofs.entryId, entry.id)).get();
    expect(row?.reviewedBy).toBe(admin.id);
    const audits = await db(env).select().from(auditLog).where(and(eq(auditLog.action, 'library.proof.verify'), eq(auditLog.orgId, org.id)));
    expect(audits).toHaveLength(1);
    expect((await call('POST', `/orgs/${org.id}/library/${entry.id}/verify`, { token: admin.token, body: { kind: 'epic' } })).status).toBe(409);
    // Rejecting it afterwards takes ownership away.
    const rejected = await json<Entry>(await call('POST', `/orgs/${org.id}/library/${entry.id}/reject`, { token: admin.token, body: { kind: 'epic', note: 'refunded' } }));
    expect(rejected.owned).toBe(false);
    expect(rejected.verified_at).toBeNull();
    const lib = await json<Entry[]>(await call('GET', `/users/${member.id}/library?org_id=${org.id}`, { token: member.token }));
    expect(lib[0]!.owned).toBe(false);
  });

  it('refuses members, outsiders, self-review, unknown proofs and entries of other orgs', async () => {
    const { org, admin, member, entry } = await pending();
    const outsider = await makeUser();
    const otherOrg = await makeOrg();
    await addMember(otherOrg.id, outsider.id, 'owner');
    const verify = (token: string, orgId: number, entryId: number, body: Record<string, unknown> = { kind: 'epic' }) =>
      call('POST', `/orgs/${orgId}/library/${entryId}/verify`, { token, body });
    expect((await call('POST', `/orgs/${org.id}/library/${entry.id}/verify`, { body: { kind: 'epic' } })).status).toBe(401);
    expect((await verify(member.token, org.id, entry.id)).status).toBe(403);
    expect((await verify(outsider.token, org.id, entry.id)).status).toBe(403);
    const viaOwnOrg = await verify(outsider.token, otherOrg.id, entry.id);
    const nothing = await verify(outsider.token, otherOrg.id, 99999999);
    expect(viaOwnOrg.status).toBe(404);
    expect(await viaOwnOrg.json()).toEqual(await nothing.json());
    expect((await verify(admin.token, org.id, entry.id, { kind: 'xbox' })).status).toBe(404);
    expect((await verify(admin.token, org.id, entry.id, { kind: 'steam' })).status).toBe(400);
    expect((await verify(admin.token, org.id, entry.id, { kind: 'epic', approve: true })).status).toBe(400);
    // An admin's own proof needs another reviewer.
    const own = await json<Entry>(await submit(admin, epic(org.id)));
    expect((await verify(admin.token, org.id, own.id)).status).toBe(403);
    expect((await db(env).select().from(libraryProofs).where(eq(libraryProofs.entryId, entry.id)).get())?.status).toBe('pending');
    const root = await makeUser({ role: 'admin' });
    expect((await verify(root.token, org.id, entry.id)).status).toBe(200);
  });
});

describe('GET /users/{user_id}/library', () => {
  it('shows the entries with install readiness for that org', async () => {
    const { org, member } = await household();
    await submit(member, epic(org.id));
    await installGame(org.id, fortnite.id);
    const res = await call('GET', `/users/${member.id}/library?org_id=${org.id}`, { token: member.token });
    expect(res.status).toBe(200);
    const lib = await json<Entry[]>(res);
    expect(lib).toHaveLength(1);
    expect(lib[0]).toMatchObject({ install_ready: true, game: { id: fortnite.id, slug: 'fortnite' } });
    // Without org_id: the primary org.
    expect(await json<Entry[]>(await call('GET', `/users/${member.id}/library`, { token: member.token }))).toHaveLength(1);
  });

  it('answers [] for a user without orgs', async () => {
    const loner = await makeUser();
    expect(await json(await call('GET', `/users/${loner.id}/library`, { token: loner.token }))).toEqual([]);
  });

  it('lets an admin of that org read it; refuses members, other users, other orgs’ admins and anonymous callers', async () => {
    const { org, admin, member, owner } = await household();
    await submit(member, epic(org.id));
    const path = `/users/${member.id}/library?org_id=${org.id}`;
    expect((await call('GET', path, { token: admin.token })).status).toBe(200);
    expect((await call('GET', path, { token: owner.token })).status).toBe(200);
    const peer = await makeUser();
    await addMember(org.id, peer.id, 'member');
    expect((await call('GET', path, { token: peer.token })).status).toBe(403);
    expect((await call('GET', `/users/${member.id}/library`, { token: admin.token })).status).toBe(403);
    const foreignAdmin = await makeUser();
    const foreign = await makeOrg();
    await addMember(foreign.id, foreignAdmin.id, 'owner');
    expect((await call('GET', path, { token: foreignAdmin.token })).status).toBe(403);
    // Naming their own org does not reveal anything about the member either.
    const viaOwn = await call('GET', `/users/${member.id}/library?org_id=${foreign.id}`, { token: foreignAdmin.token });
    expect(viaOwn.status).toBe(403);
    expect((await call('GET', path)).status).toBe(401);
    const root = await makeUser({ role: 'admin' });
    expect((await call('GET', path, { token: root.token })).status).toBe(200);
    expect((await call('GET', `/users/${member.id}/library?org_id=x`, { token: member.token })).status).toBe(400);
  });
});

describe('GET /users/{user_id}/library round trips (issue 17)', () => {
  const counted = { ...env, COUNT_ROUND_TRIPS: 'true' };
  const get = (path: string, token?: string) =>
    app.request(`https://edgeplane.test${path}`, { headers: token ? { Authorization: `Bearer ${token}` } : {} }, counted);

  it('answers the member, and an admin of the org, in one storage round trip', async () => {
    const { org, admin, member } = await household();
    await submit(member, epic(org.id));
    await installGame(org.id, fortnite.id);
    const path = `/users/${member.id}/library?org_id=${org.id}`;
    const own = await get(path, member.token);
    expect(own.status).toBe(200);
    expect(own.headers.get('X-Storage-Round-Trips')).toBe('1');
    expect(await json<Entry[]>(own)).toEqual([expect.objectContaining({ install_ready: true, game: expect.objectContaining({ id: fortnite.id }), proofs: [expect.objectContaining({ kind: 'epic', status: 'pending' })] })]);
    const byAdmin = await get(path, admin.token);
    expect(byAdmin.status).toBe(200);
    expect(byAdmin.headers.get('X-Storage-Round-Trips')).toBe('1');
  });

  it('refuses the wrong actor with the same codes after that one trip, a revoked caller first', async () => {
    const { org, member } = await household();
    const peer = await makeUser();
    await addMember(org.id, peer.id, 'member');
    const path = `/users/${member.id}/library?org_id=${org.id}`;
    const byPeer = await get(path, peer.token);
    expect(byPeer.status).toBe(403);
    expect(await json(byPeer)).toMatchObject({ code: 'org_role_required' });
    expect(byPeer.headers.get('X-Storage-Round-Trips')).toBe('1');
    const outsider = await makeUser();
    expect(await json(await get(path, outsider.token))).toMatchObject({ code: 'not_org_member' });
    const elsewhere = await makeOrg();
    expect(await json(await get(`/users/${member.id}/library?org_id=${elsewhere.id}`, member.token))).toMatchObject({ code: 'not_org_member' });
    const root = await makeUser({ role: 'admin' });
    expect(await json(await get(`/users/${member.id}/library?org_id=${elsewhere.id}`, root.token))).toMatchObject({ code: 'user_not_in_org' });
    expect(await json(await get(`/users/${member.id}/library`, peer.token))).toMatchObject({ code: 'not_self' });
    // Revoked: 401 even where the answer would otherwise be a 403.
    await db(env).update(refreshSessions).set({ revokedAt: nowIso() }).where(eq(refreshSessions.userId, peer.id));
    const revoked = await get(path, peer.token);
    expect(revoked.status).toBe(401);
    expect(await json(revoked)).toMatchObject({ code: 'invalid_token' });
    const anonymous = await get(path);
    expect(anonymous.status).toBe(401);
    expect(anonymous.headers.get('X-Storage-Round-Trips')).toBe('0');
  });
});
