/**
 * The recordings catalog (issue 16): recorder events through the real overseer WebSocket create and
 * finish catalog rows; the media directory JSON, `/files`, filestat and thumbnails read the catalog
 * (stored rows only) and never list R2.
 */
import { env } from 'cloudflare:test';
import { beforeAll, describe, expect, it } from 'vitest';
import { call, json } from '../support/http';
import { sourceIdOf, storeRecording } from '../support/recordings';
import { makeUser, type TestUser } from '../support/users';
import { eventually, useFakeOverseer, type FakeOverseer } from './fake';

let fake: FakeOverseer;
let u: TestUser;
let other: TestUser;
const S = '2026-11-22_03-04-05';
const DIR = '/data/recordings/chaturbate/nora';

async function record(body: Record<string, unknown>) {
  const res = await fetch(`${env.FAKE_OVERSEER_CONTROL}/${encodeURIComponent(fake.session)}/record`, {
    method: 'POST',
    body: JSON.stringify(body),
    headers: { 'Content-Type': 'application/json' },
  });
  return (await res.json()) as { clients: number; lines: number };
}

async function rows(sourceId: number) {
  const { results } = await env.DB.prepare('SELECT * FROM recordings WHERE source_id = ?1 ORDER BY rel_path').bind(sourceId).all<Record<string, unknown>>();
  return results;
}

let taskId = '';
let noraId = 0;

beforeAll(async () => {
  fake = await useFakeOverseer('recordings-catalog');
  u = await makeUser();
  other = await makeUser();
  await call('POST', '/api/subscriptions', { token: u.token, body: { driver: 'chaturbate', username: 'nora' } });
  const start = await fake.waitForMessage((m) => m.type === 'start' && m.params?.source === 'nora', 'start for nora');
  expect(start).toBeTruthy();
  const state = await eventually(fake.state, (s) => s.tasks.some((t) => (t.params as Record<string, string>)?.source === 'nora'), 'nora task');
  taskId = String(state.tasks.find((t) => (t.params as Record<string, string>)?.source === 'nora')!.task_id);
  noraId = await sourceIdOf('chaturbate', 'nora');
  await eventually(
    async () => json<{ worker_state: string }>(await call('GET', '/api/subscriptions/chaturbate/nora', { token: u.token })),
    (s) => s.worker_state === 'running',
    'nora running',
  );
});

