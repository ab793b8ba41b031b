import { env } from 'cloudflare:test';
import { and, eq } from 'drizzle-orm';
import { afterEach, describe, expect, it } from 'vitest';
import { db } from '../../../src/db/client';
import { auditLog, userAccounts } from '../../../src/db/schema';
import { call, json } from '../../support/http';
import { addMember, makeOrg, makeUser, type TestUser } from '../../support/users';
import valid from '../../fixtures/steam/check-authentication-valid.json';
import invalid from '../../fixtures/steam/check-authentication-invalid.json';
import owned from '../../fixtures/steam/owned-games.json';
import unavailable from '../../fixtures/steam/unavailable.json';
import { assertion, fakeSteam, makeGame } from './fakes';

const STEAM_ID = '76561197960287930';
const STEAM_OP = 'https://steamcommunity.com/openid/login';
const JSON_ACCEPT = { Accept: 'application/json' };
let restore: (() => void) | null = null;
afterEach(() => {
  restore?.();
  restore = null;
});

async function member() {
  const org = await makeOrg();
  const user = await makeUser();
  await addMember(org.id, user.id, 'member');
  return { org, user };
}

async function start(user: TestUser, orgId?: number) {
  const res = await call('GET', `/auth/link/steam/start${orgId ? `?org_id=${orgId}` : ''}`, { token: user.token });
  expect(res.status).toBe(302);
  const body = await json<{ redirect_url: string; state: string }>(res);
  return { res, ...body };
}

async function linkedAccount(orgId: number, userId: number) {
  return db(env).select().from(userAccounts).where(and(eq(userAccounts.orgId, orgId), eq(userAccounts.userId, userId))).get();
}

describe('GET /auth/link/steam/start', () => {
  it('redirects to Steam’s OpenID endpoint with our callback, realm and a signed state', async () => {
    const { org, user } = await member();
    const { res, redirect_url, state } = await start(user, org.id);
    const url = new URL(res.headers.get('Location')!);
    expect(redirect_url).toBe(url.href);
    expect(url.origin + url.pathname).toBe('https://steamcommunity.com/openid/login');
    expect(url.searchParams.get('openid.mode')).toBe('checkid_setup');
    expect(url.searchParams.get('openid.realm')).toBe('https://edgeplane.test');
    expect(url.searchParams.get('openid.return_to')).toBe(`https://edgeplane.test/auth/link/steam/callback?state=${encodeURIComponent(state)}`);
    expect(url.searchParams.get('openid.claimed_id')).toBe('http://specs.openid.net/auth/2.0/identifier_select');
    const cookie = res.headers.getSetCookie().find((c) => c.startsWith('steam_link='))!;
    expect(cookie).toMatch(/HttpOnly/);
    expect(cookie).toMatch(/SameSite=Lax/);
  });

  it('refuses anonymous callers, other orgs and users without an org', async () => {
    const { user } = await member();
    const other = await makeOrg();
    const loner = await makeUser();
    expect((await call('GET', '/auth/link/steam/start')).status).toBe(401);
    const theirs = await call('GET', `/auth/link/steam/start?org_id=${other.id}`, { token: user.token });
    const missing = await call('GET', '/auth/link/steam/start?org_id=999999', { token: user.token });
    expect(theirs.status).toBe(403);
    expect(await theirs.json()).toEqual(await missing.json());
    expect((await call('GET', '/auth/link/steam/start', { token: loner.token })).status).toBe(409);
    expect((await call('GET', '/auth/link/steam/start?org_id=abc', { token: user.token })).status).toBe(400);
  });
});

