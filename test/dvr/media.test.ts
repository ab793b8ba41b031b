/**
 * Recordings and thumbnails in R2: the directory-listing JSON of contract §4.2, Range requests a
 * `<video>` element relies on, thumbnail caching headers, filestat sums and the `/files` list.
 */
import { env } from 'cloudflare:test';
import { beforeAll, describe, expect, it } from 'vitest';
import { call, json } from '../support/http';
import { makeUser, type TestUser } from '../support/users';
import { storeRecording } from '../support/recordings';
import { useFakeOverseer } from './fake';

let u: TestUser;
const SESSION = '2026-02-18_22-01-31';
const SEGMENT = `${SESSION}_00000.ts`;
const bytes = Uint8Array.from({ length: 1000 }, (_, i) => i % 251);

beforeAll(async () => {
  await useFakeOverseer('media');
  u = await makeUser();
  await call('POST', '/api/subscriptions', { token: u.token, body: { driver: 'chaturbate', username: 'mia' } });
  // Recordings are listed from the catalog (issue 16): each object is registered as a stored row.
  await storeRecording('chaturbate', 'mia', `${SESSION}/${SEGMENT}`, bytes, { thumbnail: new Uint8Array([0xff, 0xd8, 1, 0xff, 0xd9]) });
  await storeRecording('chaturbate', 'mia', `${SESSION}/${SESSION}_00001.ts`, new Uint8Array(500));
  await storeRecording('chaturbate', 'mia', 'notes.txt', 'hello');
  await storeRecording('chaturbate', 'mia', '.hidden', 'x');
  await env.BUCKET.put(`thumbnails/chaturbate/mia.jpg`, new Uint8Array([0xff, 0xd8, 0xff, 0xd9]));
});

const get = (path: string, headers: Record<string, string> = {}) => call('GET', path, { token: u.token, headers });
const RFC1123 = /^[A-Z][a-z]{2}, \d{2} [A-Z][a-z]{2} \d{4} \d{2}:\d{2}:\d{2} GMT$/;

describe('directory listings', () => {
  it('lists a source root: directories first, then files, no dot-files, RFC 1123 mtimes', async () => {
    const res = await get('/media/subscriptions/chaturbate/mia/', { Accept: 'application/json' });
    expect(res.status).toBe(200);
    const list = await json<Array<Record<string, unknown>>>(res);
    expect(list.map((e) => [e.name, e.type])).toEqual([
      [SESSION, 'directory'],
      ['notes.txt', 'file'],
    ]);
    expect(list[0]).not.toHaveProperty('size');
    expect(list[1]).toMatchObject({ size: 5 });
    for (const e of list) expect(String(e.mtime)).toMatch(RFC1123);
  });

  it('lists a session directory with file sizes and the per-file thumbnails next to them', async () => {
    const list = await json<Array<Record<string, unknown>>>(await get(`/media/subscriptions/chaturbate/mia/${SESSION}/`));
    expect(list).toEqual([
      { name: `${SESSION}_00000.jpg`, type: 'file', mtime: expect.stringMatching(RFC1123), size: 5 },
      { name: SEGMENT, type: 'file', mtime: expect.stringMatching(RFC1123), size: 1000 },
      { name: `${SESSION}_00001.ts`, type: 'file', mtime: expect.stringMatching(RFC1123), size: 500 },
    ]);
  });

  it('answers 404 for a directory that does not exist and 301 without the trailing slash', async () => {
    expect((await get('/media/subscriptions/chaturbate/mia/2020-01-01_00-00-00/')).status).toBe(404);
    const moved = await get('/media/subscriptions/chaturbate/mia');
    expect(moved.status).toBe(301);
    expect(moved.headers.get('Location')).toBe('/media/subscriptions/chaturbate/mia/');
  });

  it('refuses dot-dot segments, also hidden behind encoded slashes', async () => {
    // The URL parser already folds `%2e%2e` segments: the request leaves the source and is refused.
    expect((await get('/media/subscriptions/chaturbate/mia/%2e%2e/%2e%2e/')).status).toBe(404);
    const res = await get('/media/subscriptions/chaturbate/mia/x%2F..%2F..%2Fother/');
    expect(res.status).toBe(400);
    expect((await json(res)).error).toBe('invalid path');
  });
});

