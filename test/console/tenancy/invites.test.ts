/**
 * Invites and joining by consent (issue 11 items 8 and 9): invites are listed and revoked, die
 * with their creator's authority, and are redeemed atomically; org admins add people only by
 * invite or by a username request the person accepts, and that request never reveals whether a
 * username exists.
 */
import { env } from 'cloudflare:test';
import { and, eq, sql } from 'drizzle-orm';
import { describe, expect, it } from 'vitest';
import { db } from '../../../src/db/client';
import { auditLog, memberships, users } from '../../../src/db/schema';
import { call, json } from '../../support/http';
import { addMember, makeOrg, makeUser, PASSWORD } from '../../support/users';
import { household } from '../household';

async function roleIn(orgId: number, userId: number) {
  const row = await db(env).select().from(memberships).where(and(eq(memberships.orgId, orgId), eq(memberships.userId, userId))).get();
  return row?.role ?? null;
}

async function invite(orgId: number, token: string, role: 'admin' | 'member' = 'member') {
  const res = await call('POST', `/orgs/${orgId}/invites`, { token, body: { role, ttl_seconds: 3600 } });
  expect(res.status).toBe(201);
  return json<{ id: number; code: string }>(res);
}

type InviteItem = { id: number; status: string; created_by: { user_id: number } | null; used_by: { user_id: number } | null; revoke_reason: string | null };

async function invitesOf(orgId: number, token: string) {
  const res = await call('GET', `/orgs/${orgId}/invites`, { token });
  expect(res.status).toBe(200);
  return json<InviteItem[]>(res);
}

function register(username: string, code: string) {
  return call('POST', '/users', { body: { username, password: PASSWORD, invite_code: code } });
}

describe('listing and revoking invites', () => {
  it('lists the org’s invites with their state and who used them, never the code', async () => {
    const { org, admin, owner } = await household();
    const a = await invite(org.id, admin.token);
    const b = await invite(org.id, owner.token, 'admin');
    const res = await register(`joiner-${a.id}`, a.code);
    expect(res.status).toBe(201);
    const joined = await json<{ user_id: number }>(res);
    const list = await invitesOf(org.id, admin.token);
    expect(JSON.stringify(list)).not.toContain(a.code);
    expect(JSON.stringify(list)).not.toContain(b.code);
    const byId = new Map(list.map((i) => [i.id, i]));
    expect(byId.get(a.id)).toMatchObject({ status: 'used', created_by: { user_id: admin.id }, used_by: { user_id: joined.user_id } });
    expect(byId.get(b.id)).toMatchObject({ status: 'open', created_by: { user_id: owner.id }, used_by: null });
    expect(await roleIn(org.id, joined.user_id)).toBe('member');
  });

  it('a revoked code no longer registers or joins anyone', async () => {
    const { org, admin } = await household();
    const inv = await invite(org.id, admin.token);
    const res = await call('DELETE', `/orgs/${org.id}/invites/${inv.id}`, { token: admin.token });
    expect(res.status).toBe(200);
    expect((await call('DELETE', `/orgs/${org.id}/invites/${inv.id}`, { token: admin.token })).status).toBe(404);
    expect((await register(`late-${inv.id}`, inv.code)).status).toBe(403);
    const gina = await makeUser();
    await call('POST', '/auth/login', { body: { username: gina.username, password: PASSWORD, invite_code: inv.code } });
    expect(await roleIn(org.id, gina.id)).toBeNull();
    expect((await invitesOf(org.id, admin.token)).find((i) => i.id === inv.id)?.status).toBe('revoked');
    expect((await db(env).select().from(auditLog).where(and(eq(auditLog.action, 'org.invite.revoke'), eq(auditLog.targetId, String(inv.id))))).length).toBe(1);
  });

  it('refuses members and outsiders, and an admin of another org revoking by id', async () => {
    const { org, admin, member } = await household();
    const other = await household();
    const inv = await invite(org.id, admin.token);
    expect((await call('GET', `/orgs/${org.id}/invites`, { token: member.token })).status).toBe(403);
    expect((await call('GET', `/orgs/${org.id}/invites`, { token: other.admin.token })).status).toBe(403);
    expect((await call('DELETE', `/orgs/${org.id}/invites/${inv.id}`, { token: member.token })).status).toBe(403);
    expect((await call('DELETE', `/orgs/${other.org.id}/invites/${inv.id}`, { token: other.admin.token })).status).toBe(404);
    expect((await invitesOf(org.id, admin.token)).find((i) => i.id === inv.id)?.status).toBe('open');
  });
});

