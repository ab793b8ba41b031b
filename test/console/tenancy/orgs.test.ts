import { env } from 'cloudflare:test';
import { describe, expect, it } from 'vitest';
import { db } from '../../../src/db/client';
import { auditLog, memberships, orgs } from '../../../src/db/schema';
import { and, eq } from 'drizzle-orm';
import { call, json } from '../../support/http';
import { addMember, makeOrg, makeUser, PASSWORD } from '../../support/users';
import { household } from '../household';

type Org = { id: number; slug: string; name: string; role: string };
type Member = { user_id: number; username: string; role: string };

async function roleIn(orgId: number, userId: number) {
  const row = await db(env).select().from(memberships).where(and(eq(memberships.orgId, orgId), eq(memberships.userId, userId))).get();
  return row?.role ?? null;
}

async function auditCount(action: string) {
  return (await db(env).select().from(auditLog).where(eq(auditLog.action, action))).length;
}

describe('GET /orgs', () => {
  it('lists only the caller’s memberships, with their role, by name', async () => {
    const alice = await makeUser();
    const zeta = await makeOrg({ name: 'Zeta Household' });
    const acme = await makeOrg({ name: 'Acme Corp' });
    await makeOrg({ name: 'Somebody Else' });
    await addMember(zeta.id, alice.id, 'owner');
    await addMember(acme.id, alice.id, 'member');
    const res = await call('GET', '/orgs', { token: alice.token });
    expect(res.status).toBe(200);
    const body = await json<Org[]>(res);
    expect(body.map((o) => [o.name, o.role])).toEqual([
      ['Acme Corp', 'member'],
      ['Zeta Household', 'owner'],
    ]);
  });

  it('lists every org for a platform admin', async () => {
    const admin = await makeUser({ role: 'admin' });
    const other = await makeOrg({ name: 'Not Mine' });
    const body = await json<Org[]>(await call('GET', '/orgs', { token: admin.token }));
    expect(body.find((o) => o.id === other.id)).toMatchObject({ role: 'platform_admin' });
  });

  it('refuses anonymous callers', async () => {
    expect((await call('GET', '/orgs')).status).toBe(401);
  });
});

describe('POST /orgs', () => {
  it('lets a platform admin create an org and make someone its owner', async () => {
    const admin = await makeUser({ role: 'admin' });
    const bob = await makeUser();
    const res = await call('POST', '/orgs', { token: admin.token, body: { slug: ' bob-home ', name: ' Bob Home ', owner_user_id: bob.id } });
    expect(res.status).toBe(201);
    const org = await json<Org>(res);
    expect(org).toMatchObject({ slug: 'bob-home', name: 'Bob Home' });
    expect(await roleIn(org.id, bob.id)).toBe('owner');
    expect(await roleIn(org.id, admin.id)).toBeNull();
    const dup = await call('POST', '/orgs', { token: admin.token, body: { slug: 'bob-home', name: 'Again' } });
    expect(dup.status).toBe(409);
  });

  it('refuses non-admins and anonymous callers, writing nothing', async () => {
    const alice = await makeUser();
    expect((await call('POST', '/orgs', { token: alice.token, body: { slug: 'mine', name: 'Mine' } })).status).toBe(403);
    expect((await call('POST', '/orgs', { body: { slug: 'mine', name: 'Mine' } })).status).toBe(401);
    expect(await db(env).select().from(orgs).where(eq(orgs.slug, 'mine')).get()).toBeUndefined();
  });

  it('rejects bad bodies with 400 and writes nothing', async () => {
    const admin = await makeUser({ role: 'admin' });
    for (const body of [{ slug: '', name: 'x' }, { slug: 'Bad Slug', name: 'x' }, { slug: 'ok-slug', name: 5 }, { slug: 'ok-slug', name: 'x', role: 'owner' }, { slug: 'ok-slug', name: 'x', owner_user_id: 'me' }]) {
      const res = await call('POST', '/orgs', { token: admin.token, body });
      expect(res.status).toBe(400);
    }
    expect(await db(env).select().from(orgs).where(eq(orgs.slug, 'ok-slug')).get()).toBeUndefined();
    expect((await call('POST', '/orgs', { token: admin.token, body: { slug: 'ghost-owner', name: 'x', owner_user_id: 99999999 } })).status).toBe(404);
  });
});

