/**
 * `/api/users` CRUD and config validation: contract messages, plus the secure deviations
 * (validated roles and durations, duplicate names as 409, audited changes).
 */
import { env } from 'cloudflare:test';
import { beforeAll, describe, expect, it } from 'vitest';
import { call, json } from '../support/http';
import { makeUser, PASSWORD, type TestUser } from '../support/users';
import { useFakeOverseer } from './fake';

let admin: TestUser;

beforeAll(async () => {
  await useFakeOverseer('users-config');
  admin = await makeUser({ role: 'admin' });
});

const as = (method: string, path: string, body?: unknown) => call(method, path, { token: admin.token, body });

describe('/api/users', () => {
  it('creates, reads, updates and deletes users with the contract messages', async () => {
    const created = await as('POST', '/api/users', { username: 'viewer-1', password: PASSWORD });
    expect(created.status).toBe(201);
    const user = await json<{ id: number; username: string; role: string }>(created);
    expect(user).toMatchObject({ username: 'viewer-1', role: 'user' });
    expect((await json(await as('POST', '/api/users', { username: 'viewer-1', password: PASSWORD }))).error).toBe('username already exists');
    const missing = await as('POST', '/api/users', { username: 'x' });
    expect(missing.status).toBe(400);
    expect((await json(missing)).error).toBe('username and password are required');
    const badRole = await as('POST', '/api/users', { username: 'x2', password: PASSWORD, role: 'root' });
    expect((await json(badRole)).error).toBe("role must be 'admin' or 'user'");

    const list = await json<Array<{ id: number; username: string }>>(await as('GET', '/api/users'));
    expect(list.map((x) => x.id)).toEqual([...list.map((x) => x.id)].sort((a, b) => a - b));
    expect(list.some((x) => x.username === 'viewer-1')).toBe(true);

    expect((await json(await as('GET', `/api/users/${user.id}`))).username).toBe('viewer-1');
    const invalid = await as('GET', '/api/users/abc');
    expect(invalid.status).toBe(400);
    expect((await json(invalid)).error).toBe('invalid user id');
    const nobody = await as('GET', '/api/users/999999');
    expect(nobody.status).toBe(404);
    expect((await json(nobody)).error).toBe('user not found');

    const renamed = await as('PUT', `/api/users/${user.id}`, { username: 'viewer-renamed', role: 'admin' });
    expect(renamed.status).toBe(200);
    expect(await json(renamed)).toMatchObject({ username: 'viewer-renamed', role: 'admin' });
    const login = await call('POST', '/api/auth/login', { body: { username: 'viewer-renamed', password: PASSWORD } });
    expect(login.status).toBe(200);
    expect((await json(await as('PUT', `/api/users/${user.id}`, { role: 'superuser' }))).error).toBe("role must be 'admin' or 'user'");
    expect((await as('PUT', `/api/users/${user.id}`, { username: admin.username })).status).toBe(409);
    expect((await as('PUT', '/api/users/999999', { role: 'user' })).status).toBe(404);

    expect((await as('DELETE', `/api/users/${user.id}`)).status).toBe(204);
    expect((await as('DELETE', `/api/users/${user.id}`)).status).toBe(204);
    expect((await as('GET', `/api/users/${user.id}`)).status).toBe(404);
  });

  it("revokes a user's logins when an admin resets the password", async () => {
    const u = await makeUser();
    expect((await call('GET', '/api/me', { token: u.token })).status).toBe(200);
    expect((await as('PUT', `/api/users/${u.id}`, { password: 'another long passphrase 42' })).status).toBe(200);
    expect((await call('GET', '/api/me', { token: u.token })).status).toBe(403);
  });
});

describe('/api/config validation', () => {
  it('refuses durations the overseer could not parse, with the key named', async () => {
    const cfg = await json<Record<string, unknown>>(await as('GET', '/api/config'));
    for (const key of ['segment_length', 'restart_delay', 'error_window', 'reconcile_interval', 'check_interval']) {
      const res = await as('PUT', '/api/config', { ...cfg, [key]: 'five minutes' });
      expect(res.status).toBe(400);
      expect((await json(res)).error).toMatch(new RegExp(`^${key}: `));
    }
    for (const ok of ['0', '1h30m', '1.5h', '300ms', '']) expect((await as('PUT', '/api/config', { ...cfg, error_window: ok })).status).toBe(200);
    expect((await as('PUT', '/api/config', { ...cfg, start_concurrency: -1 })).status).toBe(400);
    expect((await as('PUT', '/api/config', { ...cfg, driver_urls: { chaturbate: 5 } })).status).toBe(400);
    expect((await as('GET', '/api/config')).status).toBe(200);
  });

  it('ignores unknown keys and audits every change by key name (never the values)', async () => {
    const cfg = await json<Record<string, unknown>>(await as('GET', '/api/config'));
    const res = await as('PUT', '/api/config', { ...cfg, cookies: 'session=secret', extra: 'ignored' });
    expect(await json(res)).not.toHaveProperty('extra');
    const row = await env.DB.prepare(`SELECT details, actor_user_id FROM audit_log WHERE action = 'dvr.config.update' ORDER BY id DESC LIMIT 1`).first<{
      details: string;
      actor_user_id: number;
    }>();
    expect(row!.actor_user_id).toBe(admin.id);
    expect(JSON.parse(row!.details)).toEqual({ changed: ['cookies'] });
    expect(row!.details).not.toContain('secret');
  });

  it('merges stored driver_urls into the defaults on load, unless stored as null', async () => {
    const cfg = await json<Record<string, unknown>>(await as('GET', '/api/config'));
    await as('PUT', '/api/config', { ...cfg, driver_urls: { bongacams: 'https://bongacams.com/{{.Username}}' } });
    const merged = await json<{ driver_urls: Record<string, string> }>(await as('GET', '/api/config'));
    expect(Object.keys(merged.driver_urls).sort()).toEqual(['bongacams', 'chaturbate', 'stripchat']);
    await as('PUT', '/api/config', { ...cfg, driver_urls: null });
    expect((await json(await as('GET', '/api/config'))).driver_urls).toBeNull();
    const s = await json<Record<string, unknown>>(await call('POST', '/api/subscriptions', { token: admin.token, body: { driver: 'chaturbate', username: 'nourl' } }));
    expect(s).not.toHaveProperty('canonical_url');
  });
});
