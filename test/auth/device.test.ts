/**
 * Device pairing (RFC 8628): every state of the grant as the TV sees it when it polls, the phone's
 * lookup/approve/deny with their guards (wrong and guessed codes, another user's code, an org the
 * approver is not in, cross-site cookies), the audit trail, and paired devices with revoke.
 */
import { env } from 'cloudflare:test';
import { afterEach, describe, expect, it } from 'vitest';
import { eq } from 'drizzle-orm';
import { db } from '../../src/db/client';
import { auditLog, deviceAuthorizations } from '../../src/db/schema';
import { setWorld, world } from '../../src/world';
import { call, json } from '../support/http';
import { addMember, makeOrg, makeUser, type TestUser } from '../support/users';

interface Codes {
  device_code: string;
  user_code: string;
  verification_uri: string;
  verification_uri_complete: string;
  expires_in: number;
  interval: number;
}
interface ErrorOut {
  error: string;
  code: string;
  details?: { interval?: number };
}

let ipCounter = 0;
/** Each test asks from its own address: the per-IP limits are not what most tests are about. */
const freshIp = () => `198.51.100.${(ipCounter++ % 250) + 1}`;

let restoreClock: (() => void) | null = null;
afterEach(() => {
  restoreClock?.();
  restoreClock = null;
});

/** Moves the Worker's clock forward by `ms` from now (cumulative). */
function advance(ms: number) {
  const base = world.now();
  restoreClock?.();
  const start = Date.now();
  restoreClock = setWorld({ now: () => base + ms + (Date.now() - start) });
}

async function startPairing(body: unknown = { client_name: 'Living-room TV' }, ip = freshIp()): Promise<Codes> {
  const res = await call('POST', '/auth/device', { body, headers: { 'cf-connecting-ip': ip } });
  expect(res.status).toBe(200);
  return json<Codes>(res);
}

function poll(deviceCode: string) {
  return call('POST', '/auth/device/token', { body: { device_code: deviceCode } });
}

async function pollError(deviceCode: string): Promise<{ status: number; body: ErrorOut }> {
  const res = await poll(deviceCode);
  return { status: res.status, body: await json<ErrorOut>(res) };
}

function approve(user: TestUser, userCode: string, body?: unknown, ip = '203.0.113.7') {
  return call('POST', `/auth/device/${encodeURIComponent(userCode)}/approve`, { token: user.token, body, headers: { 'cf-connecting-ip': ip } });
}

async function auditActions(targetId: string): Promise<string[]> {
  const rows = await db(env).select().from(auditLog).where(eq(auditLog.targetId, targetId));
  return rows.map((r) => r.action);
}

async function grantId(userCode: string): Promise<string> {
  const row = await db(env).select().from(deviceAuthorizations).where(eq(deviceAuthorizations.userCode, userCode.replace('-', ''))).get();
  return row!.id;
}

describe('starting a device sign-in', () => {
  it('gives a short look-alike-free user code, a long device code, the /link page and the RFC timings', async () => {
    const codes = await startPairing();
    expect(codes.user_code).toMatch(/^[BCDFGHJKLMNPQRSTVWXZ]{4}-[BCDFGHJKLMNPQRSTVWXZ]{4}$/);
    // ≥ 128 bits: 32 random bytes as base64url.
    expect(codes.device_code).toMatch(/^[A-Za-z0-9_-]{43}$/);
    expect(codes.verification_uri).toBe('https://edgeplane.test/link');
    expect(codes.verification_uri_complete).toBe(`https://edgeplane.test/link?code=${codes.user_code}`);
    expect(codes.expires_in).toBe(600);
    expect(codes.interval).toBe(5);
  });

  it('stores the device code only as a hash', async () => {
    const codes = await startPairing();
    const row = await db(env).select().from(deviceAuthorizations).where(eq(deviceAuthorizations.userCode, codes.user_code.replace('-', ''))).get();
    expect(row).toBeDefined();
    expect(JSON.stringify(row)).not.toContain(codes.device_code);
    expect(row!.deviceCodeHash).toMatch(/^[0-9a-f]{64}$/);
  });

  it('accepts no body at all, and refuses unknown fields or a control character in the name without writing', async () => {
    const res = await call('POST', '/auth/device', { headers: { 'cf-connecting-ip': freshIp() } });
    expect(res.status).toBe(200);
    const before = (await db(env).select().from(deviceAuthorizations)).length;
    const bad = await call('POST', '/auth/device', { body: { client_name: 'TV\u0000', role: 'admin' }, headers: { 'cf-connecting-ip': freshIp() } });
    expect(bad.status).toBe(400);
    expect(await json<ErrorOut>(bad)).toMatchObject({ code: 'validation_failed' });
    const bad2 = await call('POST', '/auth/device', { body: { client_name: 'bell\u0007' }, headers: { 'cf-connecting-ip': freshIp() } });
    expect(bad2.status).toBe(400);
    expect((await db(env).select().from(deviceAuthorizations)).length).toBe(before);
  });
});

