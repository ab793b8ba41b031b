/**
 * Issue 15, server side of the shipped node agent: one-time enrolment codes, token rollover picked
 * up by the agent's heartbeat, signed assignments, the catalog lookup by store id, and signing-key
 * rotation (two keys published by kid).
 */
import { createExecutionContext, env, waitOnExecutionContext } from 'cloudflare:test';
import { sql } from 'drizzle-orm';
import { createLocalJWKSet, jwtVerify, type JSONWebKeySet } from 'jose';
import { describe, expect, it } from 'vitest';
import worker from '../../../src/index';
import { db } from '../../../src/db/client';
import { gameExternalIds } from '../../../src/db/schema';
import { PLAY_SESSION_TOKEN_AUDIENCE, PLAY_SESSION_TOKEN_TYP, signPlaySessionToken } from '../../../src/console/play/stream-tokens';
import { setWorld } from '../../../src/world';
import { BASE, call, json } from '../../support/http';
import { heartbeat, install, makeGame, member, onlineNode, own, playWorld, registerNode, startSession, type SessionBody, type World, playingSession } from './helpers';

interface CodeBody {
  node_id: number;
  code: string;
  expires_at: string;
  command: string;
}
interface Enrolled {
  node_id: number;
  org_id: number;
  node_name: string;
  token: string;
  session_token_issuer: string;
  session_token_audience: string;
  jwks_url: string;
}

async function codeFor(w: World, nodeId: number): Promise<CodeBody> {
  const res = await call('POST', `/orgs/${w.org.id}/nodes/${nodeId}/enrolment-code`, { token: w.admin.token });
  expect(res.status).toBe(201);
  return json<CodeBody>(res);
}

function enrol(body: Record<string, unknown>, ip = '203.0.113.7'): Promise<Response> {
  return call('POST', '/nodes/enrol', { body, headers: { 'cf-connecting-ip': ip } });
}