describe('org members', () => {
  it('lists members (owners first) to members only; outsiders get the same 403 as for a missing org', async () => {
    const { org, owner, admin, member } = await household();
    const outsider = await makeUser();
    const res = await call('GET', `/orgs/${org.id}/members`, { token: member.token });
    expect(res.status).toBe(200);
    const body = await json<Member[]>(res);
    expect(body.map((m) => [m.user_id, m.role])).toEqual([
      [owner.id, 'owner'],
      [admin.id, 'admin'],
      [member.id, 'member'],
    ]);
    expect(body[0]!.username).toBe(owner.username);
    const theirs = await call('GET', `/orgs/${org.id}/members`, { token: outsider.token });
    const missing = await call('GET', '/orgs/987654321/members', { token: outsider.token });
    expect(theirs.status).toBe(403);
    expect(missing.status).toBe(403);
    expect(await theirs.json()).toEqual(await missing.json());
    expect((await call('GET', `/orgs/${org.id}/members`)).status).toBe(401);
  });

  it('enrolling without consent: an org admin cannot add a platform user by id; a platform admin can, audited', async () => {
    const { org, admin } = await household();
    const root = await makeUser({ role: 'admin' });
    const carol = await makeUser();
    const refused = await call('POST', `/orgs/${org.id}/members`, { token: admin.token, body: { user_id: carol.id } });
    expect(refused.status).toBe(403);
    expect(await roleIn(org.id, carol.id)).toBeNull();
    const before = await auditCount('org.member.add');
    const res = await call('POST', `/orgs/${org.id}/members`, { token: root.token, body: { user_id: carol.id } });
    expect(res.status).toBe(201);
    expect(await json(res)).toEqual({ user_id: carol.id, username: carol.username, role: 'member' });
    expect(await auditCount('org.member.add')).toBe(before + 1);
    expect((await call('POST', `/orgs/${org.id}/members`, { token: root.token, body: { user_id: carol.id } })).status).toBe(409);
  });

  it('refuses members without the admin role, outsiders, and org admins adding directly', async () => {
    const { org, admin, member } = await household();
    const root = await makeUser({ role: 'admin' });
    const outsider = await makeUser();
    const dave = await makeUser();
    expect((await call('POST', `/orgs/${org.id}/members`, { token: member.token, body: { user_id: dave.id } })).status).toBe(403);
    expect((await call('POST', `/orgs/${org.id}/members`, { token: outsider.token, body: { user_id: outsider.id, role: 'owner' } })).status).toBe(403);
    expect((await call('POST', `/orgs/${org.id}/members`, { token: admin.token, body: { user_id: dave.id, role: 'owner' } })).status).toBe(403);
    expect((await call('POST', `/orgs/${org.id}/members`, { token: root.token, body: { user_id: dave.id, role: 'superuser' } })).status).toBe(400);
    expect((await call('POST', `/orgs/${org.id}/members`, { token: root.token, body: { user_id: 'x' } })).status).toBe(400);
    expect(await roleIn(org.id, dave.id)).toBeNull();
    expect(await roleIn(org.id, outsider.id)).toBeNull();
  });

  it('lets a platform admin add an owner to any org, and 404s a missing org', async () => {
    const { org } = await household();
    const root = await makeUser({ role: 'admin' });
    const erin = await makeUser();
    expect((await call('POST', `/orgs/${org.id}/members`, { token: root.token, body: { user_id: erin.id, role: 'owner' } })).status).toBe(201);
    expect(await roleIn(org.id, erin.id)).toBe('owner');
    expect((await call('POST', '/orgs/987654321/members', { token: root.token, body: { user_id: erin.id } })).status).toBe(404);
  });

  it('applies a role change on the very next request', async () => {
    const { org, owner, member } = await household();
    expect((await call('GET', `/orgs/${org.id}/invites`, { token: member.token })).status).toBe(403);
    const res = await call('PUT', `/orgs/${org.id}/members/${member.id}`, { token: owner.token, body: { role: 'admin' } });
    expect(res.status).toBe(200);
    expect(await json(res)).toMatchObject({ user_id: member.id, role: 'admin' });
    expect((await call('GET', `/orgs/${org.id}/invites`, { token: member.token })).status).toBe(200);
    await call('PUT', `/orgs/${org.id}/members/${member.id}`, { token: owner.token, body: { role: 'member' } });
    expect((await call('GET', `/orgs/${org.id}/members`, { token: member.token })).status).toBe(200);
    expect((await call('DELETE', `/orgs/${org.id}/members/${owner.id}`, { token: member.token })).status).toBe(403);
  });

  it('never demotes or removes the last owner, and only owners touch owners', async () => {
    const { org, owner, admin } = await household();
    expect((await call('PUT', `/orgs/${org.id}/members/${owner.id}`, { token: admin.token, body: { role: 'member' } })).status).toBe(403);
    expect((await call('DELETE', `/orgs/${org.id}/members/${owner.id}`, { token: admin.token })).status).toBe(403);
    const demote = await call('PUT', `/orgs/${org.id}/members/${owner.id}`, { token: owner.token, body: { role: 'admin' } });
    expect(demote.status).toBe(409);
    expect(await json(demote)).toMatchObject({ code: 'last_owner' });
    expect((await call('DELETE', `/orgs/${org.id}/members/${owner.id}`, { token: owner.token })).status).toBe(409);
    expect((await call('POST', `/orgs/${org.id}/leave`, { token: owner.token })).status).toBe(409);
    expect(await roleIn(org.id, owner.id)).toBe('owner');
    // With a second owner, the first may step down.
    expect((await call('PUT', `/orgs/${org.id}/members/${admin.id}`, { token: owner.token, body: { role: 'owner' } })).status).toBe(200);
    expect((await call('PUT', `/orgs/${org.id}/members/${owner.id}`, { token: owner.token, body: { role: 'member' } })).status).toBe(200);
    expect(await roleIn(org.id, owner.id)).toBe('member');
  });

  it('rejects bad role-change bodies with 400 and changes nothing', async () => {
    const { org, owner, member } = await household();
    for (const body of [{ role: 'superuser' }, { role: 'admin', user_id: owner.id }, {}, { role: null }, []]) {
      expect((await call('PUT', `/orgs/${org.id}/members/${member.id}`, { token: owner.token, body })).status).toBe(400);
    }
    expect((await call('PUT', `/orgs/${org.id}/members/abc`, { token: owner.token, body: { role: 'admin' } })).status).toBe(400);
    expect((await call('PUT', `/orgs/${org.id}/members/${member.id}`, { body: { role: 'admin' } })).status).toBe(401);
    expect((await call('POST', `/orgs/${org.id}/leave`)).status).toBe(401);
    expect((await call('DELETE', `/orgs/${org.id}/members/${member.id}`)).status).toBe(401);
    expect(await roleIn(org.id, member.id)).toBe('member');
  });

  it('removes members (admin) and lets members leave, audited', async () => {
    const { org, admin, member } = await household();
    const before = await auditCount('org.member.remove');
    expect((await call('DELETE', `/orgs/${org.id}/members/${member.id}`, { token: admin.token })).status).toBe(200);
    expect(await roleIn(org.id, member.id)).toBeNull();
    expect(await auditCount('org.member.remove')).toBe(before + 1);
    expect((await call('DELETE', `/orgs/${org.id}/members/${member.id}`, { token: admin.token })).status).toBe(404);
    expect((await call('POST', `/orgs/${org.id}/leave`, { token: admin.token })).status).toBe(200);
    expect(await roleIn(org.id, admin.id)).toBeNull();
    expect((await call('POST', `/orgs/${org.id}/leave`, { token: admin.token })).status).toBe(403);
  });
});

