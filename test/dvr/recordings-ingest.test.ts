/**
 * Ingest (issue 16): host enrolment and revocation, resumable multipart uploads into the real local
 * R2 through the Worker, the part-tree checksum, duplicate completion, and who may do what.
 */
import { env } from 'cloudflare:test';
import { beforeAll, describe, expect, it } from 'vitest';
import { call, json } from '../support/http';
import { makeUser, type TestUser } from '../support/users';
import { useFakeOverseer } from './fake';

const MiB = 1024 * 1024;
const PART = 5 * MiB;
let admin: TestUser;
let user: TestUser;
let credential = '';
let otherCredential = '';

const hex = (b: ArrayBuffer) => [...new Uint8Array(b)].map((x) => x.toString(16).padStart(2, '0')).join('');
const sha = async (b: Uint8Array) => hex(await crypto.subtle.digest('SHA-256', b));
async function tree(content: Uint8Array, partSize = PART): Promise<{ parts: Uint8Array[]; digests: string[]; sha256: string }> {
  const parts: Uint8Array[] = [];
  for (let o = 0; o < content.byteLength; o += partSize) parts.push(content.subarray(o, Math.min(o + partSize, content.byteLength)));
  const digests = await Promise.all(parts.map(sha));
  const all = new Uint8Array(digests.length * 32);
  digests.forEach((d, i) => all.set(Uint8Array.from(d.match(/../g)!, (x) => parseInt(x, 16)), i * 32));
  return { parts, digests, sha256: hex(await crypto.subtle.digest('SHA-256', all)) };
}
function content(size: number, seed: number): Uint8Array {
  const out = new Uint8Array(size);
  for (let i = 0; i < size; i++) out[i] = (i * 31 + seed) & 0xff;
  return out;
}

const host = (method: string, path: string, body?: unknown, cred = credential) => call(method, path, { body, headers: { Authorization: `Bearer ${cred}` } });
const putPart = (id: string, n: number, bytes: BodyInit, digest: string, cred = credential) =>
  call('PUT', `/api/ingest/uploads/${id}/parts/${n}`, { raw: bytes, headers: { Authorization: `Bearer ${cred}`, 'X-Part-Sha256': digest, 'Content-Type': 'application/octet-stream' } });

async function enrol(name: string): Promise<string> {
  const created = await call('POST', '/api/admin/ingest/hosts', { token: admin.token, body: { name } });
  expect(created.status).toBe(201);
  const { enrolment_code } = await json<{ enrolment_code: string }>(created);
  const res = await call('POST', '/api/ingest/enroll', { body: { code: enrolment_code } });
  expect(res.status).toBe(200);
  return (await json<{ credential: string }>(res)).credential;
}

beforeAll(async () => {
  await useFakeOverseer('recordings-ingest');
  admin = await makeUser({ role: 'admin' });
  user = await makeUser();
  await call('POST', '/api/subscriptions', { token: user.token, body: { driver: 'chaturbate', username: 'pia' } });
  credential = await enrol('recorder-1');
  otherCredential = await enrol('recorder-2');
});