describe('recorder events write the catalog', () => {
  it('creates one row per segment with its session, duration and size from SEGMENT FINISH', async () => {
    await record({ task_id: taskId, session: { dir: DIR, source: 'nora', session: S, segments: 2, seconds: 300, bytes: 64 * 1024 } });
    const list = await eventually(() => rows(noraId), (r) => r.length === 2 && r.every((x) => x.ended_at !== null), 'two finished segments');
    expect(list.map((r) => r.rel_path)).toEqual([`${S}/${S}_00000.ts`, `${S}/${S}_00001.ts`]);
    for (const r of list) {
      expect(r).toMatchObject({ state: 'recording', bytes: 64 * 1024, duration_seconds: 300, r2_key: `recordings/chaturbate/nora/${r.rel_path}` });
      expect(r.session_id).toBe(list[0]!.session_id);
    }
    const session = await env.DB.prepare('SELECT * FROM recording_sessions WHERE id = ?1').bind(list[0]!.session_id).first<Record<string, unknown>>();
    expect(session!.ended_at).not.toBeNull();
  });

  it('handles single-file mode (START and FINISH together) and ignores a replayed FINISH once stored', async () => {
    const file = `${DIR}/single.mp4`;
    await record({
      task_id: taskId,
      lines: [
        { event: 'SEGMENT START', file, segment: '0', recording: '0' },
        { event: 'SEGMENT FINISH', file, segment: '0', recording: '0', duration: '01:02:03', size: '1.5GB', trigger: 'stream_end' },
      ],
    });
    const row = await eventually(
      async () => (await rows(noraId)).find((r) => r.rel_path === 'single.mp4'),
      (r) => r?.duration_seconds === 3723,
      'single-file row',
    );
    expect(row!.bytes).toBe(Math.round(1.5 * 1024 ** 3));
    await env.DB.prepare("UPDATE recordings SET state = 'stored', bytes = 10 WHERE id = ?1").bind(row!.id).run();
    await record({ task_id: taskId, lines: [{ event: 'SEGMENT FINISH', file, segment: '0', recording: '0', duration: '00:00:01', size: '1B', trigger: 'error' }] });
    await record({ task_id: taskId, lines: [{ event: 'SEGMENT START', file: `${DIR}/marker.ts`, segment: '9', recording: '0' }] });
    await eventually(async () => (await rows(noraId)).some((r) => r.rel_path === 'marker.ts'), Boolean, 'marker row');
    const after = (await rows(noraId)).find((r) => r.rel_path === 'single.mp4')!;
    expect(after).toMatchObject({ state: 'stored', bytes: 10, duration_seconds: 3723 });
    expect((await rows(noraId)).filter((r) => r.rel_path === 'single.mp4')).toHaveLength(1);
  });

  it('refuses a file path that climbs out of the source directory', async () => {
    await record({ task_id: taskId, lines: [{ event: 'SEGMENT START', file: `${DIR}/../../etc/passwd`, segment: '0', recording: '0' }] });
    await record({ task_id: taskId, lines: [{ event: 'SEGMENT START', file: `${DIR}/after-bad.ts`, segment: '1', recording: '0' }] });
    await eventually(async () => (await rows(noraId)).some((r) => r.rel_path === 'after-bad.ts'), Boolean, 'row after the bad one');
    expect((await rows(noraId)).some((r) => String(r.rel_path).includes('..') || String(r.rel_path).includes('passwd'))).toBe(false);
  });
});

