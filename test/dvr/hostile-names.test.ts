/**
 * Hostile names (issue 11 item 1): driver names, file extensions and recorder keys that are also
 * the names of Object.prototype's properties (`constructor`, `__proto__`, `toString`, `valueOf`,
 * `hasOwnProperty`) must never be looked up as inherited properties — a subscribe with one answered
 * 500 and broke `GET /api/subscriptions` for every admin until the account was deleted.
 */
import { env } from 'cloudflare:test';
import { beforeAll, describe, expect, it } from 'vitest';
import { decodeEntities } from '../../src/console/charts/entities';
import { call, json } from '../support/http';
import { makeUser, type TestUser } from '../support/users';
import { useFakeOverseer } from './fake';
import { storeRecording } from '../support/recordings';

const HOSTILE = ['constructor', '__proto__', 'toString', 'valueOf', 'hasOwnProperty'];

let admin: TestUser;
let user: TestUser;

beforeAll(async () => {
  await useFakeOverseer('hostile-names');
  admin = await makeUser({ role: 'admin' });
  user = await makeUser();
});

describe('a driver named after an Object.prototype property', () => {
  for (const driver of HOSTILE) {
    it(`subscribe with driver "${driver}" is a 400 unknown_driver and the lists keep answering`, async () => {
      const res = await call('POST', '/api/subscriptions', { token: user.token, body: { driver, username: 'x' } });
      expect(res.status).toBe(400);
      const body = await json<{ error: string; code: string }>(res);
      expect(body).toMatchObject({ error: `driver ${driver} is not supported`, code: 'unknown_driver' });
      expect((await call('GET', '/api/subscriptions', { token: user.token })).status).toBe(200);
      expect((await call('GET', '/api/subscriptions', { token: admin.token })).status).toBe(200);
    });
  }

  it('refuses a driver that is not in DVR_DRIVERS and names the allowed ones', async () => {
    const res = await call('POST', '/api/subscriptions', { token: user.token, body: { driver: 'myfreecams', username: 'alice' } });
    expect(res.status).toBe(400);
    const body = await json<{ error: string; code: string; details: { drivers: string[] } }>(res);
    expect(body).toMatchObject({ error: 'driver myfreecams is not supported', code: 'unknown_driver' });
    expect(body.details.drivers).toEqual(['chaturbate', 'stripchat', 'bongacams', 'cam4', 'camsoda']);
  });

  it('a legacy row with driver "constructor" (stored before the fix) cannot break anyone\'s list', async () => {
    const victim = await makeUser();
    await call('POST', '/api/subscriptions', { token: victim.token, body: { driver: 'chaturbate', username: 'fine' } });
    for (const driver of HOSTILE) {
      const src = await env.DB.prepare(`INSERT INTO sources (driver, username, created_at) VALUES (?1, 'legacy', ?2) RETURNING id`)
        .bind(driver, new Date().toISOString())
        .first<{ id: number }>();
      await env.DB.prepare(`INSERT INTO subscriptions (user_id, source_id, posture, created_at, updated_at) VALUES (?1, ?2, 'active', ?3, ?3)`)
        .bind(victim.id, src!.id, new Date().toISOString())
        .run();
    }
    for (const who of [victim, admin]) {
      const res = await call('GET', '/api/subscriptions', { token: who.token });
      expect(res.status).toBe(200);
      const list = await json<Array<{ driver: string; username: string; canonical_url?: string }>>(res);
      const legacy = list.filter((s) => s.username === 'legacy' && s.driver === 'constructor');
      expect(legacy).toHaveLength(1);
      expect(legacy[0]!.canonical_url).toBeUndefined();
      expect(list.find((s) => s.driver === 'chaturbate' && s.username === 'fine')?.canonical_url).toBe('https://chaturbate.com/fine/');
    }
    // The owner can still act on the legacy subscription (pause, archive) to clean it up.
    expect((await call('GET', '/api/subscriptions/toString/legacy', { token: victim.token })).status).toBe(200);
    expect((await call('POST', '/api/subscriptions/valueOf/legacy/pause', { token: victim.token })).status).toBe(200);
    expect((await call('DELETE', '/api/subscriptions/hasOwnProperty/legacy', { token: victim.token })).status).toBe(204);
  });

  it('a driver_urls entry named "constructor" is an own key like any other', async () => {
    const cfg = await json<Record<string, unknown>>(await call('GET', '/api/config', { token: admin.token }));
    const put = await call('PUT', '/api/config', { token: admin.token, body: { ...cfg, driver_urls: { ...(cfg.driver_urls as object), constructor: 'https://c.example/{{.Username}}' } } });
    expect(put.status).toBe(200);
    try {
      const list = await json<Array<{ driver: string; username: string; canonical_url?: string }>>(await call('GET', '/api/subscriptions', { token: admin.token }));
      expect(list.find((s) => s.driver === 'constructor')?.canonical_url).toBe('https://c.example/legacy');
    } finally {
      await call('PUT', '/api/config', { token: admin.token, body: cfg });
    }
  });
});

describe('other names that come from outside', () => {
  it('serves a recording named "a.constructor" as application/octet-stream', async () => {
    await call('POST', '/api/subscriptions', { token: user.token, body: { driver: 'chaturbate', username: 'ext' } });
    await storeRecording('chaturbate', 'ext', 's1/a.constructor', new Uint8Array([1, 2, 3]));
    const res = await call('GET', '/media/subscriptions/chaturbate/ext/s1/a.constructor', { token: user.token });
    expect(res.status).toBe(200);
    expect(res.headers.get('content-type')).toBe('application/octet-stream');
  });

  it('keeps "&constructor;" in a scraped chart page as text', () => {
    expect(decodeEntities('Tom &constructor; Jerry &amp; &__proto__; &toString;')).toBe('Tom &constructor; Jerry & &__proto__; &toString;');
  });
});
