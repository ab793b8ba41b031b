/**
 * Admin edits of accounts (`PUT`/`DELETE /api/users/{id}`, issue 11 item 12): all-or-nothing, the
 * invariants held by SQL under concurrency (always one platform admin, no self-deletion, an org's
 * last owner stays), and a deleted user's live play seats ended through the allocator.
 */
import { env } from 'cloudflare:test';
import { and, eq, ne, sql } from 'drizzle-orm';
import { describe, expect, it } from 'vitest';
import { db } from '../../src/db/client';
import { auditLog, users } from '../../src/db/schema';
import { call, json } from '../support/http';
import { addMember, makeOrg, makeUser, PASSWORD } from '../support/users';
import { makeGame, member, mirrorDrained, onlineNode, own, playWorld, startSession, type SessionBody } from '../console/play/helpers';

/** Makes `keep` the only platform admins (every other admin of this test file becomes a user). */
async function onlyAdmins(...keep: number[]) {
  await db(env).run(sql`UPDATE users SET role = 'user' WHERE role = 'admin' AND id NOT IN (${sql.join(keep.map((k) => sql`${k}`), sql`, `)})`);
}

describe('PUT /api/users/{id} is all-or-nothing', () => {
  it('half-applied edit: a new username with a weak password is a 400 that changes nothing', async () => {
    const root = await makeUser({ role: 'admin' });
    const bob = await makeUser();
    const before = await db(env).select().from(users).where(eq(users.id, bob.id)).get();
    const res = await call('PUT', `/api/users/${bob.id}`, { token: root.token, body: { username: `renamed-${bob.id}`, password: 'short', role: 'admin' } });
    expect(res.status).toBe(400);
    expect(await db(env).select().from(users).where(eq(users.id, bob.id)).get()).toEqual(before);
    expect((await call('POST', '/auth/login', { body: { username: bob.username, password: PASSWORD } })).status).toBe(200);
    expect((await call('POST', '/auth/login', { body: { username: `renamed-${bob.id}`, password: PASSWORD } })).status).toBe(401);
  });

  it('a taken username with a new password and role is a 409 that changes nothing, not even the password', async () => {
    const root = await makeUser({ role: 'admin' });
    const bob = await makeUser();
    const carol = await makeUser();
    const res = await call('PUT', `/api/users/${bob.id}`, { token: root.token, body: { username: carol.username, password: 'a brand new passphrase', role: 'admin' } });
    expect(res.status).toBe(409);
    expect(await json(res)).toMatchObject({ code: 'username_taken' });
    expect((await db(env).select().from(users).where(eq(users.id, bob.id)).get())!.role).toBe('user');
    expect((await call('POST', '/auth/login', { body: { username: bob.username, password: PASSWORD } })).status).toBe(200);
    // The refused edit revoked nothing either.
    expect((await call('GET', '/api/me', { token: bob.token })).status).toBe(200);
  });

  it('applies every field at once, revokes the logins on a password reset and audits once', async () => {
    const root = await makeUser({ role: 'admin' });
    const bob = await makeUser();
    const res = await call('PUT', `/api/users/${bob.id}`, { token: root.token, body: { username: `bob-${bob.id}`, password: 'a brand new passphrase', role: 'admin' } });
    expect(res.status).toBe(200);
    expect(await json(res)).toMatchObject({ username: `bob-${bob.id}`, role: 'admin' });
    expect((await call('GET', '/api/me', { token: bob.token })).status).toBe(403);
    expect((await call('POST', '/auth/login', { body: { username: `bob-${bob.id}`, password: 'a brand new passphrase' } })).status).toBe(200);
    const rows = await db(env).select().from(auditLog).where(and(eq(auditLog.action, 'user.update'), eq(auditLog.targetId, String(bob.id))));
    expect(rows).toHaveLength(1);
  });
});