describe('org invites', () => {
  it('an org admin creates a single-use code that joins the org at login', async () => {
    const org = await makeOrg();
    const admin = await makeUser();
    await addMember(org.id, admin.id, 'admin');
    const res = await call('POST', `/orgs/${org.id}/invites`, { token: admin.token, body: { role: 'member', ttl_seconds: 3600 } });
    expect(res.status).toBe(201);
    const invite = await json<{ code: string; expires_at: string }>(res);
    const gina = await makeUser();
    const login = await call('POST', '/auth/login', { body: { username: gina.username, password: PASSWORD, invite_code: invite.code } });
    expect(login.status).toBe(200);
    expect(await roleIn(org.id, gina.id)).toBe('member');
    const hank = await makeUser();
    await call('POST', '/auth/login', { body: { username: hank.username, password: PASSWORD, invite_code: invite.code } });
    expect(await roleIn(org.id, hank.id)).toBeNull();
  });

  it('refuses members, outsiders and bad bodies', async () => {
    const org = await makeOrg();
    const member = await makeUser();
    const outsider = await makeUser();
    await addMember(org.id, member.id, 'member');
    expect((await call('POST', `/orgs/${org.id}/invites`, { token: member.token, body: {} })).status).toBe(403);
    expect((await call('POST', `/orgs/${org.id}/invites`, { token: outsider.token, body: {} })).status).toBe(403);
    expect((await call('POST', `/orgs/${org.id}/invites`, { body: {} })).status).toBe(401);
    const owner = await makeUser();
    await addMember(org.id, owner.id, 'owner');
    expect((await call('POST', `/orgs/${org.id}/invites`, { token: owner.token, body: { role: 'owner' } })).status).toBe(400);
    expect((await call('POST', `/orgs/${org.id}/invites`, { token: owner.token, body: { ttl_seconds: 10 } })).status).toBe(400);
  });
});