describe('host credentials', () => {
  it('uses an enrolment code once', async () => {
    const created = await json<{ enrolment_code: string }>(await call('POST', '/api/admin/ingest/hosts', { token: admin.token, body: { name: 'once' } }));
    expect((await call('POST', '/api/ingest/enroll', { body: { code: created.enrolment_code } })).status).toBe(200);
    const again = await call('POST', '/api/ingest/enroll', { body: { code: created.enrolment_code } });
    expect(again.status).toBe(401);
    expect((await json(again)).code).toBe('invalid_enrolment_code');
  });

  it('lets only admins register, list and revoke hosts', async () => {
    expect((await call('POST', '/api/admin/ingest/hosts', { token: user.token, body: { name: 'sneaky' } })).status).toBe(403);
    expect((await call('GET', '/api/admin/ingest/hosts', { token: user.token })).status).toBe(403);
    const list = await json<{ hosts: Array<{ name: string; state: string }> }>(await call('GET', '/api/admin/ingest/hosts', { token: admin.token }));
    expect(list.hosts).toContainEqual(expect.objectContaining({ name: 'recorder-1', state: 'enrolled' }));
    expect(JSON.stringify(list)).not.toMatch(/epm_|hash/);
  });

  it('scopes the credential to ingest: user routes refuse it and ingest refuses user tokens', async () => {
    expect((await call('GET', '/api/subscriptions', { headers: { Authorization: `Bearer ${credential}` } })).status).toBe(403);
    const res = await call('POST', '/api/ingest/uploads', { token: user.token, body: {} });
    expect(res.status).toBe(401);
    expect((await json(res)).code).toBe('invalid_ingest_credential');
  });

  it('refuses a revoked host at once, and audits the revocation', async () => {
    const cred = await enrol('to-revoke');
    const { hosts } = await json<{ hosts: Array<{ id: number; name: string }> }>(await call('GET', '/api/admin/ingest/hosts', { token: admin.token }));
    const id = hosts.find((h) => h.name === 'to-revoke')!.id;
    const body = { driver: 'chaturbate', username: 'pia', path: 'r/revoked.ts', size: 10, part_size: PART, sha256: 'a'.repeat(64) };
    expect((await host('POST', '/api/ingest/uploads', body, cred)).status).toBe(201);
    expect((await call('DELETE', `/api/admin/ingest/hosts/${id}`, { token: admin.token })).status).toBe(200);
    expect((await host('POST', '/api/ingest/uploads', body, cred)).status).toBe(401);
    const audit = await env.DB.prepare("SELECT actor_user_id FROM audit_log WHERE action = 'dvr.ingest_host.revoke' AND target_id = ?1").bind(String(id)).first();
    expect(audit).toMatchObject({ actor_user_id: admin.id });
  });
});

