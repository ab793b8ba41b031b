import { env } from 'cloudflare:test';
import { eq } from 'drizzle-orm';
import { describe, expect, it } from 'vitest';
import { db } from '../../../src/db/client';
import { auditLog, gameExternalIds, games } from '../../../src/db/schema';
import { call, client, json } from '../../support/http';
import { makeUser } from '../../support/users';

type Game = { id: number; slug: string; name: string; description: string | null; rating: number | null; cover_url: string | null; external_ids: Record<string, string>; platforms: string[]; ratings: Array<{ source: string; score: number; details: string | null }> };
type Page = { items: Game[]; total: number; limit: number; offset: number; next_offset: number | null };

const elden = {
  slug: 'elden-ring',
  name: 'ELDEN RING',
  description: 'Rise, Tarnished, and be guided by grace.',
  rating: 4.8,
  external_ids: { steam: '1245620', xbox: '9P3J32CTXLRZ' },
  ratings: [
    { source: 'metacritic', score: 96, details: 'PC' },
    { source: 'steam', score: 92 },
  ],
};

describe('games: admin writes', () => {
  it('creates a game with external ids and ratings, readable by anyone', async () => {
    const admin = await makeUser({ role: 'admin' });
    const res = await client({ token: admin.token }).games.$post({ json: elden });
    expect(res.status).toBe(201);
    const game = await json<Game>(res);
    expect(game).toMatchObject({ slug: 'elden-ring', name: 'ELDEN RING', rating: 4.8, cover_url: null, external_ids: elden.external_ids, platforms: ['steam', 'xbox'] });
    expect(game.ratings).toEqual([
      { source: 'metacritic', score: 96, details: 'PC' },
      { source: 'steam', score: 92, details: null },
    ]);
    const read = await client().games[':game_id'].$get({ param: { game_id: String(game.id) } });
    expect(read.status).toBe(200);
    expect(await json(read)).toEqual(game);
    expect((await db(env).select().from(auditLog).where(eq(auditLog.action, 'game.create'))).length).toBeGreaterThan(0);
  });

  it('answers 409 for a taken slug or store id, writing nothing', async () => {
    const admin = await makeUser({ role: 'admin' });
    await client({ token: admin.token }).games.$post({ json: { slug: 'hades', name: 'Hades', external_ids: { steam: '1145360' } } });
    const dupSlug = await client({ token: admin.token }).games.$post({ json: { slug: 'hades', name: 'Hades again' } });
    expect(dupSlug.status).toBe(409);
    const dupStore = await client({ token: admin.token }).games.$post({ json: { slug: 'hades-copy', name: 'Copy', external_ids: { steam: '1145360' } } });
    expect(dupStore.status).toBe(409);
    expect(await db(env).select().from(games).where(eq(games.slug, 'hades-copy')).get()).toBeUndefined();
  });

  it('updates fields and replaces external ids and ratings; deletes', async () => {
    const admin = await makeUser({ role: 'admin' });
    const game = await json<Game>(await client({ token: admin.token }).games.$post({ json: { ...elden, slug: 'er-2', external_ids: { gog: '1207664643' } } }));
    const res = await client({ token: admin.token }).games[':game_id'].$put({ param: { game_id: String(game.id) }, json: { name: 'Elden Ring', external_ids: { epic: 'a8d1b2c3' }, ratings: [] } });
    expect(res.status).toBe(200);
    expect(await json(res)).toMatchObject({ name: 'Elden Ring', external_ids: { epic: 'a8d1b2c3' }, ratings: [], description: elden.description });
    expect((await client({ token: admin.token }).games[':game_id'].$put({ param: { game_id: '99999999' }, json: { name: 'x' } })).status).toBe(404);
    expect((await client({ token: admin.token }).games[':game_id'].$delete({ param: { game_id: String(game.id) } })).status).toBe(200);
    expect((await client().games[':game_id'].$get({ param: { game_id: String(game.id) } })).status).toBe(404);
    expect(await db(env).select().from(gameExternalIds).where(eq(gameExternalIds.gameId, game.id))).toHaveLength(0);
    expect((await client({ token: admin.token }).games[':game_id'].$delete({ param: { game_id: String(game.id) } })).status).toBe(404);
  });

  it('refuses anonymous callers and non-admins on every write', async () => {
    const user = await makeUser();
    expect((await client().games.$post({ json: elden })).status).toBe(401);
    expect((await client({ token: user.token }).games.$post({ json: { ...elden, slug: 'nope' } })).status).toBe(403);
    expect((await client({ token: user.token }).games[':game_id'].$put({ param: { game_id: '1' }, json: { name: 'x' } })).status).toBe(403);
    expect((await client({ token: user.token }).games[':game_id'].$delete({ param: { game_id: '1' } })).status).toBe(403);
    expect(await db(env).select().from(games).where(eq(games.slug, 'nope')).get()).toBeUndefined();
  });

  it('rejects bad bodies with 400 and writes nothing', async () => {
    const admin = await makeUser({ role: 'admin' });
    const bad: unknown[] = [
      { ...elden, slug: 'Bad Slug' },
      { ...elden, slug: 'bad-1', rating: 7 },
      { ...elden, slug: 'bad-2', name: '' },
      { ...elden, slug: 'bad-3', cover_url: 'javascript:alert(1)' },
      { ...elden, slug: 'bad-4', cover_url: 'http://insecure.example/x.png' },
      { ...elden, slug: 'bad-5', external_ids: { 'Steam Store': '1' } },
      { ...elden, slug: 'bad-6', external_ids: { steam: 1245620 } },
      { ...elden, slug: 'bad-7', ratings: [{ source: 'x', score: 'high' }] },
      { ...elden, slug: 'bad-8', is_stub: true },
      { ...elden, slug: 'bad-9', id: 1 },
    ];
    // Ill-typed on purpose: the typed client would not compile them, the Worker must refuse them.
    for (const body of bad) expect((await client({ token: admin.token }).games.$post({ json: body as never })).status).toBe(400);
    const rows = await db(env).select().from(games);
    expect(rows.filter((g) => g.slug.startsWith('bad-'))).toHaveLength(0);
    // Not JSON at all: only the raw transport can send it.
    expect((await call('POST', '/games', { token: admin.token, raw: '{"slug":', headers: { 'Content-Type': 'application/json' } })).status).toBe(400);
  });
});

