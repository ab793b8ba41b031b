/**
 * Throttling what costs a password hash beyond login (issue 11 item 14): password changes per
 * user and per address, with failures audited, and registration per address.
 */
import { env } from 'cloudflare:test';
import { and, eq } from 'drizzle-orm';
import { describe, expect, it } from 'vitest';
import { db } from '../../src/db/client';
import { auditLog, platformSettings } from '../../src/db/schema';
import { call } from '../support/http';
import { inOneRateWindow } from '../support/rate-window';
import { makeUser, PASSWORD } from '../support/users';

const wrong = { current_password: 'not my password at all', new_password: 'a brand new passphrase' };

function changePassword(token: string, body: unknown, ip: string) {
  return call('POST', '/api/me/change-password', { token, body, headers: { 'cf-connecting-ip': ip } });
}

describe('POST /api/me/change-password', () => {
  it('password guessing through a stolen session: the user’s password changes lock after 10 failures (429 + Retry-After), audited', async () => {
    const u = await makeUser();
    // Spread over addresses: the per-user lock holds whatever address the guesses come from.
    for (let i = 0; i < 10; i++) expect((await changePassword(u.token, wrong, `198.51.100.${i + 1}`)).status).toBe(401);
    const locked = await changePassword(u.token, { current_password: PASSWORD, new_password: 'a brand new passphrase' }, '198.51.100.99');
    expect(locked.status).toBe(429);
    expect(await locked.json()).toMatchObject({ code: 'account_locked' });
    expect(Number(locked.headers.get('Retry-After'))).toBeGreaterThan(0);
    const failures = await db(env).select().from(auditLog).where(and(eq(auditLog.action, 'user.password.change.failure'), eq(auditLog.targetId, String(u.id))));
    expect(failures).toHaveLength(10);
    expect(failures[0]!.ip).toBe('198.51.100.1');
    expect((await db(env).select().from(auditLog).where(and(eq(auditLog.action, 'user.password.change.lockout'), eq(auditLog.targetId, String(u.id))))).length).toBe(1);
    // The password did not change, and logging in is a separate counter.
    expect((await call('POST', '/auth/login', { body: { username: u.username, password: PASSWORD } })).status).toBe(200);
  });

  it('a success clears the user’s failure count', async () => {
    const u = await makeUser();
    for (let i = 0; i < 9; i++) await changePassword(u.token, wrong, '198.51.101.1');
    expect((await changePassword(u.token, { current_password: PASSWORD, new_password: 'a brand new passphrase' }, '198.51.101.1')).status).toBe(204);
    expect((await changePassword(u.token, { current_password: 'still not it, sorry', new_password: 'another new passphrase' }, '198.51.101.2')).status).toBe(401);
    expect((await changePassword(u.token, { current_password: 'a brand new passphrase', new_password: 'another new passphrase' }, '198.51.101.2')).status).toBe(204);
  });

  it('hash flooding from one address across many accounts is throttled per address (429 + Retry-After)', async () => {
    const throttled = await inOneRateWindow(60, async (round) => {
      // Fresh accounts each round: a repeat must not meet the per-user lock instead of the address's.
      const accounts = await Promise.all([1, 2, 3, 4, 5].map(() => makeUser()));
      for (let i = 0; i < 45; i++) {
        const r = await changePassword(accounts[i % accounts.length]!.token, wrong, `203.0.113.${251 - round * 10}`);
        if (r.status === 429) return r;
      }
      return undefined;
    });
    expect(throttled?.status).toBe(429);
    expect(throttled?.headers.get('Retry-After')).toBe('60');
  });
});

describe('registration', () => {
  it('account farming from one address: registrations past REGISTER_MAX_PER_IP are refused with 429 + Retry-After', async () => {
    await makeUser(); // not the bootstrap registration
    await db(env).insert(platformSettings).values({ key: 'open_registration', value: 'true' }).onConflictDoUpdate({ target: platformSettings.key, set: { value: 'true' } }).run();
    const tag = crypto.randomUUID().slice(0, 6);
    const register = (i: number, ip: string) => call('POST', '/users', { body: { username: `farm-${tag}-${i}`, password: PASSWORD }, headers: { 'cf-connecting-ip': ip } });
    for (let i = 0; i < 10; i++) expect((await register(i, '192.0.2.200')).status).toBe(201);
    const refused = await register(10, '192.0.2.200');
    expect(refused.status).toBe(429);
    expect(Number(refused.headers.get('Retry-After'))).toBeGreaterThan(3000);
    // Another address is unaffected; an admin creating accounts is not counted.
    expect((await register(11, '192.0.2.201')).status).toBe(201);
    const root = await makeUser({ role: 'admin' });
    const byAdmin = await call('POST', '/users', { token: root.token, body: { username: `farm-${tag}-admin`, password: PASSWORD }, headers: { 'cf-connecting-ip': '192.0.2.200' } });
    expect(byAdmin.status).toBe(201);
  });
});
