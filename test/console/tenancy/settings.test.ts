import { env } from 'cloudflare:test';
import { eq } from 'drizzle-orm';
import { describe, expect, it } from 'vitest';
import { db } from '../../../src/db/client';
import { auditLog, userSettings, users } from '../../../src/db/schema';
import { call, json } from '../../support/http';
import { makeUser } from '../../support/users';

const launcherSettings = { theme: 'dark', tv: { overscan: 2, autoplay_trailers: false }, controller: { layout: 'xbox', deadzone: 0.12 }, recent: ['elden-ring', 'hades'] };

async function stored(userId: number) {
  return (await db(env).select().from(userSettings).where(eq(userSettings.userId, userId)).get())?.settingsJson ?? null;
}

describe('user settings', () => {
  it('reads {} without writing, then stores and returns the whole blob (self only)', async () => {
    const u = await makeUser();
    const first = await call('GET', `/users/${u.id}/settings`, { token: u.token });
    expect(first.status).toBe(200);
    expect(await json(first)).toEqual({ settings: {} });
    expect(await stored(u.id)).toBeNull();
    const put = await call('PUT', `/users/${u.id}/settings`, { token: u.token, body: { settings: launcherSettings } });
    expect(put.status).toBe(200);
    expect(await json(put)).toEqual({ settings: launcherSettings });
    expect(await json(await call('GET', `/users/${u.id}/settings`, { token: u.token }))).toEqual({ settings: launcherSettings });
    // Replaced, not merged.
    await call('PUT', `/users/${u.id}/settings`, { token: u.token, body: { settings: { theme: 'light' } } });
    expect(await json(await call('GET', `/users/${u.id}/settings`, { token: u.token }))).toEqual({ settings: { theme: 'light' } });
    expect((await db(env).select().from(auditLog).where(eq(auditLog.action, 'user.settings.update'))).length).toBeGreaterThanOrEqual(2);
  });

  it('a stored blob that is not a JSON object (an import, a hand edit) reads as {}, also in the login answer', async () => {
    for (const text of ['[1,2]', '"dark"', 'null', '{not json']) {
      const u = await makeUser();
      await db(env).insert(userSettings).values({ userId: u.id, settingsJson: text }).run();
      expect(await json(await call('GET', `/users/${u.id}/settings`, { token: u.token }))).toEqual({ settings: {} });
      const login = await call('POST', '/auth/login', { body: { username: u.username, password: u.password } });
      expect(login.status).toBe(200);
      expect(await json(login)).toMatchObject({ user_id: u.id, settings: {} });
      expect(await stored(u.id)).toBe(text);
    }
  });

  it('refuses anonymous callers, other users and even platform admins', async () => {
    const u = await makeUser();
    const other = await makeUser();
    const root = await makeUser({ role: 'admin' });
    expect((await call('GET', `/users/${u.id}/settings`)).status).toBe(401);
    expect((await call('GET', `/users/${u.id}/settings`, { token: other.token })).status).toBe(403);
    expect((await call('PUT', `/users/${u.id}/settings`, { token: other.token, body: { settings: { theme: 'pwned' } } })).status).toBe(403);
    expect((await call('GET', `/users/${u.id}/settings`, { token: root.token })).status).toBe(403);
    expect(await stored(u.id)).toBeNull();
  });

  it('rejects non-objects, privileged fields, deep nesting and oversize blobs, writing nothing', async () => {
    const u = await makeUser();
    let deep: Record<string, unknown> = { leaf: true };
    for (let i = 0; i < 10; i++) deep = { nested: deep };
    const cases: Array<[unknown, number]> = [
      [{ settings: [] }, 400],
      [{ settings: 'dark' }, 400],
      [{ settings: null }, 400],
      [{}, 400],
      [{ settings: {}, role: 'admin' }, 400],
      [{ settings: { role: 'admin' } }, 400],
      [{ settings: { is_admin: true, theme: 'dark' } }, 400],
      [{ settings: deep }, 400],
      [{ settings: { blob: 'x'.repeat(17 * 1024) } }, 413],
    ];
    for (const [body, status] of cases) {
      const res = await call('PUT', `/users/${u.id}/settings`, { token: u.token, body });
      expect(res.status).toBe(status);
    }
    expect((await call('PUT', `/users/${u.id}/settings`, { token: u.token, raw: 'not json', headers: { 'Content-Type': 'application/json' } })).status).toBe(400);
    expect((await call('PUT', `/users/${u.id}/settings`, { token: u.token, raw: 'x'.repeat(70 * 1024), headers: { 'Content-Type': 'application/json' } })).status).toBe(413);
    expect(await stored(u.id)).toBeNull();
    expect((await db(env).select().from(users).where(eq(users.id, u.id)).get())?.role).toBe('user');
  });

  it('stack-overflow attack: tens of thousands of nested arrays (under the size limit) are a 400, not a 500', async () => {
    const u = await makeUser();
    const levels = 30_000;
    const raw = `{"settings":{"a":${'['.repeat(levels)}${']'.repeat(levels)}}}`;
    expect(raw.length).toBeLessThan(64 * 1024);
    const res = await call('PUT', `/users/${u.id}/settings`, { token: u.token, raw, headers: { 'Content-Type': 'application/json' } });
    expect(res.status).toBe(400);
    expect(await json(res)).toMatchObject({ code: 'too_deep' });
    expect(await stored(u.id)).toBeNull();
    // Exactly at the limit is still fine.
    let ok: Record<string, unknown> = { leaf: true };
    for (let i = 0; i < 7; i++) ok = { nested: ok };
    expect((await call('PUT', `/users/${u.id}/settings`, { token: u.token, body: { settings: ok } })).status).toBe(200);
  });
});