describe('files and Range requests', () => {
  const path = `/media/subscriptions/chaturbate/mia/${SESSION}/${SEGMENT}`;

  it('serves the whole file with Accept-Ranges', async () => {
    const res = await get(path);
    expect(res.status).toBe(200);
    expect(res.headers.get('Accept-Ranges')).toBe('bytes');
    expect(res.headers.get('Content-Type')).toBe('video/mp2t');
    expect(new Uint8Array(await res.arrayBuffer())).toEqual(bytes);
  });

  it('answers 206 with the exact bytes of a range', async () => {
    const res = await get(path, { Range: 'bytes=100-199' });
    expect(res.status).toBe(206);
    expect(res.headers.get('Content-Range')).toBe('bytes 100-199/1000');
    expect(res.headers.get('Content-Length')).toBe('100');
    expect(new Uint8Array(await res.arrayBuffer())).toEqual(bytes.slice(100, 200));
  });

  it('serves open-ended and suffix ranges', async () => {
    const open = await get(path, { Range: 'bytes=990-' });
    expect(open.status).toBe(206);
    expect(open.headers.get('Content-Range')).toBe('bytes 990-999/1000');
    expect(new Uint8Array(await open.arrayBuffer())).toEqual(bytes.slice(990));
    const suffix = await get(path, { Range: 'bytes=-10' });
    expect(suffix.headers.get('Content-Range')).toBe('bytes 990-999/1000');
    expect(new Uint8Array(await suffix.arrayBuffer())).toEqual(bytes.slice(990));
  });

  it('answers 416 for a range past the end', async () => {
    const res = await get(path, { Range: 'bytes=5000-6000' });
    expect(res.status).toBe(416);
    expect(res.headers.get('Content-Range')).toBe('bytes */1000');
  });

  it('answers 404 for a missing file', async () => {
    expect((await get(`/media/subscriptions/chaturbate/mia/${SESSION}/nope.ts`)).status).toBe(404);
  });
});

describe('thumbnails', () => {
  it('serves the source thumbnail with private caching and revalidates by ETag', async () => {
    const res = await get('/thumbnails/chaturbate/mia.jpg?t=123');
    expect(res.status).toBe(200);
    expect(res.headers.get('Content-Type')).toBe('image/jpeg');
    expect(res.headers.get('Cache-Control')).toBe('private, max-age=60');
    const etag = res.headers.get('ETag')!;
    expect(etag).toBeTruthy();
    const again = await get('/thumbnails/chaturbate/mia.jpg', { 'If-None-Match': etag });
    expect(again.status).toBe(304);
  });

  it('serves per-file thumbnails and 404s missing ones', async () => {
    expect((await get(`/thumbnails/chaturbate/mia/${SESSION}/${SESSION}_00000.jpg`)).status).toBe(200);
    expect((await get(`/thumbnails/chaturbate/mia/${SESSION}/missing.jpg`)).status).toBe(404);
  });
});

describe('filestat and files', () => {
  it('sums directories recursively with the minute estimate from segment_length', async () => {
    const res = await get('/api/sources/chaturbate/mia/filestat');
    expect(res.status).toBe(200);
    expect(await json(res)).toEqual({
      path: '',
      children: [
        { name: SESSION, type: 'directory', total_bytes: 1500, file_count: 2, ts_count: 2, estimated_minutes: 10 },
        { name: '.hidden', type: 'file', total_bytes: 1, file_count: 1, ts_count: 0, estimated_minutes: 0 },
        { name: 'notes.txt', type: 'file', total_bytes: 5, file_count: 1, ts_count: 0, estimated_minutes: 0 },
      ].sort((a, b) => (a.name < b.name ? -1 : 1)),
      total_bytes: 1506,
      file_count: 4,
    });
  });

  it('stats a subdirectory, refuses traversal and 404s a missing path', async () => {
    const sub = await json<{ path: string; total_bytes: number }>(await get(`/api/sources/chaturbate/mia/filestat?path=${SESSION}`));
    expect(sub).toMatchObject({ path: SESSION, total_bytes: 1500 });
    const bad = await get('/api/sources/chaturbate/mia/filestat?path=../x');
    expect(bad.status).toBe(400);
    expect((await json(bad)).error).toBe('invalid path');
    const missing = await get('/api/sources/chaturbate/mia/filestat?path=nope');
    expect(missing.status).toBe(404);
    expect((await json(missing)).error).toBe('path not found');
  });

  it('lists recording files for /files', async () => {
    const body = await json<{ driver: string; files: Array<Record<string, unknown>> }>(await get('/api/sources/chaturbate/mia/files'));
    expect(body.driver).toBe('chaturbate');
    expect(body.files.map((f) => f.filename).sort()).toEqual([SEGMENT, `${SESSION}_00001.ts`]);
    expect(body.files[0]).toMatchObject({ path: expect.stringContaining('/chaturbate/mia/'), status: 'stored', pipeline: 'r2' });
  });
});