describe('GET /games', () => {
  it('pages and searches the catalog by name, with external ids in one answer', async () => {
    const admin = await makeUser({ role: 'admin' });
    for (const [slug, name, steam] of [
      ['portal-2', 'Portal 2', '620'],
      ['portal', 'Portal', '400'],
      ['half-life-2', 'Half-Life 2', '220'],
      ['percent-game', '100% Orange Juice', '282800'],
    ] as const) {
      await client({ token: admin.token }).games.$post({ json: { slug, name, external_ids: { steam } } });
    }
    const all = await json<Page>(await client().games.$get({ query: { limit: '2' } }));
    expect(all.items).toHaveLength(2);
    expect(all.next_offset).toBe(2);
    const second = await json<Page>(await client().games.$get({ query: { limit: '2', offset: String(all.next_offset) } }));
    expect(second.items[0]!.name >= all.items[1]!.name).toBe(true);
    const portal = await json<Page>(await client().games.$get({ query: { q: 'portal' } }));
    expect(portal.items.map((g) => g.name)).toEqual(['Portal', 'Portal 2']);
    expect(portal.total).toBe(2);
    expect(portal.items[1]!.external_ids).toEqual({ steam: '620' });
    // LIKE wildcards in the query are literal.
    const pct = await json<Page>(await client().games.$get({ query: { q: '%' } }));
    expect(pct.items.map((g) => g.slug)).toEqual(['percent-game']);
    expect((await json<Page>(await client().games.$get({ query: { platform: 'steam', q: 'half' } }))).items).toHaveLength(1);
    expect((await json<Page>(await client().games.$get({ query: { platform: 'epic', q: 'half' } }))).items).toHaveLength(0);
  });

  it('rejects bad queries', async () => {
    expect((await client().games.$get({ query: { limit: '0' } })).status).toBe(400);
    expect((await client().games.$get({ query: { limit: '1000' } })).status).toBe(400);
    expect((await client().games.$get({ query: { offset: '-1' } })).status).toBe(400);
    expect((await client().games[':game_id'].$get({ param: { game_id: 'abc' } })).status).toBe(400);
  });
});

describe('OpenAPI', () => {
  it('documents every console route of this area', async () => {
    const doc = await json<{ paths: Record<string, Record<string, unknown>> }>(await call('GET', '/openapi.json'));
    for (const [path, method] of [
      ['/orgs', 'get'],
      ['/orgs/{org_id}/members/{user_id}', 'put'],
      ['/orgs/{org_id}/invites', 'post'],
      ['/users/{user_id}/settings', 'put'],
      ['/games', 'get'],
      ['/games/{game_id}', 'delete'],
      ['/games/{game_id}/cover', 'put'],
      ['/covers/{key}', 'get'],
      ['/apps', 'get'],
      ['/repo/default', 'get'],
      ['/apps/{app_id}', 'put'],
      ['/users/{user_id}/apps/{app_id}', 'put'],
      ['/users/{user_id}/library', 'get'],
      ['/users/{user_id}/library/proofs', 'post'],
      ['/orgs/{org_id}/library/{entry_id}/verify', 'post'],
      ['/auth/link/steam/start', 'get'],
      ['/auth/link/steam/callback', 'get'],
      ['/auth/link/steam', 'post'],
      ['/ownership/verify/steam', 'post'],
    ] as const) {
      expect(doc.paths[path]?.[method], `${method} ${path}`).toBeDefined();
    }
  });
});