describe('readers use the catalog, never an R2 listing', () => {
  beforeAll(async () => {
    await call('POST', '/api/subscriptions', { token: u.token, body: { driver: 'stripchat', username: 'olga' } });
    for (let i = 0; i < 5; i++) {
      await storeRecording('stripchat', 'olga', `${S}/${S}_0000${i}.ts`, new Uint8Array(100 + i), i === 0 ? { thumbnail: new Uint8Array([0xff, 0xd8, 7, 0xff, 0xd9]) } : {});
    }
    await storeRecording('stripchat', 'olga', `${S}/${S}_00009.ts`, new Uint8Array(10), { state: 'uploading' });
    // An object in R2 without a catalog row (e.g. left by a crashed tool) is invisible.
    await env.BUCKET.put(`recordings/stripchat/olga/${S}/stray.ts`, new Uint8Array(3));
  });

  const get = (path: string, t = u) => call('GET', path, { token: t.token });

  it('lists a session directory from stored rows only, with thumbnails beside their files', async () => {
    const list = await json<Array<{ name: string; size?: number }>>(await get(`/media/subscriptions/stripchat/olga/${S}/`));
    expect(list.map((e) => e.name)).toEqual([`${S}_00000.jpg`, ...[0, 1, 2, 3, 4].map((i) => `${S}_0000${i}.ts`)]);
    expect(list.find((e) => e.name === `${S}_00003.ts`)!.size).toBe(103);
  });

  it('pages a listing with limit and after', async () => {
    const first = await get(`/media/subscriptions/stripchat/olga/${S}/?limit=2`);
    expect(first.headers.get('X-Next-After')).toBe(encodeURIComponent(`${S}_00001.ts`));
    const next = await json<Array<{ name: string }>>(await get(`/media/subscriptions/stripchat/olga/${S}/?limit=2&after=${encodeURIComponent(`${S}_00001.ts`)}`));
    expect(next.map((e) => e.name)).toEqual([`${S}_00002.ts`, `${S}_00003.ts`]);
    expect((await get(`/media/subscriptions/stripchat/olga/${S}/?limit=0`)).status).toBe(400);
  });

  it('lists the root as one directory whose mtime is the newest recording inside', async () => {
    const list = await json<Array<{ name: string; type: string }>>(await get('/media/subscriptions/stripchat/olga/'));
    expect(list).toEqual([{ name: S, type: 'directory', mtime: expect.stringMatching(/GMT$/) }]);
  });

  it('serves only catalogued stored files: an uncatalogued object is 404', async () => {
    expect((await get(`/media/subscriptions/stripchat/olga/${S}/${S}_00001.ts`)).status).toBe(200);
    expect((await get(`/media/subscriptions/stripchat/olga/${S}/stray.ts`)).status).toBe(404);
    expect((await get(`/media/subscriptions/stripchat/olga/${S}/${S}_00009.ts`)).status).toBe(404);
  });

  it('/files lists every catalogued video with its state, paginated by path', async () => {
    const all = await json<{ files: Array<{ filename: string; status: string }>; next_after?: string }>(await get('/api/sources/stripchat/olga/files'));
    expect(all.files.map((f) => [f.filename, f.status])).toEqual([...[0, 1, 2, 3, 4].map((i) => [`${S}_0000${i}.ts`, 'stored']), [`${S}_00009.ts`, 'uploading']]);
    expect(all.next_after).toBeUndefined();
    const page = await json<{ files: Array<{ filename: string }>; next_after: string }>(await get('/api/sources/stripchat/olga/files?limit=4'));
    expect(page.files).toHaveLength(4);
    const rest = await json<{ files: Array<{ filename: string }> }>(await get(`/api/sources/stripchat/olga/files?limit=4&after=${encodeURIComponent(page.next_after)}`));
    expect(rest.files.map((f) => f.filename)).toEqual([`${S}_00004.ts`, `${S}_00009.ts`]);
  });

  it('filestat sums the stored rows', async () => {
    const stat = await json(await get('/api/sources/stripchat/olga/filestat'));
    expect(stat).toEqual({
      path: '',
      children: [{ name: S, type: 'directory', total_bytes: 510, file_count: 5, ts_count: 5, estimated_minutes: 25 }],
      total_bytes: 510,
      file_count: 5,
    });
  });

  it('serves the newest catalogued thumbnail as the card picture, and per-file thumbnails', async () => {
    const card = await get('/thumbnails/stripchat/olga.jpg');
    expect(card.status).toBe(200);
    expect(new Uint8Array(await card.arrayBuffer())).toEqual(new Uint8Array([0xff, 0xd8, 7, 0xff, 0xd9]));
    expect((await get(`/thumbnails/stripchat/olga/${S}/${S}_00000.jpg`)).status).toBe(200);
    expect((await get(`/thumbnails/stripchat/olga/${S}/${S}_00001.jpg`)).status).toBe(404);
  });

  it('refuses every reader to a user who is not a subscriber', async () => {
    for (const path of [`/media/subscriptions/stripchat/olga/${S}/`, '/api/sources/stripchat/olga/files', '/thumbnails/stripchat/olga.jpg']) {
      expect((await get(path, other)).status).toBe(404);
    }
  });
});