describe('polling for the token', () => {
  it('answers authorization_pending while nobody has approved, when the device waits the interval', async () => {
    const codes = await startPairing();
    advance(5_000);
    const r = await pollError(codes.device_code);
    expect(r.status).toBe(400);
    expect(r.body).toMatchObject({ code: 'authorization_pending' });
    expect(typeof r.body.error).toBe('string');
  });

  it('answers slow_down to a poll sooner than the interval, and the interval grows by 5 s each time', async () => {
    const codes = await startPairing();
    // The first poll is due `interval` after the codes were issued: an immediate one is too soon.
    const first = await pollError(codes.device_code);
    expect(first.body).toMatchObject({ code: 'slow_down', details: { interval: 10 } });
    const second = await pollError(codes.device_code);
    expect(second.body).toMatchObject({ code: 'slow_down', details: { interval: 15 } });
    // Waiting the old 5 s is no longer enough; the new 15 s is.
    advance(6_000);
    expect((await pollError(codes.device_code)).body.code).toBe('slow_down');
    advance(6_000 + 20_000);
    expect((await pollError(codes.device_code)).body.code).toBe('authorization_pending');
  });

  it('answers expired_token after ten minutes, even when approved too late', async () => {
    const codes = await startPairing();
    advance(600_000);
    expect((await pollError(codes.device_code)).body.code).toBe('expired_token');
    const alice = await makeUser();
    const late = await approve(alice, codes.user_code);
    expect(late.status).toBe(404);
  });

  it('answers access_denied after a denial on the phone, and audits the denial', async () => {
    const codes = await startPairing();
    const alice = await makeUser();
    const res = await call('POST', `/auth/device/${codes.user_code}/deny`, { token: alice.token });
    expect(res.status).toBe(200);
    expect(await json(res)).toMatchObject({ status: 'denied', client_name: 'Living-room TV' });
    advance(5_000);
    expect((await pollError(codes.device_code)).body.code).toBe('access_denied');
    expect(await auditActions(await grantId(codes.user_code))).toContain('auth.device.deny');
  });

  it('signs the device in once approved: the console login answer with working tokens and the chosen org', async () => {
    const codes = await startPairing();
    const alice = await makeUser();
    const org = await makeOrg({ name: 'Couch Club' });
    await addMember(org.id, alice.id, 'member');
    const ok = await approve(alice, codes.user_code, { org_id: org.id });
    expect(ok.status).toBe(200);
    advance(5_000);
    const res = await poll(codes.device_code);
    expect(res.status).toBe(200);
    const login = await json<{ user_id: number; username: string; orgs: Array<{ id: number }>; token: string; refresh_token: string; expires_in: number; org_id: number | null; apps: unknown[] }>(res);
    expect(login).toMatchObject({ user_id: alice.id, username: alice.username, token_type: 'Bearer', expires_in: 900, org_id: org.id });
    expect(login.orgs.map((o) => o.id)).toEqual([org.id]);
    expect(Array.isArray(login.apps)).toBe(true);
    expect((await call('GET', '/orgs', { token: login.token })).status).toBe(200);
    const refreshed = await call('POST', '/auth/refresh', { body: { refresh_token: login.refresh_token } });
    expect(refreshed.status).toBe(200);
    const actions = await auditActions(await grantId(codes.user_code));
    expect(actions).toEqual(expect.arrayContaining(['auth.device.approve', 'auth.device.exchange']));
  });

  it('accepts the RFC form encoding with its grant_type, and refuses another grant_type', async () => {
    const codes = await startPairing();
    advance(5_000);
    const form = (grant: string) =>
      call('POST', '/auth/device/token', {
        raw: new URLSearchParams({ grant_type: grant, device_code: codes.device_code }).toString(),
        headers: { 'Content-Type': 'application/x-www-form-urlencoded' },
      });
    const pending = await form('urn:ietf:params:oauth:grant-type:device_code');
    expect(pending.status).toBe(400);
    expect((await json<ErrorOut>(pending)).code).toBe('authorization_pending');
    const other = await form('password');
    expect(other.status).toBe(400);
    expect((await json<ErrorOut>(other)).code).toBe('unsupported_grant_type');
  });

  it('refuses an unknown device code, a missing one and another media type without a 500', async () => {
    expect((await pollError('A'.repeat(43))).body.code).toBe('invalid_grant');
    expect((await pollError('short')).body.code).toBe('invalid_grant');
    const missing = await call('POST', '/auth/device/token', { body: {} });
    expect(missing.status).toBe(400);
    expect((await json<ErrorOut>(missing)).code).toBe('validation_failed');
    const none = await call('POST', '/auth/device/token');
    expect(none.status).toBe(400);
    const text = await call('POST', '/auth/device/token', { raw: 'device_code=x', headers: { 'Content-Type': 'text/plain' } });
    expect(text.status).toBe(415);
  });

  it('reused device code: a second exchange of the same device code fails', async () => {
    const codes = await startPairing();
    const alice = await makeUser();
    await approve(alice, codes.user_code);
    advance(5_000);
    expect((await poll(codes.device_code)).status).toBe(200);
    advance(10_000);
    const again = await pollError(codes.device_code);
    expect(again.status).toBe(400);
    expect(again.body.code).toBe('invalid_grant');
  });

  it('race: of concurrent exchanges of one approved device code exactly one gets tokens', async () => {
    const codes = await startPairing();
    const alice = await makeUser();
    await approve(alice, codes.user_code);
    advance(5_000);
    const results = await Promise.all([poll(codes.device_code), poll(codes.device_code), poll(codes.device_code)]);
    expect(results.filter((r) => r.status === 200)).toHaveLength(1);
    expect(results.filter((r) => r.status === 400)).toHaveLength(2);
  });
});