describe('multipart upload', () => {
  it('stores a two-part segment whose bytes then play back exactly', async () => {
    const bytes = content(PART + 1234, 1);
    const t = await tree(bytes);
    const created = await host('POST', '/api/ingest/uploads', { driver: 'chaturbate', username: 'pia', path: 'S1/S1_00000.ts', size: bytes.byteLength, part_size: PART, sha256: t.sha256 });
    expect(created.status).toBe(201);
    const up = await json<{ upload_id: string; part_count: number; parts: unknown[] }>(created);
    expect(up).toMatchObject({ part_count: 2, parts: [] });
    for (const [i, p] of t.parts.entries()) expect((await putPart(up.upload_id, i + 1, p, t.digests[i]!)).status).toBe(200);
    const done = await host('POST', `/api/ingest/uploads/${up.upload_id}/complete`);
    expect(done.status).toBe(200);
    expect(await json(done)).toEqual({ state: 'stored', key: 'recordings/chaturbate/pia/S1/S1_00000.ts', bytes: bytes.byteLength, sha256: t.sha256, playback_url: '/media/subscriptions/chaturbate/pia/S1/S1_00000.ts' });
    const play = await call('GET', '/media/subscriptions/chaturbate/pia/S1/S1_00000.ts', { token: user.token, headers: { Range: `bytes=${PART - 2}-${PART + 1}` } });
    expect(play.status).toBe(206);
    expect(new Uint8Array(await play.arrayBuffer())).toEqual(bytes.subarray(PART - 2, PART + 2));
    const row = await env.DB.prepare("SELECT state, bytes, sha256, host_id FROM recordings WHERE r2_key = 'recordings/chaturbate/pia/S1/S1_00000.ts'").first();
    expect(row).toMatchObject({ state: 'stored', bytes: bytes.byteLength, sha256: t.sha256 });
  });

  it('resumes after an interrupted part: only the missing part is sent again', async () => {
    const bytes = content(PART + 10, 2);
    const t = await tree(bytes);
    const body = { driver: 'chaturbate', username: 'pia', path: 'S2/S2_00000.ts', size: bytes.byteLength, part_size: PART, sha256: t.sha256 };
    const up = await json<{ upload_id: string }>(await host('POST', '/api/ingest/uploads', body));
    expect((await putPart(up.upload_id, 2, t.parts[1]!, t.digests[1]!)).status).toBe(200);
    // Part 1 dies half-way: the server receives only 2 MiB of it (what it sees of a dropped connection).
    const interrupted = await putPart(up.upload_id, 1, t.parts[0]!.slice(0, 2 * MiB), t.digests[0]!);
    expect(interrupted.status).toBe(400);
    expect(['part_incomplete', 'invalid_part_size']).toContain((await json(interrupted)).code);
    // The agent restarts with no memory: asking again with the same content resumes the same upload.
    const again = await host('POST', '/api/ingest/uploads', body);
    expect(again.status).toBe(200);
    const resumed = await json<{ upload_id: string; parts: Array<{ part_number: number }> }>(again);
    expect(resumed.upload_id).toBe(up.upload_id);
    expect(resumed.parts.map((p) => p.part_number)).toEqual([2]);
    const early = await host('POST', `/api/ingest/uploads/${up.upload_id}/complete`);
    expect(early.status).toBe(409);
    expect(await json(early)).toMatchObject({ code: 'parts_missing', details: { missing: [1] } });
    expect((await putPart(up.upload_id, 1, t.parts[0]!, t.digests[0]!)).status).toBe(200);
    expect((await host('POST', `/api/ingest/uploads/${up.upload_id}/complete`)).status).toBe(200);
    const obj = await env.BUCKET.get('recordings/chaturbate/pia/S2/S2_00000.ts');
    expect(new Uint8Array(await obj!.arrayBuffer())).toEqual(bytes);
  }, 90_000);

  it('refuses a part whose bytes do not match its digest, and keeps nothing of it', async () => {
    const bytes = content(1000, 3);
    const t = await tree(bytes);
    const up = await json<{ upload_id: string }>(await host('POST', '/api/ingest/uploads', { driver: 'chaturbate', username: 'pia', path: 'S3/a.ts', size: 1000, part_size: PART, sha256: t.sha256 }));
    const corrupted = bytes.slice();
    corrupted[500] = corrupted[500]! ^ 0xff;
    const res = await putPart(up.upload_id, 1, corrupted, t.digests[0]!);
    expect(res.status).toBe(400);
    expect((await json(res)).code).toBe('checksum_mismatch');
    expect((await json<{ parts: unknown[] }>(await host('GET', `/api/ingest/uploads/${up.upload_id}`))).parts).toEqual([]);
    expect((await putPart(up.upload_id, 1, bytes.subarray(0, 999), t.digests[0]!)).status).toBe(400);
  });

  it('refuses completion when the content is not what was declared: no object appears', async () => {
    const bytes = content(3000, 4);
    const t = await tree(bytes);
    const lie = (await tree(content(3000, 5))).sha256;
    const up = await json<{ upload_id: string }>(await host('POST', '/api/ingest/uploads', { driver: 'chaturbate', username: 'pia', path: 'S4/b.ts', size: 3000, part_size: PART, sha256: lie }));
    expect((await putPart(up.upload_id, 1, bytes, t.digests[0]!)).status).toBe(200);
    const res = await host('POST', `/api/ingest/uploads/${up.upload_id}/complete`);
    expect(res.status).toBe(400);
    expect((await json(res)).code).toBe('checksum_mismatch');
    expect(await env.BUCKET.head('recordings/chaturbate/pia/S4/b.ts')).toBeNull();
    const row = await env.DB.prepare("SELECT state FROM recordings WHERE r2_key = 'recordings/chaturbate/pia/S4/b.ts'").first<{ state: string }>();
    expect(row!.state).not.toBe('stored');
    expect((await call('GET', '/media/subscriptions/chaturbate/pia/S4/b.ts', { token: user.token })).status).toBe(404);
  });

  it('answers a duplicate completion with the same result, and a re-upload of stored content with stored', async () => {
    const bytes = content(777, 6);
    const t = await tree(bytes);
    const body = { driver: 'chaturbate', username: 'pia', path: 'S5/c.ts', size: 777, part_size: PART, sha256: t.sha256 };
    const up = await json<{ upload_id: string }>(await host('POST', '/api/ingest/uploads', body));
    await putPart(up.upload_id, 1, bytes, t.digests[0]!);
    const [a, b] = await Promise.all([host('POST', `/api/ingest/uploads/${up.upload_id}/complete`), host('POST', `/api/ingest/uploads/${up.upload_id}/complete`)]);
    // Racing completions: one stores, the other either sees it stored or is told to retry — never a 5xx.
    expect([a.status, b.status].sort()).toEqual(a.status === b.status ? [200, 200] : [200, 409]);
    const third = await host('POST', `/api/ingest/uploads/${up.upload_id}/complete`);
    expect(third.status).toBe(200);
    expect(await json(third)).toMatchObject({ state: 'stored', sha256: t.sha256 });
    const reopen = await host('POST', '/api/ingest/uploads', body);
    expect(reopen.status).toBe(200);
    expect(await json(reopen)).toMatchObject({ state: 'stored', bytes: 777 });
    const different = await host('POST', '/api/ingest/uploads', { ...body, sha256: 'b'.repeat(64) });
    expect(different.status).toBe(409);
    expect((await json(different)).code).toBe('already_stored');
  });

  it("hides one host's upload from another host", async () => {
    const up = await json<{ upload_id: string }>(await host('POST', '/api/ingest/uploads', { driver: 'chaturbate', username: 'pia', path: 'S6/d.ts', size: 5, part_size: PART, sha256: 'c'.repeat(64) }));
    expect((await host('GET', `/api/ingest/uploads/${up.upload_id}`, undefined, otherCredential)).status).toBe(404);
    expect((await putPart(up.upload_id, 1, new Uint8Array(5), 'c'.repeat(64), otherCredential)).status).toBe(404);
  });

  it('uploads a thumbnail beside a stored segment; the listing and the card show it', async () => {
    const jpeg = new Uint8Array([0xff, 0xd8, 0xff, 0xe0, 1, 2, 3, 0xff, 0xd9]);
    const t = await tree(jpeg);
    const up = await json<{ upload_id: string }>(
      await host('POST', '/api/ingest/uploads', { driver: 'chaturbate', username: 'pia', path: 'S1/S1_00000.ts', kind: 'thumbnail', size: jpeg.byteLength, part_size: PART, sha256: t.sha256 }),
    );
    expect((await putPart(up.upload_id, 1, jpeg, t.digests[0]!)).status).toBe(200);
    expect(await json(await host('POST', `/api/ingest/uploads/${up.upload_id}/complete`))).toMatchObject({ key: 'thumbnails/chaturbate/pia/S1/S1_00000.jpg' });
    const list = await json<Array<{ name: string }>>(await call('GET', '/media/subscriptions/chaturbate/pia/S1/', { token: user.token }));
    expect(list.map((e) => e.name)).toEqual(['S1_00000.jpg', 'S1_00000.ts']);
    const card = await call('GET', '/thumbnails/chaturbate/pia.jpg', { token: user.token });
    expect(new Uint8Array(await card.arrayBuffer())).toEqual(jpeg);
  });

  it('validates the upload request', async () => {
    const base = { driver: 'chaturbate', username: 'pia', path: 'x.ts', size: 5, part_size: PART, sha256: 'd'.repeat(64) };
    expect((await host('POST', '/api/ingest/uploads', { ...base, path: '../x.ts' })).status).toBe(400);
    expect((await host('POST', '/api/ingest/uploads', { ...base, part_size: 1024 })).status).toBe(400);
    expect((await host('POST', '/api/ingest/uploads', { ...base, username: 'nobody-here' })).status).toBe(404);
    expect((await host('POST', '/api/ingest/uploads', { ...base, extra: 1 })).status).toBe(400);
  });
});