describe('node enrolment codes', () => {
  it('gives a short code with the exact command, and the agent exchanges it for a working node token', async () => {
    const w = await playWorld();
    const node = await registerNode(w);
    const code = await codeFor(w, node.id);
    expect(code.code).toMatch(/^[0-9A-HJKMNP-TV-Z]{4}-[0-9A-HJKMNP-TV-Z]{4}$/);
    expect(code.command).toBe(`node agents/node/cli.mjs enroll --api ${BASE} --code ${code.code}`);
    expect(Date.parse(code.expires_at) - Date.now()).toBeGreaterThan(14 * 60_000);

    const res = await enrol({ code: code.code.toLowerCase() });
    expect(res.status).toBe(201);
    const e = await json<Enrolled>(res);
    expect(e).toMatchObject({ node_id: node.id, org_id: w.org.id, node_name: node.name, session_token_issuer: env.JWT_ISSUER, session_token_audience: PLAY_SESSION_TOKEN_AUDIENCE });
    expect(e.jwks_url).toBe(`${BASE}/.well-known/jwks.json`);
    expect(e.token).toMatch(/^epn_[A-Za-z0-9_-]{43}$/);
    expect((await heartbeat(e.token, [])).status).toBe(200);
    // Enrolling replaces the token shown at registration.
    expect((await heartbeat(node.token, [])).status).toBe(401);
  });

  it('is single use: a second redemption of the same code is refused and issues nothing', async () => {
    const w = await playWorld();
    const node = await registerNode(w);
    const { code } = await codeFor(w, node.id);
    const first = await json<Enrolled>(await enrol({ code }));
    const again = await enrol({ code });
    expect(again.status).toBe(401);
    expect((await json(again)).code).toBe('invalid_enrolment_code');
    expect((await heartbeat(first.token, [])).status).toBe(200);
  });

  it('race: two agents redeeming one code at once get exactly one token', async () => {
    const w = await playWorld();
    const node = await registerNode(w);
    const { code } = await codeFor(w, node.id);
    const answers = await Promise.all([enrol({ code }, '198.51.100.1'), enrol({ code }, '198.51.100.2'), enrol({ code }, '198.51.100.3')]);
    const statuses = answers.map((r) => r.status).sort();
    expect(statuses).toEqual([201, 401, 401]);
    const winner = await json<Enrolled>(answers.find((r) => r.status === 201)!);
    expect((await heartbeat(winner.token, [])).status).toBe(200);
  });

  it('expires after 15 minutes', async () => {
    const w = await playWorld();
    const node = await registerNode(w);
    const { code } = await codeFor(w, node.id);
    const restore = setWorld({ now: () => Date.now() + 16 * 60_000 });
    try {
      const res = await enrol({ code });
      expect(res.status).toBe(401);
    } finally {
      restore();
    }
  });

  it('a new code replaces the node’s unused one', async () => {
    const w = await playWorld();
    const node = await registerNode(w);
    const old = await codeFor(w, node.id);
    const fresh = await codeFor(w, node.id);
    expect((await enrol({ code: old.code })).status).toBe(401);
    expect((await enrol({ code: fresh.code })).status).toBe(201);
  });

  it('wrong org: an agent told to join another org is refused and the code stays usable', async () => {
    const w = await playWorld();
    const other = await playWorld();
    const node = await registerNode(w);
    const { code } = await codeFor(w, node.id);
    const res = await enrol({ code, org_id: other.org.id });
    expect(res.status).toBe(403);
    expect((await json(res)).code).toBe('node_org_mismatch');
    expect((await enrol({ code, org_id: w.org.id })).status).toBe(201);
  });

  it('wrong org: admins of another org, plain members and strangers cannot mint a code for the node', async () => {
    const w = await playWorld();
    const other = await playWorld();
    const m = await member(w);
    const node = await registerNode(w);
    expect((await call('POST', `/orgs/${w.org.id}/nodes/${node.id}/enrolment-code`, { token: other.admin.token })).status).toBe(403);
    expect((await call('POST', `/orgs/${w.org.id}/nodes/${node.id}/enrolment-code`, { token: m.token })).status).toBe(403);
    expect((await call('POST', `/orgs/${w.org.id}/nodes/${node.id}/enrolment-code`)).status).toBe(401);
    // Through their own org's path, the node is not theirs.
    expect((await call('POST', `/orgs/${other.org.id}/nodes/${node.id}/enrolment-code`, { token: other.admin.token })).status).toBe(404);
  });

  it('stores only a hash of the code, and malformed codes are refused the same way', async () => {
    const w = await playWorld();
    const node = await registerNode(w);
    const { code } = await codeFor(w, node.id);
    const rows = await db(env).all<{ code_hash: string }>(sql`SELECT code_hash FROM node_enrolment_codes WHERE node_id = ${node.id}`);
    expect(rows).toHaveLength(1);
    expect(rows[0]!.code_hash).not.toContain(code.replace('-', ''));
    for (const bad of ['', 'AAAA', 'not-a-code-at-all']) expect((await enrol({ code: bad })).status).toBeGreaterThanOrEqual(400);
    expect((await enrol({ code, extra: 1 })).status).toBe(400);
  });
});

