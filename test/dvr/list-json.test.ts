/**
 * The subscription lists' JSON is built by SQLite in one statement (issue 17 target 3: a changed
 * 1,000-row list passes one string through the Worker instead of mapping and serialising every
 * row). What a client sees must not change: the body is byte-for-byte what the single-object
 * presenter (status.ts `present`, used by the single GET) serialises for the same rows — field order,
 * omitted optional fields, the status rule, escaping of hostile text, canonical URLs from the
 * stored config — for the admin's list, a user's own list and the admin's view of a user's list.
 */
import { env } from 'cloudflare:test';
import { beforeAll, describe, expect, it } from 'vitest';
import { db } from '../../src/db/client';
import { findStatusRowBySubId } from '../../src/dvr/queries';
import { mergeStored } from '../../src/dvr/settings';
import { listBody, listTemplates, present } from '../../src/dvr/status';
import { call, json } from '../support/http';
import { makeUser, type TestUser } from '../support/users';
import { useFakeOverseer } from './fake';

let admin: TestUser;
let user: TestUser;

/** What the single-object presenter makes of `userId`'s subscriptions (everyone's without it), in
 * sub_id order, under the stored config. */
async function presented(userId?: number): Promise<string> {
  const ids = userId === undefined ? env.DB.prepare('SELECT id FROM subscriptions ORDER BY id') : env.DB.prepare('SELECT id FROM subscriptions WHERE user_id = ?1 ORDER BY id').bind(userId);
  const out = [];
  for (const { id } of (await ids.all<{ id: number }>()).results) {
    const row = (await findStatusRowBySubId(db(env), id))!;
    out.push(present(row, mergeStored(row.configData), []));
  }
  return JSON.stringify(out);
}

/** A source with the given runtime mirror, subscribed by `userId`, written straight into D1 (as
 * a SourceMonitor or an older version could have left it). */
async function source(userId: number, driver: string, username: string, runtime: Record<string, unknown>, posture = 'active') {
  const cols = Object.keys(runtime);
  await env.DB.batch([
    env.DB.prepare(
      `INSERT INTO sources (driver, username${cols.map((c) => `, ${c}`).join('')}) VALUES (?1, ?2${cols.map((_, i) => `, ?${i + 3}`).join('')})`,
    ).bind(driver, username, ...Object.values(runtime)),
    env.DB.prepare(`INSERT INTO subscriptions (user_id, source_id, posture) SELECT ?1, id, ?2 FROM sources WHERE driver = ?3 AND username = ?4`).bind(
      userId,
      posture,
      driver,
      username,
    ),
  ]);
}

async function body(path: string, token: string) {
  const res = await call('GET', path, { token });
  expect(res.status).toBe(200);
  expect(res.headers.get('Content-Type')).toMatch(/^application\/json/);
  return res.text();
}

beforeAll(async () => {
  await useFakeOverseer('list-json');
  admin = await makeUser({ role: 'admin' });
  user = await makeUser();
  const hostile = 'q"uote\\back\u0001ctl\nnl\ttab\u001f é 漢字 🎥 \u2028\u2029 </script>';
  await source(user.id, 'chaturbate', 'json-idle', {});
  await source(user.id, 'chaturbate', 'json-recording', {
    worker_state: 'running',
    pid: 4242,
    recording_state: 'recording',
    session_active: 1,
    session_started_at: '2026-11-30T10:00:00Z',
    session_duration: '01:02:03',
    last_heartbeat: '2026-11-30T11:02:03Z',
    last_recording_at: '2026-11-30T11:00:00Z',
  });
  await source(user.id, 'chaturbate', 'json-waiting', { worker_state: 'running', pid: 7, recording_state: 'sleeping', session_duration: '' });
  await source(user.id, 'stripchat', 'json-session', { worker_state: 'running', recording_state: 'idle', session_active: 1 });
  await source(user.id, 'chaturbate', 'json-errored', { worker_state: 'errored', error_message: hostile, pid: 0 });
  // Values an older version may have written: an unknown worker state reads as idle, an unknown
  // recording state is left out, an empty error message too.
  await source(user.id, 'chaturbate', 'json-legacy', { worker_state: 'zombie', recording_state: 'paused', error_message: '', last_heartbeat: '' });
  await source(user.id, 'legacy-driver', 'json-no-url', { worker_state: 'starting' });
  await source(user.id, 'chaturbate', 'json-paused', { worker_state: 'running', recording_state: 'recording' }, 'paused');
  await source(user.id, 'chaturbate', 'json-archived', { worker_state: 'errored', error_message: 'gone' }, 'archived');
  await source(admin.id, 'stripchat', `json-${hostile.replace(/[^\p{L}\p{N}]/gu, '')}`, { worker_state: 'idle' });
});