describe('approving on the phone', () => {
  it('shows what is asking, by a code typed in lower case, with or without the dash', async () => {
    const codes = await startPairing({ client_name: 'Bedroom TV' });
    const alice = await makeUser();
    for (const typed of [codes.user_code.toLowerCase(), codes.user_code.replace('-', ''), ` ${codes.user_code.toLowerCase().replace('-', ' ')} `]) {
      const res = await call('GET', `/auth/device/${encodeURIComponent(typed)}`, { token: alice.token });
      expect(res.status).toBe(200);
      expect(await json(res)).toMatchObject({ user_code: codes.user_code, client_name: 'Bedroom TV', status: 'pending' });
    }
  });

  it('refuses an org the approver does not belong to with 403, and the device keeps waiting', async () => {
    const codes = await startPairing();
    const mallory = await makeUser();
    const theirs = await makeOrg();
    const res = await approve(mallory, codes.user_code, { org_id: theirs.id });
    expect(res.status).toBe(403);
    expect((await json<ErrorOut>(res)).code).toBe('not_org_member');
    advance(5_000);
    expect((await pollError(codes.device_code)).body.code).toBe('authorization_pending');
  });

  it('cross-user: a code another user already approved is unknown to everyone else, and the tokens stay theirs', async () => {
    const codes = await startPairing();
    const alice = await makeUser();
    const bob = await makeUser();
    expect((await approve(alice, codes.user_code)).status).toBe(200);
    expect((await call('GET', `/auth/device/${codes.user_code}`, { token: bob.token })).status).toBe(404);
    expect((await approve(bob, codes.user_code)).status).toBe(404);
    expect((await call('POST', `/auth/device/${codes.user_code}/deny`, { token: bob.token })).status).toBe(404);
    // Alice answering twice is a conflict, not a second approval.
    expect((await approve(alice, codes.user_code)).status).toBe(409);
    advance(5_000);
    const login = await json<{ user_id: number }>(await poll(codes.device_code));
    expect(login.user_id).toBe(alice.id);
  });

  it('needs a signed-in user', async () => {
    const codes = await startPairing();
    expect((await call('GET', `/auth/device/${codes.user_code}`)).status).toBe(401);
    expect((await call('POST', `/auth/device/${codes.user_code}/approve`)).status).toBe(401);
  });

  it('CSRF: a cross-site cookie approval is refused; the same-origin dashboard call works', async () => {
    const codes = await startPairing();
    const alice = await makeUser();
    const cross = await call('POST', `/auth/device/${codes.user_code}/approve`, { cookie: alice.cookie, headers: { 'Sec-Fetch-Site': 'cross-site', Origin: 'https://evil.test' } });
    expect(cross.status).toBe(403);
    expect((await json<ErrorOut>(cross)).code).toBe('csrf');
    const same = await call('POST', `/auth/device/${codes.user_code}/approve`, { cookie: alice.cookie, headers: { 'Sec-Fetch-Site': 'same-origin' } });
    expect(same.status).toBe(200);
  });

  it('brute force: after 10 wrong codes a user is throttled with Retry-After, even for a right code', async () => {
    const codes = await startPairing();
    const guesser = await makeUser();
    const ip = freshIp();
    for (let i = 0; i < 10; i++) {
      const wrong = await call('GET', `/auth/device/BBBB-BB${'BCDFGHJKLM'[i]}B`, { token: guesser.token, headers: { 'cf-connecting-ip': ip } });
      expect(wrong.status).toBe(404);
    }
    const locked = await call('GET', `/auth/device/${codes.user_code}`, { token: guesser.token, headers: { 'cf-connecting-ip': ip } });
    expect(locked.status).toBe(429);
    expect(Number(locked.headers.get('Retry-After'))).toBeGreaterThan(500);
    expect((await approve(guesser, codes.user_code, undefined, ip)).status).toBe(429);
    // Another user is not locked out by the guesser; the window ends after ten minutes.
    const honest = await makeUser();
    expect((await call('GET', `/auth/device/${codes.user_code}`, { token: honest.token })).status).toBe(200);
    advance(600_000);
    expect((await call('GET', `/auth/device/BBBB-BBBB`, { token: guesser.token, headers: { 'cf-connecting-ip': ip } })).status).toBe(404);
  });

  it('brute force: 50 wrong codes from one address throttle every user there', async () => {
    const ip = freshIp();
    const guessers = await Promise.all(Array.from({ length: 6 }, () => makeUser()));
    let n = 0;
    for (const g of guessers) {
      for (let i = 0; i < 9 && n < 50; i++, n++) {
        const res = await call('POST', `/auth/device/ZZZZ-ZZ${'BCDFGHJKLM'[i]}Z/deny`, { token: g.token, headers: { 'cf-connecting-ip': ip } });
        expect(res.status).toBe(404);
      }
    }
    const next = await makeUser();
    const res = await call('GET', '/auth/device/ZZZZ-ZZZZ', { token: next.token, headers: { 'cf-connecting-ip': ip } });
    expect(res.status).toBe(429);
    expect(res.headers.get('Retry-After')).toBeTruthy();
  });
});

