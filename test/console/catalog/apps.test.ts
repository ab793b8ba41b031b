import { env } from 'cloudflare:test';
import { and, eq } from 'drizzle-orm';
import { beforeAll, describe, expect, it } from 'vitest';
import { db } from '../../../src/db/client';
import { apps, chartsTop10, userApps, userGameLibrary } from '../../../src/db/schema';
import { call, json } from '../../support/http';
import { addMember, makeOrg, makeUser } from '../../support/users';
import { installGame, makeGame } from '../library/fakes';

type Tile = { id: string; name: string; moonlight_name: string; enabled: boolean; sort_order: number; installed: boolean; owned: boolean; game_id: number | null; chart_rank: number | null; chart_date: string | null; steam_appid: number | null };

const appRow = { id: 'steam_big_picture', name: 'Steam Big Picture', moonlight_name: 'Steam Big Picture', enabled: true, sort_order: 1 };

describe('apps table: platform-admin writes', () => {
  it('creates, updates and deletes app rows with the contract’s AppOut', async () => {
    const admin = await makeUser({ role: 'admin' });
    const res = await call('POST', '/apps', { token: admin.token, body: { id: 'retro_arcade', name: 'Retro Arcade', moonlight_name: 'Retro Arcade' } });
    expect(res.status).toBe(201);
    expect(await json(res)).toEqual({ id: 'retro_arcade', name: 'Retro Arcade', moonlight_name: 'Retro Arcade', enabled: true, sort_order: 100, description: null, cover_url: null, chart_rank: null, chart_date: null, game_id: null });
    expect((await call('POST', '/apps', { token: admin.token, body: { id: 'retro_arcade', name: 'x', moonlight_name: 'x' } })).status).toBe(409);
    const put = await call('PUT', '/apps/retro_arcade', { token: admin.token, body: { name: 'Retro Arcade Classics', moonlight_name: 'Retro', enabled: false, sort_order: 3 } });
    expect(put.status).toBe(200);
    expect(await json(put)).toMatchObject({ id: 'retro_arcade', name: 'Retro Arcade Classics', enabled: false, sort_order: 3 });
    // The prototype answered with the body's id; a mismatching one is refused here.
    expect((await call('PUT', '/apps/retro_arcade', { token: admin.token, body: { id: 'other', name: 'x', moonlight_name: 'x' } })).status).toBe(400);
    expect((await call('PUT', '/apps/nope', { token: admin.token, body: { name: 'x', moonlight_name: 'x' } })).status).toBe(404);
    expect(await json(await call('DELETE', '/apps/retro_arcade', { token: admin.token }))).toEqual({ deleted: 'retro_arcade' });
    expect((await call('DELETE', '/apps/retro_arcade', { token: admin.token })).status).toBe(404);
  });

  it('refuses anonymous callers and non-admins, and bad bodies, writing nothing', async () => {
    const user = await makeUser();
    const admin = await makeUser({ role: 'admin' });
    const body = { id: 'sneaky', name: 'x', moonlight_name: 'x' };
    expect((await call('POST', '/apps', { body })).status).toBe(401);
    expect((await call('POST', '/apps', { token: user.token, body })).status).toBe(403);
    expect((await call('PUT', '/apps/sneaky', { token: user.token, body })).status).toBe(403);
    expect((await call('DELETE', '/apps/sneaky', { token: user.token })).status).toBe(403);
    for (const bad of [{ ...body, id: 'has space' }, { ...body, enabled: 'yes' }, { ...body, sort_order: 1.5 }, { ...body, installed: true }, { id: 'sneaky' }]) {
      expect((await call('POST', '/apps', { token: admin.token, body: bad })).status).toBe(400);
    }
    expect(await db(env).select().from(apps).where(eq(apps.id, 'sneaky')).get()).toBeUndefined();
  });
});

