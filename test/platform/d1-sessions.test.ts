/**
 * D1 read replicas (src/http/d1-session.ts): every answer that touched D1 carries the session's
 * bookmark back, a client that sends it back reads its own writes, a malformed bookmark is ignored
 * (never a 500), and the dashboard's browser gets the bookmark as an HttpOnly cookie.
 * Local D1 runs sessions as a pass-through to the one database, so these tests prove the plumbing
 * (which constraint, what comes back), not replica lag.
 */
import { describe, expect, it } from 'vitest';
import { validBookmark } from '../../src/http/d1-session';
import { call, cookiesOf, json } from '../support/http';
import { makeUser } from '../support/users';

const HEADER = 'x-d1-bookmark';

describe('D1 sessions', () => {
  it('answers a read with the session bookmark in x-d1-bookmark', async () => {
    const admin = await makeUser({ role: 'admin' });
    const res = await call('GET', '/orgs', { token: admin.token });
    expect(res.status).toBe(200);
    const bookmark = res.headers.get(HEADER);
    expect(bookmark).toBeTruthy();
    expect(validBookmark(bookmark)).toBe(bookmark);
    // API clients (no browser fetch metadata, no bookmark cookie) get no cookie.
    expect(cookiesOf(res)).not.toHaveProperty('d1_bookmark');
  });

  it('reads its own write when the write\'s bookmark is sent back', async () => {
    const admin = await makeUser({ role: 'admin' });
    const created = await call('POST', '/orgs', { token: admin.token, body: { slug: `rr-${crypto.randomUUID().slice(0, 6)}`, name: 'Replica' } });
    expect(created.status).toBe(201);
    const { slug } = await json<{ slug: string }>(created);
    const bookmark = created.headers.get(HEADER);
    expect(bookmark).toBeTruthy();

    const read = await call('GET', '/orgs', { token: admin.token, headers: { [HEADER]: bookmark! } });
    expect(read.status).toBe(200);
    expect((await json<Array<{ slug: string }>>(read)).map((o) => o.slug)).toContain(slug);
    // Bookmarks sort oldest to newest: the read's session is no earlier than the write.
    expect(read.headers.get(HEADER)! >= bookmark!).toBe(true);
  });

  it('ignores a malformed bookmark instead of failing the request', async () => {
    const admin = await makeUser({ role: 'admin' });
    for (const bad of ['not a bookmark', 'x'.repeat(300), '0000-zz', '../../etc', '"><script>']) {
      const res = await call('GET', '/orgs', { token: admin.token, headers: { [HEADER]: bad } });
      expect(res.status).toBe(200);
      expect(res.headers.get(HEADER)).toBeTruthy();
    }
    const cookie = await call('GET', '/orgs', { token: admin.token, cookie: 'd1_bookmark=%00bad' });
    expect(cookie.status).toBe(200);
  });

  it('gives a same-origin browser the bookmark as an HttpOnly cookie and reads from it', async () => {
    const admin = await makeUser({ role: 'admin' });
    const created = await call('POST', '/orgs', {
      cookie: admin.cookie,
      headers: { 'sec-fetch-site': 'same-origin', Origin: 'https://edgeplane.test' },
      body: { slug: `rc-${crypto.randomUUID().slice(0, 6)}`, name: 'Cookie' },
    });
    expect(created.status).toBe(201);
    const line = created.headers.getSetCookie().find((l) => l.startsWith('d1_bookmark='));
    expect(line).toBeDefined();
    expect(line).toMatch(/HttpOnly/);
    expect(line).toMatch(/Secure/);
    expect(line).toMatch(/SameSite=Lax/);
    expect(line).toMatch(/Path=\//);
    const bookmark = cookiesOf(created).d1_bookmark!;
    expect(bookmark).toBe(created.headers.get(HEADER));

    const read = await call('GET', '/orgs', { cookie: `${admin.cookie}; d1_bookmark=${bookmark}` });
    expect(read.status).toBe(200);
    expect((await json<Array<{ slug: string }>>(read)).map((o) => o.slug)).toContain((await json<{ slug: string }>(created)).slug);
    expect(cookiesOf(read).d1_bookmark).toBe(read.headers.get(HEADER));
  });

  it('sends nothing when the request never reached D1', async () => {
    const res = await call('GET', '/version');
    expect(res.status).toBe(200);
    expect(res.headers.get(HEADER)).toBeNull();
  });
});

describe('validBookmark', () => {
  it('accepts D1 bookmarks and the two constraints, rejects everything else', () => {
    expect(validBookmark('0000002a-00000001-00004ef4-8e61117bf38d7adb71b934ebbf891683')).toBeDefined();
    expect(validBookmark('first-primary')).toBe('first-primary');
    expect(validBookmark('first-unconstrained')).toBe('first-unconstrained');
    for (const bad of [undefined, null, '', 'first-anything', 'a b', '-', 'g'.repeat(10), '0'.repeat(300)]) {
      expect(validBookmark(bad)).toBeUndefined();
    }
  });
});