describe('an invite dies with its creator’s authority', () => {
  it('creator demoted to member: their open invites are revoked, others’ stay open', async () => {
    const { org, owner, admin } = await household();
    const mine = await invite(org.id, admin.token);
    const theirs = await invite(org.id, owner.token);
    expect((await call('PUT', `/orgs/${org.id}/members/${admin.id}`, { token: owner.token, body: { role: 'member' } })).status).toBe(200);
    const list = await invitesOf(org.id, owner.token);
    expect(list.find((i) => i.id === mine.id)?.status).toBe('revoked');
    expect(list.find((i) => i.id === theirs.id)?.status).toBe('open');
    expect((await register(`after-demotion-${mine.id}`, mine.code)).status).toBe(403);
  });

  it('creator removed from the org, or leaving it: their open invites are revoked', async () => {
    const { org, owner, admin } = await household();
    const second = await makeUser();
    await addMember(org.id, second.id, 'admin');
    const a = await invite(org.id, admin.token);
    const b = await invite(org.id, second.token);
    expect((await call('DELETE', `/orgs/${org.id}/members/${admin.id}`, { token: owner.token })).status).toBe(200);
    expect((await call('POST', `/orgs/${org.id}/leave`, { token: second.token })).status).toBe(200);
    const list = await invitesOf(org.id, owner.token);
    expect(list.find((i) => i.id === a.id)?.status).toBe('revoked');
    expect(list.find((i) => i.id === b.id)?.status).toBe('revoked');
  });

  it('creator’s account deleted: their open invites are revoked', async () => {
    const { org, owner, admin } = await household();
    const root = await makeUser({ role: 'admin' });
    const inv = await invite(org.id, admin.token);
    expect((await call('DELETE', `/api/users/${admin.id}`, { token: root.token })).status).toBe(204);
    expect((await invitesOf(org.id, owner.token)).find((i) => i.id === inv.id)).toMatchObject({ status: 'revoked', created_by: null });
  });
});

describe('atomic redemption', () => {
  it('race: one single-use code, five concurrent registrations, exactly one account', async () => {
    const { org, admin } = await household();
    const inv = await invite(org.id, admin.token);
    const names = [1, 2, 3, 4, 5].map((i) => `racer-${inv.id}-${i}`);
    const before = (await db(env).select({ n: sql<number>`COUNT(*)` }).from(users).get())!.n;
    const results = await Promise.all(names.map((n) => register(n, inv.code)));
    expect(results.filter((r) => r.status === 201)).toHaveLength(1);
    expect(results.filter((r) => r.status === 403)).toHaveLength(4);
    expect((await db(env).select({ n: sql<number>`COUNT(*)` }).from(users).get())!.n).toBe(before + 1);
    const members = await db(env).select().from(memberships).where(eq(memberships.orgId, org.id));
    expect(members).toHaveLength(4); // the household's three + the winner
  });

  it('a registration that fails after claiming the code (weak password) leaves it usable', async () => {
    const { org, admin } = await household();
    const inv = await invite(org.id, admin.token);
    const weak = await call('POST', '/users', { body: { username: `weak-${inv.id}`, password: 'short', invite_code: inv.code } });
    expect(weak.status).toBe(400);
    expect((await register(`strong-${inv.id}`, inv.code)).status).toBe(201);
  });
});

type RequestOut = { id: number; username: string; status: string; role: string };

