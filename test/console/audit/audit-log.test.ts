import { env } from 'cloudflare:test';
import { describe, expect, it } from 'vitest';
import { db } from '../../../src/db/client';
import { auditLog } from '../../../src/db/schema';
import { call, json } from '../../support/http';
import { addMember, makeOrg, makeUser } from '../../support/users';

interface Page {
  items: Array<{ id: number; action: string; org_id: number | null; actor_user_id: number | null; actor_username: string | null; ip: string | null; details: unknown }>;
  next_before: number | null;
}

async function write(action: string, o: { orgId?: number; actor?: number; details?: object } = {}) {
  await db(env)
    .insert(auditLog)
    .values({ action, orgId: o.orgId ?? null, actorUserId: o.actor ?? null, ip: '198.51.100.4', details: o.details ? JSON.stringify(o.details) : null })
    .run();
}

describe('GET /audit', () => {
  it('shows platform admins every entry, newest first, with actor names and parsed details', async () => {
    const admin = await makeUser({ role: 'admin', username: 'audit-root' });
    const org = await makeOrg();
    await write('test.first', { actor: admin.id, orgId: org.id, details: { role: 'member' } });
    await write('test.second', { actor: admin.id });
    const res = await call('GET', '/audit?action=test.*', { cookie: admin.cookie });
    expect(res.status).toBe(200);
    const page = await json<Page>(res);
    expect(page.items.map((i) => i.action)).toEqual(['test.second', 'test.first']);
    expect(page.items[1]).toMatchObject({ actor_user_id: admin.id, actor_username: 'audit-root', org_id: org.id, ip: '198.51.100.4', details: { role: 'member' } });
  });

  it('pages with before/next_before', async () => {
    const admin = await makeUser({ role: 'admin' });
    for (const n of [1, 2, 3]) await write(`page.e${n}`);
    const first = await json<Page>(await call('GET', '/audit?action=page.*&limit=2', { token: admin.token }));
    expect(first.items.map((i) => i.action)).toEqual(['page.e3', 'page.e2']);
    expect(first.next_before).toBe(first.items[1]!.id);
    const second = await json<Page>(await call('GET', `/audit?action=page.*&limit=2&before=${first.next_before}`, { token: admin.token }));
    expect(second.items.map((i) => i.action)).toEqual(['page.e1']);
    expect(second.next_before).toBeNull();
  });

  it('filters by actor id or username, and an unknown actor gives an empty page', async () => {
    const admin = await makeUser({ role: 'admin' });
    const bob = await makeUser({ username: 'audit-bob' });
    await write('actor.bob', { actor: bob.id });
    await write('actor.other', { actor: admin.id });
    const byName = await json<Page>(await call('GET', '/audit?actor=audit-bob', { token: admin.token }));
    expect(byName.items.map((i) => i.action)).toEqual(['actor.bob']);
    const byId = await json<Page>(await call('GET', `/audit?actor=${bob.id}`, { token: admin.token }));
    expect(byId.items.map((i) => i.action)).toEqual(['actor.bob']);
    const nobody = await json<Page>(await call('GET', '/audit?actor=no-such-user', { token: admin.token }));
    expect(nobody.items).toEqual([]);
  });

  it('matches an action prefix literally ("_" is no wildcard) and an exact action only itself', async () => {
    const admin = await makeUser({ role: 'admin' });
    await write('lit_x.created');
    await write('litAx.created');
    await write('lit_x.created.again');
    const prefixed = await json<Page>(await call('GET', '/audit?action=lit_x.*', { token: admin.token }));
    expect(prefixed.items.map((i) => i.action)).toEqual(['lit_x.created.again', 'lit_x.created']);
    const exact = await json<Page>(await call('GET', '/audit?action=lit_x.created', { token: admin.token }));
    expect(exact.items.map((i) => i.action)).toEqual(['lit_x.created']);
  });

  it('shows an org admin their own org only, without IP addresses', async () => {
    const orgA = await makeOrg();
    const orgB = await makeOrg();
    const alice = await makeUser();
    await addMember(orgA.id, alice.id, 'admin');
    await write('org.a.thing', { orgId: orgA.id, actor: alice.id });
    await write('org.b.thing', { orgId: orgB.id });
    const res = await call('GET', `/audit?org_id=${orgA.id}`, { token: alice.token });
    expect(res.status).toBe(200);
    const page = await json<Page>(res);
    expect(page.items.map((i) => i.action)).toEqual(['org.a.thing']);
    expect(page.items[0]!.ip).toBeNull();
  });

  it('refuses anonymous callers', async () => {
    const res = await call('GET', '/audit');
    expect(res.status).toBeGreaterThanOrEqual(401);
    expect(res.status).toBeLessThanOrEqual(403);
  });

  it('refuses a non-admin user without org_id', async () => {
    const u = await makeUser();
    const res = await call('GET', '/audit', { token: u.token });
    expect(res.status).toBe(403);
  });

  it('refuses a plain member of the org, and an admin of another org', async () => {
    const org = await makeOrg();
    const other = await makeOrg();
    const member = await makeUser();
    const otherAdmin = await makeUser();
    await addMember(org.id, member.id, 'member');
    await addMember(other.id, otherAdmin.id, 'admin');
    expect((await call('GET', `/audit?org_id=${org.id}`, { token: member.token })).status).toBe(403);
    expect((await call('GET', `/audit?org_id=${org.id}`, { token: otherAdmin.token })).status).toBe(403);
  });

  it('rejects bad filters with a 400', async () => {
    const admin = await makeUser({ role: 'admin' });
    for (const q of ['limit=0', 'limit=500', 'before=abc', 'action=DROP%20TABLE', 'org_id=-1', 'unknown=1']) {
      const res = await call('GET', `/audit?${q}`, { token: admin.token });
      expect(res.status, q).toBe(400);
    }
  });
});