describe('GET /auth/link/steam/callback', () => {
  it('links the account when Steam confirms the assertion, in the browser that started', async () => {
    const { org, user } = await member();
    const { res: started, state } = await start(user, org.id);
    const linkCookie = started.headers.getSetCookie().find((c) => c.startsWith('steam_link='))!.split(';')[0]!;
    const returnTo = `https://edgeplane.test/auth/link/steam/callback?state=${encodeURIComponent(state)}`;
    const params = assertion(returnTo);
    const steam = fakeSteam({ checkAuth: [valid] });
    restore = steam.restore;
    const q = new URLSearchParams({ state, ...params });
    const res = await call('GET', `/auth/link/steam/callback?${q}`, { cookie: linkCookie, headers: JSON_ACCEPT });
    expect(res.status).toBe(200);
    expect(await json(res)).toEqual({ linked: true, platform: 'steam', org_id: org.id, user_id: user.id, steam_id: STEAM_ID });
    // check_authentication carried every signed field, with the mode switched.
    expect(steam.callsTo(STEAM_OP)).toHaveLength(1);
    const form = new URLSearchParams(steam.callsTo(STEAM_OP)[0]!.body);
    expect(form.get('openid.mode')).toBe('check_authentication');
    expect(form.get('openid.sig')).toBe(params['openid.sig']);
    expect(form.get('openid.return_to')).toBe(returnTo);
    expect((await linkedAccount(org.id, user.id))?.accountId).toBe(STEAM_ID);
    const audits = await db(env).select().from(auditLog).where(eq(auditLog.action, 'steam.link'));
    expect(audits.some((a) => a.targetId === String(user.id))).toBe(true);
  });

  it('refuses a callback from a browser that did not start the flow', async () => {
    const { org, user } = await member();
    const { state } = await start(user, org.id);
    const returnTo = `https://edgeplane.test/auth/link/steam/callback?state=${encodeURIComponent(state)}`;
    const steam = fakeSteam({ checkAuth: [valid] });
    restore = steam.restore;
    const res = await call('GET', `/auth/link/steam/callback?${new URLSearchParams({ state, ...assertion(returnTo) })}`, { headers: JSON_ACCEPT });
    expect(res.status).toBe(403);
    expect(steam.calls).toHaveLength(0);
    expect(await linkedAccount(org.id, user.id)).toBeUndefined();
  });

  it('refuses a callback carrying another signed-in user’s token', async () => {
    const { org, user } = await member();
    const other = await makeUser();
    const { res: started, state } = await start(user, org.id);
    const linkCookie = started.headers.getSetCookie().find((c) => c.startsWith('steam_link='))!.split(';')[0]!;
    const returnTo = `https://edgeplane.test/auth/link/steam/callback?state=${encodeURIComponent(state)}`;
    const steam = fakeSteam({ checkAuth: [valid] });
    restore = steam.restore;
    const res = await call('GET', `/auth/link/steam/callback?${new URLSearchParams({ state, ...assertion(returnTo) })}`, {
      cookie: `${linkCookie}; access_token=${other.token}`,
      headers: JSON_ACCEPT,
    });
    expect(res.status).toBe(403);
    expect(steam.calls).toHaveLength(0);
    expect(await linkedAccount(org.id, user.id)).toBeUndefined();
  });

  it('refuses a forged or expired state', async () => {
    const res = await call('GET', `/auth/link/steam/callback?state=${'a'.repeat(40)}.${'b'.repeat(43)}`, { headers: JSON_ACCEPT });
    expect(res.status).toBe(400);
    expect(await json(res)).toMatchObject({ code: 'invalid_state' });
  });
});