describe('subscription lists built by SQLite', () => {
  it('are byte-for-byte what the per-row presenter makes of the same rows, in sub_id order', async () => {
    const all = await body('/api/subscriptions', admin.token);
    expect(all).toBe(await presented());
    expect((JSON.parse(all) as Array<{ sub_id: number }>).map((s) => s.sub_id)).toEqual(
      (JSON.parse(all) as Array<{ sub_id: number }>).map((s) => s.sub_id).sort((a, b) => a - b),
    );
    expect(await body('/api/subscriptions', user.token)).toBe(await presented(user.id));
    expect(await body(`/api/admin/users/${user.id}/subscriptions`, admin.token)).toBe(await presented(user.id));
    const shown = JSON.parse(all) as Array<Record<string, unknown>>;
    expect(shown.find((s) => s.username === 'json-errored')).toMatchObject({ status: 'error', error_message: expect.stringContaining('漢字') });
    expect(shown.find((s) => s.username === 'json-recording')).toMatchObject({ status: 'recording', pid: 4242, session_active: true, canonical_url: 'https://chaturbate.com/json-recording/' });
    expect(shown.find((s) => s.username === 'json-legacy')).toMatchObject({ worker_state: 'idle', status: 'starting', last_heartbeat: '' });
    expect(shown.find((s) => s.username === 'json-no-url')).not.toHaveProperty('canonical_url');
  });

  it('follow the stored config: custom driver URLs, and none at all when driver_urls is null', async () => {
    const cfg = await json<Record<string, unknown>>(await call('GET', '/api/config', { token: admin.token }));
    const put = (driver_urls: unknown) => call('PUT', '/api/config', { token: admin.token, body: { ...cfg, driver_urls } });
    expect((await put({ chaturbate: 'https://cb.example/{{.Username}}?again={{.Username}}', 'legacy-driver': 'https://legacy.example/{{.Username}}', stripchat: '' })).status).toBe(200);
    const custom = await body('/api/subscriptions', admin.token);
    expect(custom).toBe(await presented());
    // The first answer after a change may be mended in the Worker; the next one is SQLite's alone.
    expect(await body('/api/subscriptions', admin.token)).toBe(custom);
    const shown = JSON.parse(custom) as Array<Record<string, unknown>>;
    expect(shown.find((s) => s.username === 'json-idle')!.canonical_url).toBe('https://cb.example/json-idle?again=json-idle');
    expect(shown.find((s) => s.username === 'json-no-url')!.canonical_url).toBe('https://legacy.example/json-no-url');
    expect(shown.find((s) => s.username === 'json-session')).not.toHaveProperty('canonical_url');
    expect((await put(null)).status).toBe(200);
    const none = await body('/api/subscriptions', admin.token);
    expect(none).toBe(await presented());
    expect(await body('/api/subscriptions', admin.token)).toBe(none);
    expect(none).not.toContain('canonical_url');
    expect((await put(cfg.driver_urls)).status).toBe(200);
    expect(await body('/api/subscriptions', admin.token)).toBe(await presented());
  });

  it('an empty list is []', async () => {
    const nobody = await makeUser();
    expect(await body('/api/subscriptions', nobody.token)).toBe('[]');
    expect(await body(`/api/admin/users/${nobody.id}/subscriptions`, admin.token)).toBe('[]');
  });

  it('an empty list (no part, so no config read with it) leaves the config later lists are built against as it was', async () => {
    const cfg = await json<Record<string, unknown>>(await call('GET', '/api/config', { token: admin.token }));
    const custom = { ...cfg, driver_urls: { chaturbate: 'https://cb.example/{{.Username}}' } };
    expect((await call('PUT', '/api/config', { token: admin.token, body: custom })).status).toBe(200);
    expect(await body('/api/subscriptions', admin.token)).toBe(await presented());
    // The list above saw the new config: the isolate now builds lists against it.
    const assumed = listTemplates();
    expect(JSON.parse(assumed.templates)).toMatchObject({ chaturbate: 'https://cb.example/{{.Username}}' });
    expect(listBody([], assumed)).toBe('[]');
    expect(listTemplates()).toEqual(assumed);
    const nobody = await makeUser();
    expect(await body('/api/subscriptions', nobody.token)).toBe('[]');
    expect(listTemplates()).toEqual(assumed);
    expect((await call('PUT', '/api/config', { token: admin.token, body: cfg })).status).toBe(200);
  });
});
