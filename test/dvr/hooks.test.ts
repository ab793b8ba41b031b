/**
 * The DVR's hooks into the platform: the `*\/5` cron wakes the overseer link (no dashboard needed),
 * and every DVR route is published in /openapi.json; `/api/workers` relays the overseer's list.
 */
import { createScheduledController, env } from 'cloudflare:test';
import { beforeAll, describe, expect, it } from 'vitest';
import { runScheduled } from '../../src/scheduled';
import { call, json } from '../support/http';
import { makeUser } from '../support/users';
import { eventually, useFakeOverseer, type FakeOverseer } from './fake';

let fake: FakeOverseer;

beforeAll(async () => {
  fake = await useFakeOverseer('hooks');
});

describe('platform hooks', () => {
  it('dials the overseer from the */5 cron', async () => {
    expect((await fake.state()).clients).toBe(0);
    await runScheduled(createScheduledController({ cron: '*/5 * * * *', scheduledTime: Date.now() }), env);
    const st = await eventually(() => fake.state(), (s) => s.clients === 1, 'cron connected the link');
    expect(st.clients).toBe(1);
    // The on-connect reconciliation lists the overseer's tasks right away.
    await fake.waitForMessage((m) => m.type === 'list', 'reconcile list');
  });

  it('publishes every DVR route in the OpenAPI document', async () => {
    const doc = await json<{ paths: Record<string, Record<string, unknown>> }>(await call('GET', '/openapi.json'));
    const expected: Array<[string, string]> = [
      ['/api/subscriptions', 'get'],
      ['/api/subscriptions', 'post'],
      ['/api/subscriptions/{driver}/{username}', 'delete'],
      ['/api/subscriptions/{driver}/{username}/reset-error', 'post'],
      ['/api/sources/{driver}/{username}/filestat', 'get'],
      ['/api/admin/subscriptions/{sub_id}/restart', 'post'],
      ['/api/admin/sources/restart-all', 'post'],
      ['/api/admin/diagnostics', 'get'],
      ['/api/config', 'put'],
      ['/api/users/{id}', 'put'],
      ['/api/workers', 'get'],
      ['/media/subscriptions/{driver}/{username}/{path}', 'get'],
      ['/thumbnails/{driver}/{path}', 'get'],
    ];
    for (const [path, method] of expected) expect(doc.paths[path]?.[method], `${method} ${path}`).toBeDefined();
  });
});

describe('GET /api/workers', () => {
  it("returns the overseer's tasks trimmed to the contract keys, and 502 when the list fails", async () => {
    const admin = await makeUser({ role: 'admin' });
    await call('POST', '/api/subscriptions', { token: admin.token, body: { driver: 'chaturbate', username: 'worker-one' } });
    await eventually(() => fake.state(), (s) => s.tasks.length === 1, 'task started');
    const ok = await call('GET', '/api/workers', { token: admin.token });
    expect(ok.status).toBe(200);
    const [task] = await json<Array<Record<string, unknown>>>(ok);
    expect(Object.keys(task!).sort()).toEqual(['action', 'created_at', 'current_pid', 'last_started_at', 'params', 'restart_count', 'state', 'task_id', 'worker_state']);
    expect(task).toMatchObject({ action: 'chaturbate', state: 'active', worker_state: 'running', params: expect.objectContaining({ source: 'worker-one' }) });

    await fake.mode('manual');
    const before = (await fake.messages()).length;
    const pending = call('GET', '/api/workers', { token: admin.token });
    const list = await eventually(async () => (await fake.messages()).slice(before).find((m) => m.type === 'list'), (m) => m !== undefined, 'list request');
    await fake.send({ type: 'error', id: list!.id, message: 'hub overloaded' });
    const failed = await pending;
    expect(failed.status).toBe(502);
    expect((await json(failed)).error).toBe('overseer error: hub overloaded');
    await fake.mode('auto');
  });
});