describe('POST /auth/link/steam', () => {
  async function prepared() {
    const { org, user } = await member();
    const { state } = await start(user, org.id);
    const returnTo = `https://edgeplane.test/auth/link/steam/callback?state=${encodeURIComponent(state)}`;
    return { org, user, state, params: assertion(returnTo) };
  }

  it('links from a signed assertion the client collected itself', async () => {
    const { org, user, state, params } = await prepared();
    restore = fakeSteam({ checkAuth: [valid] }).restore;
    const res = await call('POST', '/auth/link/steam', { token: user.token, body: { state, assertion: params } });
    expect(res.status).toBe(200);
    expect((await linkedAccount(org.id, user.id))?.accountId).toBe(STEAM_ID);
  });

  it('refuses an assertion whose signature Steam does not confirm, writing nothing', async () => {
    const { org, user, state, params } = await prepared();
    restore = fakeSteam({ checkAuth: [invalid] }).restore;
    const res = await call('POST', '/auth/link/steam', { token: user.token, body: { state, assertion: params } });
    expect(res.status).toBe(400);
    expect(await json(res)).toMatchObject({ code: 'invalid_assertion' });
    expect(await linkedAccount(org.id, user.id)).toBeUndefined();
  });

  it('refuses a replayed nonce', async () => {
    const { org, user, state, params } = await prepared();
    restore = fakeSteam({ checkAuth: [valid] }).restore;
    expect((await call('POST', '/auth/link/steam', { token: user.token, body: { state, assertion: params } })).status).toBe(200);
    // Same assertion with a fresh state: the response nonce was already consumed.
    const { state: state2 } = await start(user, org.id);
    const replay = { ...params, 'openid.return_to': `https://edgeplane.test/auth/link/steam/callback?state=${encodeURIComponent(state2)}` };
    const res = await call('POST', '/auth/link/steam', { token: user.token, body: { state: state2, assertion: replay } });
    expect(res.status).toBe(409);
    expect(await json(res)).toMatchObject({ code: 'assertion_replayed' });
    // And the same state cannot be used twice either.
    const again = await call('POST', '/auth/link/steam', { token: user.token, body: { state, assertion: assertion(params['openid.return_to']!) } });
    expect(again.status).toBe(409);
  });

  it('checks every field locally before asking Steam', async () => {
    const { user, state, params } = await prepared();
    const steam = fakeSteam({ checkAuth: [valid] });
    restore = steam.restore;
    const stale = new Date(Date.now() - 3600_000).toISOString().replace(/\.\d{3}Z$/, 'Z');
    const broken: Array<Record<string, string>> = [
      { 'openid.op_endpoint': 'https://evil.example/openid/login' },
      { 'openid.claimed_id': 'https://steamcommunity.com/openid/id/76561197960287931' },
      { 'openid.claimed_id': 'https://evil.example/openid/id/76561197960287930', 'openid.identity': 'https://evil.example/openid/id/76561197960287930' },
      { 'openid.return_to': 'https://edgeplane.test/auth/link/steam/callback?state=someone-elses' },
      { 'openid.response_nonce': `${stale}abc` },
      { 'openid.signed': 'signed,op_endpoint,identity,return_to,response_nonce,assoc_handle' },
      { 'openid.mode': 'cancel' },
      { 'openid.ns': 'http://openid.net/signon/1.1' },
    ];
    for (const override of broken) {
      const res = await call('POST', '/auth/link/steam', { token: user.token, body: { state, assertion: { ...params, ...override } } });
      expect(res.status).toBe(400);
    }
    expect(steam.calls).toHaveLength(0);
  });

  it('never accepts a bare steam id, another user’s state or an anonymous caller', async () => {
    const { org, user, state, params } = await prepared();
    const mallory = await makeUser();
    await addMember(org.id, mallory.id, 'admin');
    restore = fakeSteam({ checkAuth: [valid] }).restore;
    const bare = await call('POST', '/auth/link/steam', { token: user.token, body: { user_id: user.id, org_id: org.id, steam_id: STEAM_ID } });
    expect(bare.status).toBe(400);
    expect((await call('POST', '/auth/link/steam', { token: user.token, body: { state, assertion: params, steam_id: STEAM_ID } })).status).toBe(400);
    expect((await call('POST', '/auth/link/steam', { token: mallory.token, body: { state, assertion: params } })).status).toBe(403);
    expect((await call('POST', '/auth/link/steam', { body: { state, assertion: params } })).status).toBe(401);
    expect((await call('POST', '/auth/link/steam', { token: user.token, body: { state, assertion: { ...params, 'x.evil': '1' } } })).status).toBe(400);
    expect(await linkedAccount(org.id, user.id)).toBeUndefined();
    expect(await linkedAccount(org.id, mallory.id)).toBeUndefined();
  });

  it('refuses a Steam account already linked to another member of the org', async () => {
    const { org, user, state, params } = await prepared();
    const sibling = await makeUser();
    await addMember(org.id, sibling.id, 'member');
    await db(env).insert(userAccounts).values({ orgId: org.id, userId: sibling.id, platform: 'steam', accountId: STEAM_ID }).run();
    restore = fakeSteam({ checkAuth: [valid] }).restore;
    const res = await call('POST', '/auth/link/steam', { token: user.token, body: { state, assertion: params } });
    expect(res.status).toBe(409);
    expect(await linkedAccount(org.id, user.id)).toBeUndefined();
  });
});

