/**
 * Accounts: bootstrap (first user is admin), closed registration, usernames unreadable at rest,
 * password policy, legacy hash import and upgrade, login throttling, the audit trail.
 */
import { env } from 'cloudflare:test';
import { eq } from 'drizzle-orm';
import { describe, expect, it } from 'vitest';
import { db } from '../../src/db/client';
import { auditLog, platformSettings, users } from '../../src/db/schema';
import { UNREADABLE_USERNAME } from '../../src/auth/accounts';
import { usernameKeys } from '../../src/auth/usernames';
import { call, json } from '../support/http';
import { inOneRateWindow } from '../support/rate-window';
import { makeUser, PASSWORD } from '../support/users';

// The first tests of this file run against an empty users table (storage is per test file).
describe('bootstrap', () => {
  it('reports no users, makes the first registrant admin and the second (invited by the admin) a user', async () => {
    expect(await json(await call('GET', '/users/exists'))).toEqual({ has_users: false });
    const first = await call('POST', '/users', { body: { username: '  Founder  ', password: PASSWORD } });
    expect(first.status).toBe(201);
    const f = await json<{ user_id: number; role: string; username: string; token: string }>(first);
    expect(f).toMatchObject({ role: 'admin', username: 'Founder' });
    expect(await json(await call('GET', '/users/exists'))).toEqual({ has_users: true });

    const second = await call('POST', '/users', { token: f.token, body: { username: 'second-user', password: PASSWORD } });
    expect(second.status).toBe(201);
    expect(await json(second)).toMatchObject({ role: 'user' });
  });

  it('closes registration once an admin exists (default), with no account created', async () => {
    const res = await call('POST', '/users', { body: { username: 'drive-by', password: PASSWORD } });
    expect(res.status).toBe(403);
    expect(await res.json()).toMatchObject({ code: 'registration_closed' });
    expect((await call('POST', '/auth/login', { body: { username: 'drive-by', password: PASSWORD } })).status).toBe(401);
  });

  it('opens registration when the platform switch is on', async () => {
    await db(env).insert(platformSettings).values({ key: 'open_registration', value: 'true' }).run();
    const res = await call('POST', '/users', { body: { username: 'walk-in', password: PASSWORD } });
    expect(res.status).toBe(201);
    await db(env).delete(platformSettings).where(eq(platformSettings.key, 'open_registration')).run();
  });

  it('treats usernames as equal case-insensitively after Unicode normalisation', async () => {
    const admin = await makeUser({ role: 'admin' });
    const res = await call('POST', '/users', { token: admin.token, body: { username: 'ＦＯＵＮＤＥＲ', password: PASSWORD } });
    expect(res.status).toBe(409);
    expect(await res.json()).toMatchObject({ error: 'username already exists' });
    const login = await call('POST', '/auth/login', { body: { username: 'founder', password: PASSWORD } });
    expect(login.status).toBe(200);
  });
});

describe('usernames at rest', () => {
  it('stores neither the name nor a plain hash of it in the users row', async () => {
    const u = await makeUser({ username: 'Very Secret Name' });
    const row = await db(env).select().from(users).where(eq(users.id, u.id)).get();
    const serialized = JSON.stringify(row).toLowerCase();
    expect(serialized).not.toContain('very secret name');
    expect(serialized).not.toContain('very');
    const plainSha = [...new Uint8Array(await crypto.subtle.digest('SHA-256', new TextEncoder().encode('very secret name')))]
      .map((b) => b.toString(16).padStart(2, '0'))
      .join('');
    expect(serialized).not.toContain(plainSha);
    // ...yet admins see the name through the API.
    const keys = await usernameKeys(env.COUCHSUITE_USERNAME_SECRET);
    expect(await keys.decrypt(row!.usernameEnc, row!.usernameDigest)).toBe('Very Secret Name');
  });

  it('cannot decrypt a username ciphertext moved onto another row', async () => {
    const a = await makeUser();
    const b = await makeUser();
    const ra = await db(env).select().from(users).where(eq(users.id, a.id)).get();
    const rb = await db(env).select().from(users).where(eq(users.id, b.id)).get();
    const keys = await usernameKeys(env.COUCHSUITE_USERNAME_SECRET);
    await expect(keys.decrypt(ra!.usernameEnc, rb!.usernameDigest)).rejects.toThrow();
  });

  it('lists every other user when one stored name does not decrypt: that row shows a placeholder, not a 500', async () => {
    const root = await makeUser({ role: 'admin' });
    const good = await makeUser({ username: `Readable ${crypto.randomUUID().slice(0, 8)}` });
    const damaged = await makeUser();
    const rg = await db(env).select().from(users).where(eq(users.id, good.id)).get();
    const rd = await db(env).select().from(users).where(eq(users.id, damaged.id)).get();
    // A ciphertext copied from another row (or written under another secret) does not decrypt here.
    await db(env).update(users).set({ usernameEnc: rg!.usernameEnc }).where(eq(users.id, damaged.id)).run();
    try {
      const res = await call('GET', '/api/users', { token: root.token });
      expect(res.status).toBe(200);
      const list = (await json(res)) as Array<{ id: number; username: string }>;
      expect(list.find((u) => u.id === good.id)?.username).toBe(good.username);
      expect(list.find((u) => u.id === damaged.id)?.username).toBe(UNREADABLE_USERNAME);
    } finally {
      await db(env).update(users).set({ usernameEnc: rd!.usernameEnc }).where(eq(users.id, damaged.id)).run();
    }
  });
});