describe('platform admin invariants', () => {
  it('demoting the last platform admin is refused (409 last_admin), even by themselves', async () => {
    const root = await makeUser({ role: 'admin' });
    await onlyAdmins(root.id);
    const res = await call('PUT', `/api/users/${root.id}`, { token: root.token, body: { role: 'user' } });
    expect(res.status).toBe(409);
    expect(await json(res)).toMatchObject({ code: 'last_admin' });
    expect((await db(env).select().from(users).where(eq(users.id, root.id)).get())!.role).toBe('admin');
    expect((await db(env).select().from(auditLog).where(and(eq(auditLog.action, 'user.update'), eq(auditLog.targetId, String(root.id))))).length).toBe(0);
  });

  it('race: the last two admins demoting each other at once leaves exactly one admin', async () => {
    const a = await makeUser({ role: 'admin' });
    const b = await makeUser({ role: 'admin' });
    await onlyAdmins(a.id, b.id);
    const [ra, rb] = await Promise.all([
      call('PUT', `/api/users/${b.id}`, { token: a.token, body: { role: 'user' } }),
      call('PUT', `/api/users/${a.id}`, { token: b.token, body: { role: 'user' } }),
    ]);
    expect([ra.status, rb.status].sort()).toEqual([200, 409]);
    const admins = await db(env).select({ id: users.id }).from(users).where(eq(users.role, 'admin'));
    expect(admins).toHaveLength(1);
  });

  it('a platform admin demoted to user: the invites they made for orgs they do not run are revoked in the same edit', async () => {
    const root = await makeUser({ role: 'admin' });
    const helper = await makeUser({ role: 'admin' });
    const org = await makeOrg();
    const owner = await makeUser();
    await addMember(org.id, owner.id, 'owner');
    const made = await call('POST', `/orgs/${org.id}/invites`, { token: helper.token, body: { role: 'member', ttl_seconds: 3600 } });
    expect(made.status).toBe(201);
    const { id: inviteId, code } = await json<{ id: number; code: string }>(made);
    expect((await call('PUT', `/api/users/${helper.id}`, { token: root.token, body: { role: 'user' } })).status).toBe(200);
    const list = await json<Array<{ id: number; status: string }>>(await call('GET', `/orgs/${org.id}/invites`, { token: owner.token }));
    expect(list.find((i) => i.id === inviteId)?.status).toBe('revoked');
    expect((await call('POST', '/users', { body: { username: `via-demoted-${inviteId}`, password: PASSWORD, invite_code: code } })).status).toBe(403);
  });

  it('an admin deleting their own account is refused (409 self_delete)', async () => {
    const root = await makeUser({ role: 'admin' });
    await makeUser({ role: 'admin' });
    const res = await call('DELETE', `/api/users/${root.id}`, { token: root.token });
    expect(res.status).toBe(409);
    expect(await json(res)).toMatchObject({ code: 'self_delete' });
    expect(await db(env).select().from(users).where(eq(users.id, root.id)).get()).toBeDefined();
  });

  it('race: the last two admins deleting each other at once leaves exactly one admin', async () => {
    const a = await makeUser({ role: 'admin' });
    const b = await makeUser({ role: 'admin' });
    await onlyAdmins(a.id, b.id);
    const results = await Promise.all([call('DELETE', `/api/users/${b.id}`, { token: a.token }), call('DELETE', `/api/users/${a.id}`, { token: b.token })]);
    // The loser's token died with its account (403) or its delete was refused (409): never both deleted.
    expect(results.filter((r) => r.status === 204)).toHaveLength(1);
    const admins = await db(env).select({ id: users.id }).from(users).where(eq(users.role, 'admin'));
    expect(admins).toHaveLength(1);
  });
});

describe('deleting a user', () => {
  it('bypassing the last-owner rule: deleting the only owner of an org is refused (409 last_owner)', async () => {
    const root = await makeUser({ role: 'admin' });
    const owner = await makeUser();
    const org = await makeOrg();
    await addMember(org.id, owner.id, 'owner');
    const res = await call('DELETE', `/api/users/${owner.id}`, { token: root.token });
    expect(res.status).toBe(409);
    expect(await json(res)).toMatchObject({ code: 'last_owner' });
    expect(await db(env).select().from(users).where(eq(users.id, owner.id)).get()).toBeDefined();
    // With a second owner the same delete goes through and the org keeps its other owner.
    const other = await makeUser();
    await addMember(org.id, other.id, 'owner');
    expect((await call('DELETE', `/api/users/${owner.id}`, { token: root.token })).status).toBe(204);
    expect(await db(env).select().from(users).where(eq(users.id, owner.id)).get()).toBeUndefined();
    expect((await db(env).select().from(auditLog).where(and(eq(auditLog.action, 'user.delete'), eq(auditLog.targetId, String(owner.id))))).length).toBe(1);
  });

  it('ends the deleted user’s live play seats, so the seat is free for the next player', async () => {
    const root = await makeUser({ role: 'admin' });
    const w = await playWorld();
    const game = await makeGame();
    const alice = await member(w);
    const bob = await member(w);
    await own(w.org.id, alice.id, game);
    await own(w.org.id, bob.id, game);
    await onlineNode(w, [game], { capacity: 1 });
    const s = await json<SessionBody>(await startSession(alice, { org_id: w.org.id, user_id: alice.id, game_id: game }));
    expect(['provisioning', 'active']).toContain(s.status);
    expect((await startSession(bob, { org_id: w.org.id, user_id: bob.id, game_id: game })).status).toBe(429);

    expect((await call('DELETE', `/api/users/${alice.id}`, { token: root.token })).status).toBe(204);
    const seat = await env.ORG_ALLOCATOR.getByName(String(w.org.id)).get(w.org.id, s.id);
    expect(seat?.status).toBe('terminated');
    const next = await startSession(bob, { org_id: w.org.id, user_id: bob.id, game_id: game });
    expect(next.status).toBe(201);
    // The allocator's mirror keeps working: bob's session is in D1 (written just after the
    // allocator's answer), nothing of alice's is left.
    await mirrorDrained(w.org.id);
    const rows = await db(env).all<{ user_id: number }>(sql`SELECT user_id FROM play_sessions WHERE org_id = ${w.org.id}`);
    expect(rows.map((r) => r.user_id)).toEqual([bob.id]);
  });

  it('still answers 204 for a user that does not exist', async () => {
    const root = await makeUser({ role: 'admin' });
    const none = await db(env).select({ n: sql<number>`MAX(id) + 1000` }).from(users).where(ne(users.id, 0)).get();
    expect((await call('DELETE', `/api/users/${none!.n}`, { token: root.token })).status).toBe(204);
  });
});