describe('Steam return_to is pinned to our callback (issue 11 item 7)', () => {
  it('refuses an assertion Steam issued to another site, so one user cannot claim another person’s Steam library', async () => {
    // Mallory starts a link on our server, then lures Alice to her own site, which sends Alice
    // through Steam with return_to = mallory's page carrying *Mallory's* state. Steam signs an
    // assertion of Alice's SteamID for that return_to; Mallory submits it as her own.
    const { org, user: mallory } = await member();
    const { state } = await start(mallory, org.id);
    const issuedToEvil = assertion(`https://evil.example/steam-return?state=${encodeURIComponent(state)}`);
    const steam = fakeSteam({ checkAuth: [valid] });
    restore = steam.restore;
    const res = await call('POST', '/auth/link/steam', { token: mallory.token, body: { state, assertion: issuedToEvil } });
    expect(res.status).toBe(400);
    expect(await json(res)).toMatchObject({ code: 'invalid_assertion' });
    expect(steam.calls).toHaveLength(0);
    expect(await linkedAccount(org.id, mallory.id)).toBeUndefined();
  });

  it('refuses our callback on another origin, or with extra query parameters', async () => {
    const { org, user } = await member();
    const { state } = await start(user, org.id);
    const steam = fakeSteam({ checkAuth: [valid] });
    restore = steam.restore;
    for (const returnTo of [
      `https://edgeplane.test.evil.example/auth/link/steam/callback?state=${encodeURIComponent(state)}`,
      `https://edgeplane.test/auth/link/steam/callback?state=${encodeURIComponent(state)}&next=https://evil.example`,
      `http://127.0.0.1:51234/other-path?state=${encodeURIComponent(state)}`,
    ]) {
      const res = await call('POST', '/auth/link/steam', { token: user.token, body: { state, assertion: assertion(returnTo) } });
      expect(res.status).toBe(400);
    }
    expect(steam.calls).toHaveLength(0);
    expect(await linkedAccount(org.id, user.id)).toBeUndefined();
  });

  it('accepts a client return URL the operator listed in STEAM_RETURN_TO_URLS', async () => {
    const { org, user } = await member();
    const { state } = await start(user, org.id);
    restore = fakeSteam({ checkAuth: [valid] }).restore;
    const res = await call('POST', '/auth/link/steam', {
      token: user.token,
      body: { state, assertion: assertion(`http://127.0.0.1:51234/steam-return?state=${encodeURIComponent(state)}`) },
    });
    expect(res.status).toBe(200);
    expect((await linkedAccount(org.id, user.id))?.accountId).toBe(STEAM_ID);
  });
});

describe('the browser callback', () => {
  async function started() {
    const { org, user } = await member();
    const { res, state } = await start(user, org.id);
    const linkCookie = res.headers.getSetCookie().find((c) => c.startsWith('steam_link='))!.split(';')[0]!;
    const returnTo = `https://edgeplane.test/auth/link/steam/callback?state=${encodeURIComponent(state)}`;
    return { org, user, state, linkCookie, params: assertion(returnTo) };
  }
  const BROWSER = { Accept: 'text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8' };

  it('brings the person back to their library page with the outcome, and shows their persona there', async () => {
    const { org, user, state, linkCookie, params } = await started();
    restore = fakeSteam({ checkAuth: [valid] }).restore;
    const res = await call('GET', `/auth/link/steam/callback?${new URLSearchParams({ state, ...params })}`, { cookie: linkCookie, headers: BROWSER });
    expect(res.status).toBe(303);
    expect(res.headers.get('Location')).toBe(`/?steam_link=linked&org_id=${org.id}#/library`);
    // The binding cookie is spent.
    expect(res.headers.getSetCookie().some((c) => /^steam_link=;/.test(c) || /steam_link=.*Max-Age=0/.test(c))).toBe(true);
    const account = await json<Record<string, unknown>>(await call('GET', `/ownership/steam?org_id=${org.id}`, { token: user.token }));
    expect(account).toMatchObject({ linked: true, org_id: org.id, steam_id: STEAM_ID, persona_name: 'Rabscuttle', profile_url: 'https://steamcommunity.com/id/rabscuttle/' });
    expect(String(account.avatar)).toMatch(/^data:image\/png;base64,/);
  });

  it('says what went wrong on the library page instead of showing raw JSON', async () => {
    const { state, params } = await started();
    const steam = fakeSteam({ checkAuth: [valid] });
    restore = steam.restore;
    // No binding cookie and nobody signed in: started elsewhere.
    const res = await call('GET', `/auth/link/steam/callback?${new URLSearchParams({ state, ...params })}`, { headers: BROWSER });
    expect(res.status).toBe(303);
    expect(res.headers.get('Location')).toBe('/?steam_link=failed&code=state_not_bound#/library');
    const cancelled = await started();
    const back = await call('GET', `/auth/link/steam/callback?${new URLSearchParams({ state: cancelled.state, ...cancelled.params, 'openid.mode': 'cancel' })}`, {
      cookie: cancelled.linkCookie,
      headers: BROWSER,
    });
    expect(back.headers.get('Location')).toBe('/?steam_link=failed&code=invalid_assertion#/library');
    expect(steam.callsTo(STEAM_OP)).toHaveLength(0);
  });

  it('links even when Steam’s profile service is down (no persona shown then)', async () => {
    const { org, user, state, linkCookie, params } = await started();
    restore = fakeSteam({ checkAuth: [valid], summaries: [unavailable as never] }).restore;
    const res = await call('GET', `/auth/link/steam/callback?${new URLSearchParams({ state, ...params })}`, { cookie: linkCookie, headers: JSON_ACCEPT });
    expect(res.status).toBe(200);
    const account = await json(await call('GET', `/ownership/steam?org_id=${org.id}`, { token: user.token }));
    expect(account).toMatchObject({ linked: true, steam_id: STEAM_ID, persona_name: null, avatar: null });
  });
});