describe('node token rollover', () => {
  it('the agent receives the new token once in its heartbeat; the old one works until the new one is used', async () => {
    const w = await playWorld();
    const node = await onlineNode(w, []);
    const r = await call('POST', `/orgs/${w.org.id}/nodes/${node.id}/token/rollover`, { token: w.admin.token });
    expect(r.status).toBe(202);
    expect((await json<{ token_rollover_pending: boolean }>(r)).token_rollover_pending).toBe(true);

    const beat = await json<{ node_token?: string }>(await heartbeat(node.token, []));
    expect(beat.node_token).toMatch(/^epn_/);
    // The reply may have been lost: the old token still works and gets a (new) token again.
    const retry = await json<{ node_token?: string }>(await heartbeat(node.token, []));
    expect(retry.node_token).toMatch(/^epn_/);
    expect(retry.node_token).not.toBe(beat.node_token);
    expect((await heartbeat(beat.node_token!, [])).status).toBe(401);
    // The agent uses the new token: no more tokens, and the old one is dead.
    const settled = await json<{ node_token?: string }>(await heartbeat(retry.node_token!, []));
    expect(settled.node_token).toBeUndefined();
    expect((await heartbeat(node.token, [])).status).toBe(401);
    const view = await json<{ token_rollover_pending: boolean }>(await call('GET', `/orgs/${w.org.id}/nodes/${node.id}`, { token: w.admin.token }));
    expect(view.token_rollover_pending).toBe(false);
  });

  it('a revoke during a rollover kills both tokens', async () => {
    const w = await playWorld();
    const node = await onlineNode(w, []);
    await call('POST', `/orgs/${w.org.id}/nodes/${node.id}/token/rollover`, { token: w.admin.token });
    const beat = await json<{ node_token?: string }>(await heartbeat(node.token, []));
    expect((await call('DELETE', `/orgs/${w.org.id}/nodes/${node.id}/token`, { token: w.admin.token })).status).toBe(200);
    expect((await heartbeat(node.token, [])).status).toBe(401);
    expect((await heartbeat(beat.node_token!, [])).status).toBe(401);
  });

  it('is refused for admins of another org and for a node without a token', async () => {
    const w = await playWorld();
    const other = await playWorld();
    const node = await registerNode(w);
    expect((await call('POST', `/orgs/${w.org.id}/nodes/${node.id}/token/rollover`, { token: other.admin.token })).status).toBe(403);
    await call('DELETE', `/orgs/${w.org.id}/nodes/${node.id}/token`, { token: w.admin.token });
    const r = await call('POST', `/orgs/${w.org.id}/nodes/${node.id}/token/rollover`, { token: w.admin.token });
    expect(r.status).toBe(409);
  });
});

describe('the node’s view of its assignments', () => {
  it('every assignment carries a stream token for this node that verifies against the JWKS', async () => {
    const { w, game, alice, node, s } = await playingSession();
    const beat = await json<{ sessions: Array<{ id: number; stream_token: string; stream_token_expires_at: string }> }>(await heartbeat(node.token, [install(game)]));
    const a = beat.sessions.find((x) => x.id === s.id)!;
    const jwks = await json<JSONWebKeySet>(await call('GET', '/.well-known/jwks.json'));
    const { payload } = await jwtVerify(a.stream_token, createLocalJWKSet(jwks), { algorithms: ['ES256'], issuer: env.JWT_ISSUER, audience: PLAY_SESSION_TOKEN_AUDIENCE, typ: PLAY_SESSION_TOKEN_TYP });
    expect(payload).toMatchObject({ sub: String(s.id), node_id: node.id, user_id: alice.id, game_id: game, org_id: w.org.id });
    const list = await json<{ sessions: Array<{ id: number; stream_token: string }> }>(await call('GET', '/nodes/sessions', { token: node.token }));
    expect(list.sessions.find((x) => x.id === s.id)?.stream_token).toBeTruthy();
  });
});

describe('catalog lookup by store id', () => {
  it('maps Steam, Epic and GOG ids to catalog games and creates nothing for unknown ids', async () => {
    const w = await playWorld();
    const node = await onlineNode(w, []);
    const steam = await makeGame();
    const epic = await makeGame();
    const suffix = crypto.randomUUID().slice(0, 8);
    await db(env)
      .insert(gameExternalIds)
      .values([
        { gameId: steam, platform: 'steam', externalId: `9${suffix.replace(/\D/g, '')}1` },
        { gameId: epic, platform: 'epic', externalId: `Fortress${suffix}` },
      ])
      .run();
    const before = await db(env).get<{ n: number }>(sql`SELECT COUNT(*) AS n FROM games`);
    const ids = [
      { platform: 'steam', external_id: `9${suffix.replace(/\D/g, '')}1` },
      { platform: 'epic', external_id: `catalog-${suffix}` },
      { platform: 'epic', external_id: `Fortress${suffix}` },
      { platform: 'gog', external_id: '1207658924' },
    ];
    const res = await call('POST', '/nodes/catalog/resolve', { token: node.token, body: { ids } });
    expect(res.status).toBe(200);
    const body = await json<{ games: Array<{ platform: string; external_id: string; game_id: number }> }>(res);
    expect(body.games.map((g) => [g.platform, g.game_id]).sort()).toEqual([
      ['epic', epic],
      ['steam', steam],
    ]);
    const after = await db(env).get<{ n: number }>(sql`SELECT COUNT(*) AS n FROM games`);
    expect(after!.n).toBe(before!.n);
    expect((await call('POST', '/nodes/catalog/resolve', { body: { ids } })).status).toBe(401);
    expect((await call('POST', '/nodes/catalog/resolve', { token: w.admin.token, body: { ids } })).status).toBe(401);
  });
});