describe('paired devices', () => {
  async function pairAs(user: TestUser, name: string) {
    const codes = await startPairing({ client_name: name });
    await approve(user, codes.user_code);
    advance(5_000);
    const login = await json<{ token: string; refresh_token: string }>(await poll(codes.device_code));
    restoreClock?.();
    restoreClock = null;
    return login;
  }

  it('lists the devices that signed in this way by name, once each, also after their tokens rotated', async () => {
    const alice = await makeUser();
    const tv = await pairAs(alice, 'Living-room TV');
    await pairAs(alice, 'Bedroom TV');
    expect((await call('POST', '/auth/refresh', { body: { refresh_token: tv.refresh_token } })).status).toBe(200);
    const res = await call('GET', '/auth/devices', { token: alice.token });
    expect(res.status).toBe(200);
    const list = await json<Array<{ client_name: string }>>(res);
    expect(list.map((d) => d.client_name).sort()).toEqual(['Bedroom TV', 'Living-room TV']);
  });

  it('revoking one ends its access at once: access token and refresh token stop working; audited', async () => {
    const alice = await makeUser();
    const tv = await pairAs(alice, 'Living-room TV');
    const [device] = await json<Array<{ id: string }>>(await call('GET', '/auth/devices', { token: alice.token }));
    const del = await call('DELETE', `/auth/devices/${device!.id}`, { token: alice.token });
    expect(del.status).toBe(204);
    expect((await call('GET', '/orgs', { token: tv.token })).status).toBe(401);
    expect((await call('POST', '/auth/refresh', { body: { refresh_token: tv.refresh_token } })).status).toBe(401);
    expect(await json(await call('GET', '/auth/devices', { token: alice.token }))).toEqual([]);
    expect(await auditActions(device!.id)).toContain('auth.device.revoke');
    // Alice's own login is untouched.
    expect((await call('GET', '/orgs', { token: alice.token })).status).toBe(200);
  });

  it('another user can neither see nor revoke someone else’s paired device', async () => {
    const alice = await makeUser();
    const bob = await makeUser();
    const tv = await pairAs(alice, 'Living-room TV');
    const [device] = await json<Array<{ id: string }>>(await call('GET', '/auth/devices', { token: alice.token }));
    expect(await json(await call('GET', '/auth/devices', { token: bob.token }))).toEqual([]);
    expect((await call('DELETE', `/auth/devices/${device!.id}`, { token: bob.token })).status).toBe(404);
    expect((await call('GET', '/orgs', { token: tv.token })).status).toBe(200);
    expect((await call('DELETE', '/auth/devices/not-a-uuid', { token: bob.token })).status).toBe(400);
  });
});