describe('tiles', () => {
  let game: { id: number };
  let chartOnly: { id: number };
  beforeAll(async () => {
    game = await makeGame({ slug: 'steam_big_picture', name: 'Steam Big Picture', steam: '1593500' });
    chartOnly = await makeGame({ slug: 'switch_emulator', name: 'Switch Emulator' });
    await db(env).insert(apps).values({ id: appRow.id, name: appRow.name, moonlightName: appRow.moonlight_name, enabled: true, sortOrder: 1 }).run();
    await db(env)
      .insert(chartsTop10)
      .values([
        { chartDate: '2026-11-21', rank: 1, name: 'Steam Big Picture', steamAppid: 1593500, gameId: game.id },
        { chartDate: '2026-11-21', rank: 2, name: 'Switch Emulator', gameId: chartOnly.id },
        { chartDate: '2026-11-21', rank: 3, name: 'Unknown Indie', steamAppid: 999 },
      ])
      .run();
  });

  it('GET /apps gives anonymous callers the catalog with no installs or ownership', async () => {
    const org = await makeOrg();
    await installGame(org.id, game.id);
    const res = await call('GET', '/apps');
    expect(res.status).toBe(200);
    const tiles = await json<Tile[]>(res);
    expect(tiles.map((t) => t.id)).toEqual(['steam_big_picture', 'switch_emulator', 'chart-2026-11-21-3']);
    expect(tiles.every((t) => !t.installed && !t.owned)).toBe(true);
    expect(tiles[0]).toMatchObject({ name: 'Steam Big Picture', sort_order: 1, chart_rank: 1, steam_appid: 1593500, game_id: game.id });
  });

  it('computes installed and owned for the caller’s org; ?enabled filters; /repo/default matches', async () => {
    const org = await makeOrg();
    const user = await makeUser();
    await addMember(org.id, user.id, 'member');
    await installGame(org.id, game.id);
    await db(env).insert(userGameLibrary).values({ orgId: org.id, userId: user.id, gameId: game.id, ownershipSource: 'steam', verifiedAt: new Date().toISOString() }).run();
    const tiles = await json<Tile[]>(await call('GET', '/apps', { token: user.token }));
    expect(tiles[0]).toMatchObject({ id: 'steam_big_picture', installed: true, owned: true });
    expect(tiles[1]).toMatchObject({ installed: false, owned: false });
    expect(await json(await call('GET', '/repo/default', { token: user.token }))).toEqual(tiles);
    expect(await json(await call('GET', '/apps?enabled=false', { token: user.token }))).toEqual([]);
    expect((await json<Tile[]>(await call('GET', '/apps?enabled=true', { token: user.token }))).length).toBe(3);
    expect((await call('GET', '/apps?enabled=yes')).status).toBe(400);
    expect((await call('GET', '/apps?chart_date=yesterday')).status).toBe(400);
    expect(await json(await call('GET', '/apps?chart_date=2020-01-01'))).toEqual([
      expect.objectContaining({ id: 'steam_big_picture', installed: true, owned: false, chart_rank: null }),
    ]);
  });

  it('an unverified library entry is not owned', async () => {
    const org = await makeOrg();
    const user = await makeUser();
    await addMember(org.id, user.id, 'member');
    await db(env).insert(userGameLibrary).values({ orgId: org.id, userId: user.id, gameId: game.id, ownershipSource: 'manual' }).run();
    const tiles = await json<Tile[]>(await call('GET', '/apps', { token: user.token }));
    expect(tiles[0]!.owned).toBe(false);
  });

  it('GET /users/{id}/apps: self or platform admin, for one of the user’s orgs only', async () => {
    const org = await makeOrg();
    const user = await makeUser();
    const peer = await makeUser();
    await addMember(org.id, user.id, 'member');
    await addMember(org.id, peer.id, 'admin');
    await installGame(org.id, game.id);
    const mine = await call('GET', `/users/${user.id}/apps?org_id=${org.id}`, { token: user.token });
    expect(mine.status).toBe(200);
    expect((await json<Tile[]>(mine))[0]!.installed).toBe(true);
    expect((await call('GET', `/users/${user.id}/apps`, { token: peer.token })).status).toBe(403);
    expect((await call('GET', `/users/${user.id}/apps`)).status).toBe(401);
    const root = await makeUser({ role: 'admin' });
    expect((await call('GET', `/users/${user.id}/apps`, { token: root.token })).status).toBe(200);
    expect((await call('GET', `/users/${user.id}/apps?org_id=abc`, { token: user.token })).status).toBe(400);
  });

  it('without org_id the tiles are for the user’s first org by name; org_id picks another of theirs', async () => {
    const zeta = await makeOrg({ name: 'Zeta Arcade' });
    const alpha = await makeOrg({ name: 'Alpha Lounge' });
    const user = await makeUser();
    await addMember(zeta.id, user.id, 'member');
    await addMember(alpha.id, user.id, 'member');
    await installGame(zeta.id, game.id);
    const byDefault = await json<Tile[]>(await call('GET', `/users/${user.id}/apps`, { token: user.token }));
    expect(byDefault[0]).toMatchObject({ id: 'steam_big_picture', installed: false });
    const inZeta = await json<Tile[]>(await call('GET', `/users/${user.id}/apps?org_id=${zeta.id}`, { token: user.token }));
    expect(inZeta[0]).toMatchObject({ id: 'steam_big_picture', installed: true });
    expect(await json(await call('GET', '/apps', { token: user.token }))).toEqual(byDefault);
  });

  it('org_id outside the user’s orgs: 403 for members and for an admin reading another user, allowed for an admin’s own tiles', async () => {
    const mine = await makeOrg();
    const foreign = await makeOrg();
    const user = await makeUser();
    const root = await makeUser({ role: 'admin' });
    await addMember(mine.id, user.id, 'member');
    await installGame(foreign.id, game.id);
    const refused = await call('GET', `/users/${user.id}/apps?org_id=${foreign.id}`, { token: user.token });
    expect(refused.status).toBe(403);
    expect(await json(refused)).toMatchObject({ code: 'not_org_member' });
    expect((await call('GET', `/apps?org_id=${foreign.id}`, { token: user.token })).status).toBe(403);
    // A platform admin may look at any org for themself, but not place another user in an org they are not in.
    const asAdmin = await call('GET', `/users/${root.id}/apps?org_id=${foreign.id}`, { token: root.token });
    expect(asAdmin.status).toBe(200);
    expect((await json<Tile[]>(asAdmin))[0]).toMatchObject({ id: 'steam_big_picture', installed: true });
    const forOther = await call('GET', `/users/${user.id}/apps?org_id=${foreign.id}`, { token: root.token });
    expect(forOther.status).toBe(403);
    expect(await json(forOther)).toMatchObject({ code: 'not_org_member' });
    expect((await call('GET', `/apps?org_id=${foreign.id}`)).status).toBe(400);
  });

  it('PUT /users/{id}/apps/{app_id} stores the user’s flag and answers the tile; nothing written for apps outside the catalog', async () => {
    const user = await makeUser();
    const peer = await makeUser();
    const res = await call('PUT', `/users/${user.id}/apps/steam_big_picture`, { token: user.token, body: { installed: true } });
    expect(res.status).toBe(200);
    expect(await json(res)).toMatchObject({ id: 'steam_big_picture' });
    expect((await db(env).select().from(userApps).where(and(eq(userApps.userId, user.id), eq(userApps.appId, 'steam_big_picture'))).get())?.installed).toBe(true);
    await db(env).insert(apps).values({ id: 'not_charted', name: 'N', moonlightName: 'N' }).onConflictDoNothing().run();
    expect((await call('PUT', `/users/${user.id}/apps/not_charted`, { token: user.token, body: { installed: true } })).status).toBe(404);
    expect((await call('PUT', `/users/${user.id}/apps/ghost`, { token: user.token, body: { installed: true } })).status).toBe(404);
    expect(await db(env).select().from(userApps).where(and(eq(userApps.userId, user.id), eq(userApps.appId, 'not_charted'))).get()).toBeUndefined();
    expect((await call('PUT', `/users/${user.id}/apps/steam_big_picture`, { token: peer.token, body: { installed: false } })).status).toBe(403);
    expect((await call('PUT', `/users/${user.id}/apps/steam_big_picture`, { body: { installed: false } })).status).toBe(401);
    for (const bad of [{ installed: 'yes' }, {}, { installed: true, owned: true }]) {
      expect((await call('PUT', `/users/${user.id}/apps/steam_big_picture`, { token: user.token, body: bad })).status).toBe(400);
    }
    expect((await db(env).select().from(userApps).where(eq(userApps.userId, user.id)).get())?.installed).toBe(true);
  });
});