describe('session signing-key rotation', () => {
  async function newKey(kid: string): Promise<string> {
    const pair = (await crypto.subtle.generateKey({ name: 'ECDSA', namedCurve: 'P-256' }, true, ['sign', 'verify'])) as CryptoKeyPair;
    const jwk = (await crypto.subtle.exportKey('jwk', pair.privateKey)) as JsonWebKey;
    return JSON.stringify({ kty: jwk.kty, crv: jwk.crv, x: jwk.x, y: jwk.y, d: jwk.d, kid });
  }
  async function jwksWith(over: Record<string, string>): Promise<JSONWebKeySet> {
    const ctx = createExecutionContext();
    const res = await worker.fetch(new Request(`${BASE}/.well-known/jwks.json`), { ...env, ...over } as Env, ctx);
    await waitOnExecutionContext(ctx);
    expect(res.status).toBe(200);
    return json<JSONWebKeySet>(res);
  }
  const target = { playSessionId: 42, nodeId: 7, orgId: 3, userId: 5, gameId: 9 };
  const verify = (token: string, jwks: JSONWebKeySet) =>
    jwtVerify(token, createLocalJWKSet(jwks), { algorithms: ['ES256'], issuer: env.JWT_ISSUER, audience: PLAY_SESSION_TOKEN_AUDIENCE, typ: PLAY_SESSION_TOKEN_TYP });

  it('publishes both keys by kid during the window, and a token signed by the previous key still verifies', async () => {
    const oldKey = await newKey('2026-10');
    const newKeyJwk = await newKey('2026-12');
    const before = await signPlaySessionToken({ SESSION_SIGNING_KEY: oldKey, JWT_ISSUER: env.JWT_ISSUER }, target);

    const during = await jwksWith({ SESSION_SIGNING_KEY: newKeyJwk, SESSION_SIGNING_KEY_PREVIOUS: oldKey });
    expect(during.keys.map((k) => k.kid)).toEqual(['2026-12', '2026-10']);
    for (const k of during.keys) expect(k).not.toHaveProperty('d');
    expect((await verify(before.token, during)).payload.sub).toBe('42');
    const after = await signPlaySessionToken({ SESSION_SIGNING_KEY: newKeyJwk, JWT_ISSUER: env.JWT_ISSUER }, target);
    expect((await verify(after.token, during)).protectedHeader.kid).toBe('2026-12');

    // Once the previous key is removed, its tokens no longer verify.
    const later = await jwksWith({ SESSION_SIGNING_KEY: newKeyJwk });
    expect(later.keys.map((k) => k.kid)).toEqual(['2026-12']);
    await expect(verify(before.token, later)).rejects.toThrow();
  });

  it('leaves out a previous key that reuses the current kid or does not parse', async () => {
    const current = await newKey('same');
    expect((await jwksWith({ SESSION_SIGNING_KEY: current, SESSION_SIGNING_KEY_PREVIOUS: await newKey('same') })).keys).toHaveLength(1);
    expect((await jwksWith({ SESSION_SIGNING_KEY: current, SESSION_SIGNING_KEY_PREVIOUS: '{not json' })).keys).toHaveLength(1);
  });
});
