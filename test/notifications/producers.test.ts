/**
 * Every event type from its real producer, through that producer's public path, to a signed
 * delivery at the (faked) receiver: the fake overseer's pushes drive the SourceMonitor
 * (recording.started, source.errored, source.recovered), an ingest host's upload completes a
 * recording (recording.stored), the play API starts and ends a session (session.started/ended), and
 * a member's proof submission waits for review (proof.pending_review).
 */
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { call, json } from '../support/http';
import { makeUser, type TestUser } from '../support/users';
import { eventually, useFakeOverseer, type FakeOverseer } from '../dvr/fake';
import { makeGame, member, onlineNode, own, playWorld, startSession, type SessionBody } from '../console/play/helpers';
import { receiver, verifyStandardWebhook, type Received } from './support';

let rx: ReturnType<typeof receiver>;
let fake: FakeOverseer;
let admin: TestUser;
let alice: TestUser;
let secret: string;

beforeAll(async () => {
  rx = receiver([200]);
  fake = await useFakeOverseer('notifications-producers');
  admin = await makeUser({ role: 'admin' });
  alice = await makeUser();
  const cfg = await json<Record<string, unknown>>(await call('GET', '/api/config', { token: admin.token }));
  expect((await call('PUT', '/api/config', { token: admin.token, body: { ...cfg, error_threshold: 2, error_window: '5m' } })).status).toBe(200);
  const ep = await call('POST', '/api/webhooks', { token: alice.token, body: { url: 'https://hooks.example.com/alice', events: ['recording.started', 'recording.stored', 'source.errored', 'source.recovered'] } });
  expect(ep.status).toBe(201);
  secret = (await json<{ secret: string }>(ep)).secret;
});
afterAll(() => rx.restore());

type Body = { type: string; data: Record<string, unknown> };
/** Waits for a delivery of `type` (about `who`) at the receiver and checks its signature. */
async function received(type: string, match: (b: Body) => boolean = () => true, key = secret): Promise<Body & { req: Received }> {
  let hit: (Body & { req: Received }) | undefined;
  await vi.waitFor(() => {
    hit = rx.requests.map((req) => ({ ...(JSON.parse(req.body) as Body), req })).find((b) => b.type === type && match(b));
    expect(hit, `a ${type} delivery`).toBeDefined();
  }, { timeout: 20_000, interval: 200 });
  expect(await verifyStandardWebhook(key, hit!.req)).toBe(true);
  return hit!;
}

const status = async (name: string) => json<{ worker_state: string }>(await call('GET', `/api/subscriptions/chaturbate/${name}`, { token: alice.token }));

async function running(name: string): Promise<{ taskId: string; pid: number }> {
  expect((await call('POST', '/api/subscriptions', { token: alice.token, body: { driver: 'chaturbate', username: name } })).status).toBe(201);
  await eventually(() => status(name), (x) => x.worker_state === 'running', `${name} running`);
  const task = (await fake.state()).tasks.find((t) => (t.params as Record<string, string>).source === name && t.worker_state === 'running')!;
  return { taskId: String(task.task_id), pid: Number(task.current_pid) };
}

const isSource = (name: string) => (b: Body) => (b.data.source as { username?: string } | undefined)?.username === name;

