/**
 * Building actors for tests: users (through the real registration code), their tokens, orgs and
 * memberships. Every helper goes through D1 like the product does.
 *
 *   const admin = await makeUser({ role: 'admin' });
 *   const alice = await makeUser();                       // role 'user'
 *   const org = await makeOrg(); await addMember(org.id, alice.id, 'member');
 *   await call('GET', `/orgs/${org.id}/members`, { token: alice.token });
 *   await call('GET', '/api/me', { cookie: alice.cookie }); // dashboard-style
 */
import { env } from 'cloudflare:test';
import { createUser } from '../../src/auth/accounts';
import { startLogin } from '../../src/auth/refresh';
import { db } from '../../src/db/client';
import { memberships, orgs } from '../../src/db/schema';

export const PASSWORD = 'correct horse battery staple';

let counter = 0;

export interface TestUser {
  id: number;
  username: string;
  role: 'admin' | 'user';
  password: string;
  token: string;
  refreshToken: string;
  sid: string;
  /** `Cookie` header value for the dashboard (`access_token=...`). */
  cookie: string;
}

export async function makeUser(opts: { username?: string; role?: 'admin' | 'user'; password?: string } = {}): Promise<TestUser> {
  counter += 1;
  const username = opts.username ?? `user${counter}-${crypto.randomUUID().slice(0, 8)}`;
  const password = opts.password ?? PASSWORD;
  const row = await createUser(env, { username, password, role: opts.role ?? 'user' });
  const login = await startLogin(env, row, 'launcher');
  return {
    id: row.id,
    username,
    role: row.role,
    password,
    token: login.accessToken,
    refreshToken: login.refreshSession.refreshToken,
    sid: login.refreshSession.refreshSessionId,
    cookie: `access_token=${login.accessToken}`,
  };
}

export async function makeOrg(opts: { slug?: string; name?: string } = {}): Promise<{ id: number; slug: string; name: string }> {
  counter += 1;
  const slug = opts.slug ?? `org-${counter}-${crypto.randomUUID().slice(0, 6)}`;
  const name = opts.name ?? `Org ${counter}`;
  const row = await db(env).insert(orgs).values({ slug, name }).returning().get();
  return { id: row.id, slug: row.slug, name: row.name };
}

export async function addMember(orgId: number, userId: number, role: 'owner' | 'admin' | 'member' = 'member'): Promise<void> {
  await db(env).insert(memberships).values({ orgId, userId, role }).onConflictDoUpdate({ target: [memberships.orgId, memberships.userId], set: { role } }).run();
}