describe('the /link page and the API description', () => {
  it('/link redirects to the dashboard page, carrying a well-formed code only', async () => {
    const res = await call('GET', '/link?code=bcdf-ghjk');
    expect(res.status).toBe(302);
    expect(res.headers.get('Location')).toBe('/#/link/BCDF-GHJK');
    const junk = await call('GET', '/link?code=%3Cscript%3E');
    expect(junk.headers.get('Location')).toBe('/#/link');
  });

  it('publishes every pairing route in /openapi.json', async () => {
    const doc = await json<{ paths: Record<string, Record<string, unknown>> }>(await call('GET', '/openapi.json'));
    expect(Object.keys(doc.paths['/auth/device'] ?? {})).toContain('post');
    expect(Object.keys(doc.paths['/auth/device/token'] ?? {})).toContain('post');
    expect(Object.keys(doc.paths['/auth/device/{user_code}'] ?? {})).toContain('get');
    expect(Object.keys(doc.paths['/auth/device/{user_code}/approve'] ?? {})).toContain('post');
    expect(Object.keys(doc.paths['/auth/device/{user_code}/deny'] ?? {})).toContain('post');
    expect(Object.keys(doc.paths['/auth/devices'] ?? {})).toContain('get');
    expect(Object.keys(doc.paths['/auth/devices/{id}'] ?? {})).toContain('delete');
    expect(Object.keys(doc.paths['/link'] ?? {})).toContain('get');
  });
});