describe('DVR producers', () => {
  it('announces recording.started when the recorder prints RECORDING START', async () => {
    const { taskId, pid } = await running('hookrec');
    const ts = new Date().toISOString();
    await fake.send({ type: 'output', task_id: taskId, pid, stream: 'stdout', data: JSON.stringify({ event: 'RECORDING START', recording: '0', time: ts }), ts });
    const got = await received('recording.started', isSource('hookrec'));
    expect(got.data).toEqual({ source: { driver: 'chaturbate', username: 'hookrec' }, started_at: ts });
  });

  it('announces source.errored at the error threshold and source.recovered after reset-error, once each', async () => {
    const { taskId, pid } = await running('hookerr');
    for (let i = 0; i < 2; i++) await fake.send({ type: 'exited', task_id: taskId, pid, exit_code: 3, intentional: false, ts: new Date().toISOString() });
    const errored = await received('source.errored', isSource('hookerr'));
    expect(errored.data.error).toBe('error threshold reached after 2 exits');
    await eventually(() => status('hookerr'), (x) => x.worker_state === 'errored', 'errored');
    expect((await call('POST', '/api/subscriptions/chaturbate/hookerr/reset-error', { token: alice.token })).status).toBe(200);
    await received('source.recovered', isSource('hookerr'));
    await eventually(() => status('hookerr'), (x) => x.worker_state === 'running', 'running again');
    const count = (type: string) => rx.requests.filter((r) => { const b = JSON.parse(r.body) as Body; return b.type === type && isSource('hookerr')(b); }).length;
    expect([count('source.errored'), count('source.recovered')]).toEqual([1, 1]);
  });

  it('announces recording.stored with the playback URL when an ingest host completes the upload', async () => {
    await call('POST', '/api/subscriptions', { token: alice.token, body: { driver: 'chaturbate', username: 'hookstore' } });
    const created = await json<{ enrolment_code: string }>(await call('POST', '/api/admin/ingest/hosts', { token: admin.token, body: { name: 'hooks-recorder' } }));
    const { credential } = await json<{ credential: string }>(await call('POST', '/api/ingest/enroll', { body: { code: created.enrolment_code } }));
    const auth = { Authorization: `Bearer ${credential}` };
    const bytes = new TextEncoder().encode('a small but whole segment');
    const hex = (b: ArrayBuffer) => [...new Uint8Array(b)].map((x) => x.toString(16).padStart(2, '0')).join('');
    const part = hex(await crypto.subtle.digest('SHA-256', bytes));
    const tree = hex(await crypto.subtle.digest('SHA-256', Uint8Array.from(part.match(/../g)!, (x) => parseInt(x, 16))));
    const up = await json<{ upload_id: string }>(await call('POST', '/api/ingest/uploads', { headers: auth, body: { driver: 'chaturbate', username: 'hookstore', path: 'S1/S1_00000.ts', size: bytes.byteLength, part_size: 5 * 1024 * 1024, sha256: tree } }));
    expect((await call('PUT', `/api/ingest/uploads/${up.upload_id}/parts/1`, { raw: bytes, headers: { ...auth, 'X-Part-Sha256': part, 'Content-Type': 'application/octet-stream' } })).status).toBe(200);
    expect((await call('POST', `/api/ingest/uploads/${up.upload_id}/complete`, { headers: auth })).status).toBe(200);
    const got = await received('recording.stored', isSource('hookstore'));
    expect(got.data).toMatchObject({ path: 'S1/S1_00000.ts', bytes: bytes.byteLength, playback_url: '/media/subscriptions/chaturbate/hookstore/S1/S1_00000.ts' });
  });
});

describe('console producers', () => {
  it('announces session.started and session.ended to the org’s endpoint, and proof.pending_review', async () => {
    const w = await playWorld();
    const ep = await call('POST', '/api/webhooks', { token: w.admin.token, body: { scope: 'org', org_id: w.org.id, url: 'https://hooks.example.com/org', format: 'slack', events: ['session.started', 'session.ended', 'proof.pending_review'] } });
    expect(ep.status).toBe(201);
    const orgSecret = (await json<{ secret: string }>(ep)).secret;
    const game = await makeGame();
    await onlineNode(w, [game]);
    const player = await member(w);
    await own(w.org.id, player.id, game);
    const s = await json<SessionBody>(await startSession(player, { org_id: w.org.id, user_id: player.id, game_id: game }));
    const forOrg = (b: Body) => (b as unknown as { text: string }).text.includes(`org ${w.org.id}`);
    // Slack bodies carry the event in the context block; the receiver sees text, not { type }.
    const slack = async (word: string) => {
      let hit: Received | undefined;
      await vi.waitFor(() => {
        hit = rx.requests.find((r) => r.url === 'https://hooks.example.com/org' && JSON.parse(r.body).blocks.at(-1).elements[0].text.startsWith(word) && forOrg(JSON.parse(r.body)));
        expect(hit, word).toBeDefined();
      }, { timeout: 20_000, interval: 200 });
      expect(await verifyStandardWebhook(orgSecret, hit!)).toBe(true);
      return JSON.parse(hit!.body) as { text: string };
    };
    expect((await slack('session.started')).text).toBe(`Play session ${s.id} started in org ${w.org.id}`);
    expect((await call('DELETE', `/sessions/${s.id}`, { token: player.token })).status).toBeLessThan(300);
    expect((await slack('session.ended')).text).toMatch(new RegExp(`^Play session ${s.id} ended in org ${w.org.id}`));

    const game2 = await makeGame();
    const proof = await call('POST', `/users/${player.id}/library/proofs`, { token: player.token, body: { org_id: w.org.id, game_id: game2, kind: 'manual', receipt: { store: 'Corner Shop', order_id: 'A-1001', purchased_at: '2025-12-24' } } });
    expect(proof.status, await proof.clone().text()).toBe(201);
    expect((await slack('proof.pending_review')).text).toBe(`A manual ownership proof is waiting for review in org ${w.org.id}`);
  });
});