describe('password policy', () => {
  it.each([
    ['too short', 'short-pw', 'password must be at least 12 characters'],
    ['too long', 'x'.repeat(200) + 'y'.repeat(57), 'password must be at most 256 characters'],
    ['common', 'password1234', 'password is too common'],
    ['one repeated character', 'aaaaaaaaaaaaaa', 'password is too common'],
  ])('refuses a %s password with a clear message', async (_label, password, message) => {
    const admin = await makeUser({ role: 'admin' });
    const res = await call('POST', '/users', { token: admin.token, body: { username: `policy-${crypto.randomUUID().slice(0, 6)}`, password } });
    expect(res.status).toBe(400);
    expect(await res.json()).toMatchObject({ error: message, code: 'weak_password' });
  });

  it('accepts 256 characters and does not truncate them', async () => {
    const long = 'ab'.repeat(128);
    const u = await makeUser({ password: long });
    expect((await call('POST', '/auth/login', { body: { username: u.username, password: long } })).status).toBe(200);
    expect((await call('POST', '/auth/login', { body: { username: u.username, password: long.slice(0, 255) } })).status).toBe(401);
  });
});

describe('legacy password hashes', () => {
  async function importUser(passHash: string) {
    const u = await makeUser();
    await db(env).update(users).set({ passHash }).where(eq(users.id, u.id)).run();
    return u;
  }
  const stored = async (id: number) => (await db(env).select().from(users).where(eq(users.id, id)).get())!.passHash;

  it('verifies a sticky-backend bcrypt hash and upgrades it to scrypt at login', async () => {
    const u = await importUser('$2b$10$4bKheCcUp5TB4doC9HQAAOJlNIqiBVo0LWLYa95aM8iX8sTbipkRS');
    expect((await call('POST', '/auth/login', { body: { username: u.username, password: 'legacy sticky password?' } })).status).toBe(401);
    expect(await stored(u.id)).toMatch(/^\$2b\$/);
    expect((await call('POST', '/api/auth/login', { body: { username: u.username, password: 'legacy sticky password' } })).status).toBe(200);
    expect(await stored(u.id)).toMatch(/^\$scrypt\$ln=10,r=8,p=5\$/);
    expect((await call('POST', '/auth/login', { body: { username: u.username, password: 'legacy sticky password' } })).status).toBe(200);
  });

  it('verifies a CouchServer PBKDF2-SHA256 (120,000 iterations) hash and upgrades it', async () => {
    const u = await importUser('$pbkdf2-sha256$i=120000$FdUwhlCWNyHhUTgaAvKfGA==$69Fjwn6detV2Tr9vzYwjIf4-ku9V9-N4vT9fSu6guF8=');
    expect((await call('POST', '/auth/login', { body: { username: u.username, password: 'prototype password 2' } })).status).toBe(401);
    expect((await call('POST', '/auth/login', { body: { username: u.username, password: 'prototype password 1' } })).status).toBe(200);
    expect(await stored(u.id)).toMatch(/^\$scrypt\$/);
  });

  it('rehashes a scrypt hash made with weaker parameters', async () => {
    const u = await makeUser();
    const weak = await import('../../src/auth/passwords').then((m) => m.hashPassword(PASSWORD, { logN: 10, r: 8, p: 1 }));
    await db(env).update(users).set({ passHash: weak }).where(eq(users.id, u.id)).run();
    expect((await call('POST', '/auth/login', { body: { username: u.username, password: PASSWORD } })).status).toBe(200);
    expect(await stored(u.id)).toMatch(/^\$scrypt\$ln=10,r=8,p=5\$/);
  });
});