describe('a .ts segment the media agent remuxed to .mp4', () => {
  let credential = '';
  const R = '2026-11-23_10-00-00';
  const hex = (b: ArrayBuffer) => [...new Uint8Array(b)].map((x) => x.toString(16).padStart(2, '0')).join('');
  const host = (method: string, path: string, body?: unknown, raw?: BodyInit, headers: Record<string, string> = {}) =>
    call(method, path, { body, raw, headers: { Authorization: `Bearer ${credential}`, ...headers } });

  /** What the agent does for a remuxed file: one part, the part tree, then completion. */
  async function uploadMp4(rel: string, bytes: Uint8Array) {
    const digest = hex(await crypto.subtle.digest('SHA-256', bytes));
    const sha256 = hex(await crypto.subtle.digest('SHA-256', Uint8Array.from(digest.match(/../g)!, (x) => parseInt(x, 16))));
    const created = await host('POST', '/api/ingest/uploads', { driver: 'chaturbate', username: 'nora', path: rel, remuxed_from: rel.replace(/\.mp4$/, '.ts'), size: bytes.byteLength, part_size: 5 * 1024 * 1024, sha256 });
    expect(created.status).toBe(201);
    const { upload_id } = await json<{ upload_id: string }>(created);
    expect((await host('PUT', `/api/ingest/uploads/${upload_id}/parts/1`, undefined, bytes, { 'X-Part-Sha256': digest, 'Content-Type': 'application/octet-stream' })).status).toBe(200);
    expect((await host('POST', `/api/ingest/uploads/${upload_id}/complete`)).status).toBe(200);
  }
  const rowsUnder = async (dir: string) => (await rows(noraId)).filter((r) => String(r.rel_path).startsWith(`${dir}/`));

  beforeAll(async () => {
    const admin = await makeUser({ role: 'admin' });
    const created = await json<{ enrolment_code: string }>(await call('POST', '/api/admin/ingest/hosts', { token: admin.token, body: { name: 'remux-host' } }));
    credential = (await json<{ credential: string }>(await call('POST', '/api/ingest/enroll', { body: { code: created.enrolment_code } }))).credential;
  });

  it('stores the recording under its .mp4 name and leaves no .ts row behind in state recording', async () => {
    await record({ task_id: taskId, session: { dir: DIR, source: 'nora', session: R, segments: 1, seconds: 42, bytes: 4096 } });
    const [ts] = await eventually(() => rowsUnder(R), (r) => r.length === 1 && r[0]!.ended_at !== null, 'the .ts row, finished');
    expect(ts).toMatchObject({ rel_path: `${R}/${R}_00000.ts`, state: 'recording' });

    await uploadMp4(`${R}/${R}_00000.mp4`, new Uint8Array([0, 0, 0, 8, 0x66, 0x74, 0x79, 0x70, 1, 2, 3]));
    const after = await rowsUnder(R);
    expect(after).toHaveLength(1);
    // The same recording (id, session, duration from the events), now stored as the .mp4.
    expect(after[0]).toMatchObject({ id: ts!.id, session_id: ts!.session_id, duration_seconds: 42, rel_path: `${R}/${R}_00000.mp4`, r2_key: `recordings/chaturbate/nora/${R}/${R}_00000.mp4`, state: 'stored', bytes: 11 });
    const files = await json<Array<{ name: string }>>(await call('GET', `/media/subscriptions/chaturbate/nora/${R}/`, { token: u.token, headers: { Accept: 'application/json' } }));
    expect(files.map((f) => f.name)).toEqual([`${R}_00000.mp4`]);
  });

  it('does not bring the .ts back when its events arrive after the upload', async () => {
    const L = '2026-11-23_11-00-00';
    await uploadMp4(`${L}/${L}_00000.mp4`, new Uint8Array([1, 2, 3, 4, 5]));
    await record({ task_id: taskId, session: { dir: DIR, source: 'nora', session: L, segments: 1, seconds: 9, bytes: 4096 } });
    await record({ task_id: taskId, lines: [{ event: 'SEGMENT START', file: `${DIR}/late-marker.ts`, segment: '0', recording: '0' }] });
    await eventually(async () => (await rows(noraId)).some((r) => r.rel_path === 'late-marker.ts'), Boolean, 'marker row after the late events');
    expect((await rowsUnder(L)).map((r) => [r.rel_path, r.state])).toEqual([[`${L}/${L}_00000.mp4`, 'stored']]);
  });

  it('refuses remuxed_from that is not the .ts of the uploaded .mp4', async () => {
    const base = { driver: 'chaturbate', username: 'nora', size: 5, part_size: 5 * 1024 * 1024, sha256: 'e'.repeat(64) };
    expect((await host('POST', '/api/ingest/uploads', { ...base, path: 'x/a.mp4', remuxed_from: 'x/b.ts' })).status).toBe(400);
    expect((await host('POST', '/api/ingest/uploads', { ...base, path: 'x/a.mp4', remuxed_from: '../a.ts' })).status).toBe(400);
  });
});