describe('GET /ownership/steam and DELETE /auth/link/steam', () => {
  it('answers linked: false before linking, and refuses other orgs', async () => {
    const { org, user } = await member();
    expect(await json(await call('GET', `/ownership/steam?org_id=${org.id}`, { token: user.token }))).toMatchObject({ linked: false, steam_id: null });
    const other = await makeOrg();
    expect((await call('GET', `/ownership/steam?org_id=${other.id}`, { token: user.token })).status).toBe(403);
    expect((await call('GET', '/ownership/steam')).status).toBe(401);
  });

  it('unlinking withdraws every Steam-verified entry of the member, leaving other proofs and other members alone', async () => {
    const { org, user } = await member();
    const sibling = await makeUser();
    await addMember(org.id, sibling.id, 'member');
    const portal = await makeGame({ steam: '620' });
    const bigPicture = await makeGame({ steam: '1593500' });
    const cyber = await makeGame({ steam: '1091500' });
    await db(env).insert(userAccounts).values([
      { orgId: org.id, userId: user.id, platform: 'steam', accountId: STEAM_ID },
      { orgId: org.id, userId: sibling.id, platform: 'steam', accountId: '76561197960287999' },
    ]).run();
    restore = fakeSteam({ owned: [owned] }).restore;
    for (const who of [user, sibling]) expect((await call('POST', '/ownership/verify/steam', { token: who.token, body: { org_id: org.id } })).status).toBe(200);
    // A manual proof on one of the games stays as it is.
    expect((await call('POST', `/users/${user.id}/library/proofs`, { token: user.token, body: { kind: 'manual', org_id: org.id, game_id: portal.id, receipt: { store: 'Humble', order_id: 'HB-1', purchased_at: '2024-01-02' } } })).status).toBe(201);

    const res = await call('DELETE', `/auth/link/steam?org_id=${org.id}`, { token: user.token });
    expect(res.status).toBe(200);
    expect(await json(res)).toEqual({ unlinked: true, org_id: org.id, withdrawn: [portal.id, bigPicture.id, cyber.id].sort((a, b) => a - b) });
    const lib = await json<Array<{ game: { id: number }; owned: boolean; proofs: Array<{ kind: string; status: string }> }>>(
      await call('GET', `/users/${user.id}/library?org_id=${org.id}`, { token: user.token }),
    );
    expect(lib.every((e) => !e.owned)).toBe(true);
    expect(lib.find((e) => e.game.id === portal.id)!.proofs.map((p) => [p.kind, p.status])).toEqual([['steam', 'withdrawn'], ['manual', 'pending']]);
    expect(await linkedAccount(org.id, user.id)).toBeUndefined();
    const theirs = await json<Array<{ owned: boolean }>>(await call('GET', `/users/${sibling.id}/library?org_id=${org.id}`, { token: sibling.token }));
    expect(theirs.length).toBe(3);
    expect(theirs.every((e) => e.owned)).toBe(true);
    expect((await call('DELETE', `/auth/link/steam?org_id=${org.id}`, { token: user.token })).status).toBe(404);
    const audits = await db(env).select().from(auditLog).where(eq(auditLog.action, 'steam.unlink'));
    expect(audits.some((a) => a.targetId === String(user.id))).toBe(true);
  });
});