describe('login throttling', () => {
  it('locks an account name after LOGIN_MAX_FAILURES failures with 429 + Retry-After, even for the right password', async () => {
    const u = await makeUser();
    const max = Number(env.LOGIN_MAX_FAILURES);
    for (let i = 0; i < max; i++) {
      const r = await call('POST', '/auth/login', { body: { username: u.username, password: `wrong guess number ${i}` }, headers: { 'cf-connecting-ip': `198.51.100.${i}` } });
      expect(r.status).toBe(401);
    }
    const locked = await call('POST', '/auth/login', { body: { username: u.username, password: PASSWORD } });
    expect(locked.status).toBe(429);
    expect(Number(locked.headers.get('Retry-After'))).toBeGreaterThan(0);
    expect(await locked.json()).toMatchObject({ code: 'account_locked' });
    const actions = (await db(env).select().from(auditLog).where(eq(auditLog.actorUserId, u.id)).all()).map((r) => r.action);
    expect(actions).toContain('auth.login.lockout');
    expect(actions).toContain('auth.login.locked');
  });

  it('locks unknown names the same way, so lockouts do not reveal which accounts exist', async () => {
    const max = Number(env.LOGIN_MAX_FAILURES);
    for (let i = 0; i < max; i++) await call('POST', '/auth/login', { body: { username: 'ghost-account', password: `guess ${i} guess guess` }, headers: { 'cf-connecting-ip': `198.51.100.${100 + i}` } });
    const res = await call('POST', '/auth/login', { body: { username: 'ghost-account', password: 'whatever whatever' } });
    expect(res.status).toBe(429);
  });

  it('resets the failure count after a successful login', async () => {
    const u = await makeUser();
    const max = Number(env.LOGIN_MAX_FAILURES);
    for (let i = 0; i < max - 1; i++) await call('POST', '/auth/login', { body: { username: u.username, password: `wrong guess ${i} here` }, headers: { 'cf-connecting-ip': `192.0.2.${i}` } });
    expect((await call('POST', '/auth/login', { body: { username: u.username, password: PASSWORD } })).status).toBe(200);
    for (let i = 0; i < max - 1; i++) await call('POST', '/auth/login', { body: { username: u.username, password: `wrong again ${i} here` }, headers: { 'cf-connecting-ip': `192.0.2.${50 + i}` } });
    expect((await call('POST', '/auth/login', { body: { username: u.username, password: PASSWORD } })).status).toBe(200);
  });

  it('throttles one client address with 429 + Retry-After (rate-limit binding)', async () => {
    const throttled = await inOneRateWindow(60, async (round) => {
      for (let i = 0; i < 40; i++) {
        const r = await call('POST', '/auth/login', { body: { username: `spray-${round}-${i}`, password: 'spray spray spray' }, headers: { 'cf-connecting-ip': `203.0.113.${250 - round}` } });
        if (r.status === 429) return r;
      }
      return undefined;
    });
    expect(throttled?.status).toBe(429);
    expect(throttled?.headers.get('Retry-After')).toBe('60');
  });

  it('audits successful and failed logins with the client address and request id', async () => {
    const u = await makeUser();
    await call('POST', '/auth/login', { body: { username: u.username, password: 'not it, not it' }, headers: { 'cf-connecting-ip': '192.0.2.77' } });
    const ok = await call('POST', '/auth/login', { body: { username: u.username, password: PASSWORD }, headers: { 'cf-connecting-ip': '192.0.2.78' } });
    const rows = await db(env).select().from(auditLog).where(eq(auditLog.actorUserId, u.id)).all();
    const success = rows.find((r) => r.action === 'auth.login.success')!;
    expect(success.ip).toBe('192.0.2.78');
    expect(success.requestId).toBe(ok.headers.get('X-Request-Id'));
    expect(rows.find((r) => r.action === 'auth.login.failure')?.ip).toBe('192.0.2.77');
  });
});