describe('joining by consent', () => {
  it('request for an existing and for a made-up username: the same answer and list entry (no existence oracle)', async () => {
    const { org, admin } = await household();
    const real = await makeUser();
    const fake = `nobody-${crypto.randomUUID().slice(0, 8)}`;
    const a = await call('POST', `/orgs/${org.id}/member-requests`, { token: admin.token, body: { username: real.username } });
    const b = await call('POST', `/orgs/${org.id}/member-requests`, { token: admin.token, body: { username: fake } });
    expect(a.status).toBe(202);
    expect(b.status).toBe(202);
    const ba = await json<RequestOut & Record<string, unknown>>(a);
    const bb = await json<RequestOut & Record<string, unknown>>(b);
    expect(Object.keys(ba).sort()).toEqual(Object.keys(bb).sort());
    expect([ba.status, bb.status]).toEqual(['pending', 'pending']);
    const list = await json<RequestOut[]>(await call('GET', `/orgs/${org.id}/member-requests`, { token: admin.token }));
    expect(list.find((r) => r.id === ba.id)).toMatchObject({ username: real.username, status: 'pending' });
    expect(list.find((r) => r.id === bb.id)).toMatchObject({ username: fake, status: 'pending' });
    // Nobody was enrolled.
    expect(await roleIn(org.id, real.id)).toBeNull();
  });

  it('the named person sees the request, accepts it and joins with the requested role', async () => {
    const { org, admin } = await household();
    const erin = await makeUser();
    const req = await json<RequestOut>(await call('POST', `/orgs/${org.id}/member-requests`, { token: admin.token, body: { username: erin.username.toUpperCase(), role: 'admin' } }));
    const mine = await json<Array<{ id: number; org: { id: number }; role: string; requested_by: string }>>(await call('GET', '/orgs/requests', { token: erin.token }));
    expect(mine).toEqual([expect.objectContaining({ id: req.id, org: expect.objectContaining({ id: org.id }), role: 'admin', requested_by: admin.username })]);
    const accepted = await call('POST', `/orgs/requests/${req.id}/accept`, { token: erin.token });
    expect(accepted.status).toBe(200);
    expect(await json(accepted)).toEqual({ org_id: org.id, role: 'admin' });
    expect(await roleIn(org.id, erin.id)).toBe('admin');
    expect((await call('POST', `/orgs/requests/${req.id}/accept`, { token: erin.token })).status).toBe(404);
    expect(await json(await call('GET', '/orgs/requests', { token: erin.token }))).toEqual([]);
  });

  it('someone else cannot accept or decline a request addressed to another person', async () => {
    const { org, admin } = await household();
    const erin = await makeUser();
    const mallory = await makeUser();
    const req = await json<RequestOut>(await call('POST', `/orgs/${org.id}/member-requests`, { token: admin.token, body: { username: erin.username } }));
    expect(await json(await call('GET', '/orgs/requests', { token: mallory.token }))).toEqual([]);
    expect((await call('POST', `/orgs/requests/${req.id}/accept`, { token: mallory.token })).status).toBe(404);
    expect((await call('POST', `/orgs/requests/${req.id}/decline`, { token: mallory.token })).status).toBe(404);
    expect(await roleIn(org.id, mallory.id)).toBeNull();
    expect((await call('POST', `/orgs/requests/${req.id}/decline`, { token: erin.token })).status).toBe(200);
    expect((await call('POST', `/orgs/requests/${req.id}/accept`, { token: erin.token })).status).toBe(404);
    expect(await roleIn(org.id, erin.id)).toBeNull();
  });

  it('a request cannot be accepted once its requester lost the admin role, or after it was cancelled', async () => {
    const { org, owner, admin } = await household();
    const erin = await makeUser();
    const fred = await makeUser();
    const r1 = await json<RequestOut>(await call('POST', `/orgs/${org.id}/member-requests`, { token: admin.token, body: { username: erin.username } }));
    const r2 = await json<RequestOut>(await call('POST', `/orgs/${org.id}/member-requests`, { token: owner.token, body: { username: fred.username } }));
    await call('PUT', `/orgs/${org.id}/members/${admin.id}`, { token: owner.token, body: { role: 'member' } });
    expect((await call('POST', `/orgs/requests/${r1.id}/accept`, { token: erin.token })).status).toBe(404);
    expect((await call('DELETE', `/orgs/${org.id}/member-requests/${r2.id}`, { token: owner.token })).status).toBe(200);
    expect((await call('POST', `/orgs/requests/${r2.id}/accept`, { token: fred.token })).status).toBe(404);
    expect(await roleIn(org.id, erin.id)).toBeNull();
    expect(await roleIn(org.id, fred.id)).toBeNull();
  });

  it('refuses members and outsiders making requests, and answers 409 for a current member', async () => {
    const { org, admin, member } = await household();
    const outsider = await makeUser();
    expect((await call('POST', `/orgs/${org.id}/member-requests`, { token: member.token, body: { username: outsider.username } })).status).toBe(403);
    expect((await call('POST', `/orgs/${org.id}/member-requests`, { token: outsider.token, body: { username: outsider.username } })).status).toBe(403);
    expect((await call('GET', `/orgs/${org.id}/member-requests`, { token: member.token })).status).toBe(403);
    expect((await call('POST', `/orgs/${org.id}/member-requests`, { token: admin.token, body: { username: member.username } })).status).toBe(409);
    expect((await call('POST', `/orgs/${org.id}/member-requests`, { token: admin.token, body: { username: 'x', extra: 1 } })).status).toBe(400);
  });
});
