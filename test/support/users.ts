/**
 * Building actors for tests: users (through the real registration code), their tokens, orgs and
 * memberships. Every helper goes through D1 like the product does.
 *
 *   const admin = await makeUser({ role: 'admin' });
 *   const alice = await makeUser();                       // role 'user'
 *   const org = await makeOrg(); await addMember(org.id, alice.id, 'member');
 *   await call('GET', `/orgs/${org.id}/members`, { token: alice.token });
 *   await call('GET', '/api/me', { cookie: alice.cookie }); // dashboard-style
 *   const bob = await signUp({ username: 'bob' });         // through the API, as the launcher does
 *   const again = await logIn(bob.username);              // POST /auth/login through the typed client
 *   await ok(as(bob).orgs.$get());
 *
 * makeUser creates the account and its refresh session in-process rather than through
 * `POST /users` + `POST /auth/login`: it can make admins, and it leaves no login audit rows, metrics
 * or per-address throttle counts behind that a test did not ask for. signUp/logIn are the API path.
 */
import { env } from 'cloudflare:test';
import { createUser } from '../../src/auth/accounts';
import { startLogin } from '../../src/auth/refresh';
import { db } from '../../src/db/client';
import { memberships, orgs } from '../../src/db/schema';
import { ok } from '../../src/client';
import { client } from './http';

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

/** The typed client acting as this user (bearer token). */
export function as(user: { token: string }) {
  return client({ token: user.token });
}

type LoginAnswer = { user_id: number; username: string; role: 'admin' | 'user'; token: string; refresh_token: string };

function fromLogin(body: LoginAnswer, password: string): TestUser {
  // The refresh-session id is the access token's `sid` claim (the login answer does not repeat it).
  const claims = JSON.parse(atob(body.token.split('.')[1]!.replace(/-/g, '+').replace(/_/g, '/'))) as { sid: string };
  return {
    id: body.user_id,
    username: body.username,
    role: body.role,
    password,
    token: body.token,
    refreshToken: body.refresh_token,
    sid: claims.sid,
    cookie: `access_token=${body.token}`,
  };
}

/**
 * Registers through `POST /users` with the typed client, as the launcher does (the first account of
 * a test file's database becomes admin; later ones need open registration, an invite or `by` an admin).
 * A refusal throws the API's error as `ApiError`.
 */
export async function signUp(opts: { username?: string; password?: string; inviteCode?: string; by?: { token: string } } = {}): Promise<TestUser> {
  counter += 1;
  const username = opts.username ?? `user${counter}-${crypto.randomUUID().slice(0, 8)}`;
  const password = opts.password ?? PASSWORD;
  const body = await ok(
    client({ token: opts.by?.token }).users.$post({ json: { username, password, ...(opts.inviteCode ? { invite_code: opts.inviteCode } : {}) } }),
  );
  return fromLogin(body, password);
}

/** Signs in through `POST /auth/login` with the typed client; a refusal throws `ApiError`. */
export async function logIn(username: string, password: string = PASSWORD): Promise<TestUser> {
  return fromLogin(await ok(client().auth.login.$post({ json: { username, password } })), password);
}
