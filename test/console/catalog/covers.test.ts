import { env } from 'cloudflare:test';
import { eq } from 'drizzle-orm';
import { describe, expect, it } from 'vitest';
import { db } from '../../../src/db/client';
import { games } from '../../../src/db/schema';
import { call, json } from '../../support/http';
import { makeUser } from '../../support/users';
import { makeGame } from '../library/fakes';

const bytes = (b64: string) => Uint8Array.from(atob(b64), (c) => c.charCodeAt(0));
const concat = (...parts: Array<number[] | string>) =>
  Uint8Array.from(parts.flatMap((p) => (typeof p === 'string' ? [...p].map((c) => c.charCodeAt(0)) : p)));

// A real 1×1 PNG, and headers of the other formats as encoders write them.
const PNG = bytes('iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAQAAAC1HAwCAAAAC0lEQVR42mNkYAAAAAYAAjCB0C8AAAAASUVORK5CYII=');
const JPEG = concat([0xff, 0xd8, 0xff, 0xe0, 0x00, 0x10], 'JFIF', [0x00, 0x01, 0x01, 0x00, 0x00, 0x01, 0x00, 0x01, 0x00, 0x00, 0xff, 0xd9]);
const GIF = concat('GIF89a', [0x01, 0x00, 0x01, 0x00, 0x80, 0x00, 0x00, 0xff, 0xff, 0xff, 0x00, 0x00, 0x00, 0x21, 0xf9, 0x04, 0x01, 0x00, 0x00, 0x00, 0x00, 0x2c, 0x00, 0x00, 0x00, 0x00, 0x01, 0x00, 0x01, 0x00, 0x00, 0x02, 0x02, 0x44, 0x01, 0x00, 0x3b]);
const WEBP = concat('RIFF', [0x1a, 0x00, 0x00, 0x00], 'WEBPVP8L', [0x0d, 0x00, 0x00, 0x00, 0x2f, 0x00, 0x00, 0x00, 0x10, 0x07, 0x10, 0x11, 0x11, 0x88, 0x88, 0xfe, 0x07, 0x00]);
const AVIF = concat([0x00, 0x00, 0x00, 0x1c], 'ftypavif', [0x00, 0x00, 0x00, 0x00], 'avifmif1miaf', [0x00, 0x00, 0x00, 0x00]);
const SVG = concat('<svg xmlns="http://www.w3.org/2000/svg"><script>alert(1)</script></svg>');

async function upload(token: string | undefined, gameId: number, body: Uint8Array, type = 'image/png') {
  return call('PUT', `/games/${gameId}/cover`, { token, raw: body, headers: { 'Content-Type': type } });
}

describe('PUT /games/{id}/cover', () => {
  it('stores a PNG in R2 and points the game’s cover_url at it', async () => {
    const admin = await makeUser({ role: 'admin' });
    const game = await makeGame();
    const res = await upload(admin.token, game.id, PNG);
    expect(res.status).toBe(200);
    const body = await json<{ key: string; cover_url: string; content_type: string; size: number }>(res);
    expect(body.content_type).toBe('image/png');
    expect(body.size).toBe(PNG.byteLength);
    expect(body.cover_url).toBe(`/covers/${body.key}`);
    expect(await env.BUCKET.head(`covers/${body.key}`)).not.toBeNull();
    const read = await json<{ cover_url: string }>(await call('GET', `/games/${game.id}`));
    expect(read.cover_url).toBe(body.cover_url);
  });

  it('recognises each format by content, whatever the declared type', async () => {
    const admin = await makeUser({ role: 'admin' });
    const game = await makeGame();
    for (const [data, type] of [
      [JPEG, 'image/jpeg'],
      [GIF, 'image/gif'],
      [WEBP, 'image/webp'],
      [AVIF, 'image/avif'],
    ] as const) {
      const res = await upload(admin.token, game.id, data, 'application/octet-stream');
      expect(res.status).toBe(200);
      expect((await json<{ content_type: string }>(res)).content_type).toBe(type);
    }
  });

  it('refuses non-images even when declared as images, and empty bodies, writing nothing', async () => {
    const admin = await makeUser({ role: 'admin' });
    const game = await makeGame();
    expect((await upload(admin.token, game.id, SVG, 'image/png')).status).toBe(415);
    expect((await upload(admin.token, game.id, concat('%PDF-1.7'), 'image/jpeg')).status).toBe(415);
    expect((await upload(admin.token, game.id, new Uint8Array(0))).status).toBe(400);
    expect((await db(env).select().from(games).where(eq(games.id, game.id)).get())?.coverKey).toBeNull();
    expect((await env.BUCKET.list({ prefix: `covers/${game.id}-` })).objects).toHaveLength(0);
  });

  it('refuses bodies over 5 MiB with 413', async () => {
    const admin = await makeUser({ role: 'admin' });
    const game = await makeGame();
    const big = new Uint8Array(5 * 1024 * 1024 + 1);
    big.set(PNG);
    expect((await upload(admin.token, game.id, big)).status).toBe(413);
  });

  it('refuses anonymous callers and non-admins; 404 for a missing game', async () => {
    const user = await makeUser();
    const admin = await makeUser({ role: 'admin' });
    const game = await makeGame();
    expect((await upload(undefined, game.id, PNG)).status).toBe(401);
    expect((await upload(user.token, game.id, PNG)).status).toBe(403);
    expect((await upload(admin.token, 99999999, PNG)).status).toBe(404);
  });

  it('replaces the previous object when a new cover is uploaded', async () => {
    const admin = await makeUser({ role: 'admin' });
    const game = await makeGame();
    const first = await json<{ key: string }>(await upload(admin.token, game.id, PNG));
    const second = await json<{ key: string }>(await upload(admin.token, game.id, GIF));
    expect(second.key).not.toBe(first.key);
    expect(await env.BUCKET.head(`covers/${first.key}`)).toBeNull();
    expect((await call('GET', `/covers/${first.key}`)).status).toBe(404);
  });
});

describe('GET /covers/{key}', () => {
  it('serves the image with ETag and long caching, and 304 on If-None-Match', async () => {
    const admin = await makeUser({ role: 'admin' });
    const game = await makeGame();
    const { key } = await json<{ key: string }>(await upload(admin.token, game.id, PNG));
    const res = await call('GET', `/covers/${key}`);
    expect(res.status).toBe(200);
    expect(res.headers.get('Content-Type')).toBe('image/png');
    expect(res.headers.get('Cache-Control')).toBe('public, max-age=31536000, immutable');
    expect(res.headers.get('Cross-Origin-Resource-Policy')).toBe('cross-origin');
    const etag = res.headers.get('ETag')!;
    expect(etag).toMatch(/^"[^"]+"$/);
    expect(new Uint8Array(await res.arrayBuffer())).toEqual(PNG);
    const again = await call('GET', `/covers/${key}`, { headers: { 'If-None-Match': etag } });
    expect(again.status).toBe(304);
    expect(again.headers.get('ETag')).toBe(etag);
    expect(await again.text()).toBe('');
    const changed = await call('GET', `/covers/${key}`, { headers: { 'If-None-Match': '"something-else"' } });
    expect(changed.status).toBe(200);
    await changed.arrayBuffer();
  });

  it('404s unknown keys and 400s malformed ones', async () => {
    expect((await call('GET', `/covers/1-${'0'.repeat(32)}.png`)).status).toBe(404);
    expect((await call('GET', '/covers/..%2F..%2Fsecret')).status).toBe(400);
    expect((await call('GET', '/covers/whatever.svg')).status).toBe(400);
  });
});