describe('filestat of a short session of .mp4 segments', () => {
  it('reports the seconds the recorder gave (the whole-segment minute estimate says 0 for them)', async () => {
    await call('POST', '/api/subscriptions', { token: u.token, body: { driver: 'stripchat', username: 'pia' } });
    const dir = '2026-11-30_20-00-00';
    const a = await storeRecording('stripchat', 'pia', `${dir}/${dir}_00000.mp4`, new Uint8Array(40));
    const b = await storeRecording('stripchat', 'pia', `${dir}/${dir}_00001.mp4`, new Uint8Array(30));
    await env.DB.batch([
      env.DB.prepare('UPDATE recordings SET duration_seconds = 45.4 WHERE id = ?1').bind(a),
      env.DB.prepare('UPDATE recordings SET duration_seconds = 24.9 WHERE id = ?1').bind(b),
    ]);
    const stat = await json<{ children: Array<Record<string, unknown>> }>(await call('GET', '/api/sources/stripchat/pia/filestat', { token: u.token }));
    expect(stat.children).toEqual([{ name: dir, type: 'directory', total_bytes: 70, file_count: 2, ts_count: 0, estimated_minutes: 0, recorded_seconds: 70 }]);
  });
});

describe('filestat of a source recording now', () => {
  it('reports the segment in progress apart, up to the last heartbeat, beside the stored seconds', async () => {
    await call('POST', '/api/subscriptions', { token: u.token, body: { driver: 'stripchat', username: 'quin' } });
    const id = await sourceIdOf('stripchat', 'quin');
    const dir = '2026-12-01_20-00-00';
    const a = await storeRecording('stripchat', 'quin', `${dir}/${dir}_00000.ts`, new Uint8Array(50));
    // Recorded, finished, its upload not done yet; then the live one, 3 min before the last heartbeat.
    const beat = new Date(Date.now() - 60_000);
    const at = (s: number) => new Date(beat.getTime() - s * 1000).toISOString();
    await env.DB.batch([
      env.DB.prepare('UPDATE recordings SET duration_seconds = 300 WHERE id = ?1').bind(a),
      env.DB.prepare("INSERT INTO recordings (source_id, rel_path, r2_key, bytes, started_at, ended_at, duration_seconds, state) VALUES (?1, ?2, ?2, 0, ?3, ?4, 120, 'uploading')").bind(id, `${dir}/${dir}_00001.ts`, at(300), at(180)),
      env.DB.prepare("INSERT INTO recordings (source_id, rel_path, r2_key, bytes, started_at, state) VALUES (?1, ?2, ?2, 0, ?3, 'recording')").bind(id, `${dir}/${dir}_00002.ts`, at(180)),
      // A folder whose only segment is still recording is not listed (nothing of it is stored).
      env.DB.prepare("INSERT INTO recordings (source_id, rel_path, r2_key, bytes, started_at, state) VALUES (?1, ?2, ?2, 0, ?3, 'recording')").bind(id, '2026-12-01_23-00-00/x_00000.ts', at(10)),
      env.DB.prepare('UPDATE sources SET last_heartbeat = ?1 WHERE id = ?2').bind(beat.toISOString(), id),
    ]);
    const stat = await json<{ children: Array<Record<string, unknown>>; total_bytes: number; file_count: number }>(
      await call('GET', '/api/sources/stripchat/quin/filestat', { token: u.token }),
    );
    // The stored figures stay the stored files' own; 120 s awaiting upload + 180 s live are apart.
    expect(stat.children).toEqual([
      { name: dir, type: 'directory', total_bytes: 50, file_count: 1, ts_count: 1, estimated_minutes: 5, recorded_seconds: 300, in_progress_seconds: 300 },
    ]);
    expect([stat.total_bytes, stat.file_count]).toEqual([50, 1]);
    // Inside the folder: the stored file alone (the live ones are not files to open yet).
    const inside = await json<{ children: Array<{ name: string }> }>(await call('GET', `/api/sources/stripchat/quin/filestat?path=${dir}`, { token: u.token }));
    expect(inside.children.map((c) => c.name)).toEqual([`${dir}_00000.ts`]);
  });
});
