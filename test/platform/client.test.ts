// The typed client (src/client.ts) against the real Worker: a user signs up, signs in, makes an
// authenticated call, and a refusal arrives as an ApiError carrying the API's {error, code}.
import { describe, expect, it } from 'vitest';
import { ApiError, ok } from '../../src/client';
import { client } from '../support/http';
import { as, logIn, makeUser, PASSWORD, signUp } from '../support/users';

describe('the typed client', () => {
  it('signs up, signs in, reads its own settings with the bearer token, and surfaces a refusal as ApiError', async () => {
    const anonymous = client();
    const username = `client-${crypto.randomUUID().slice(0, 8)}`;

    // The first account of this test file's database: registration is open for it.
    const signedUp = await ok(anonymous.users.$post({ json: { username, password: PASSWORD } }));
    expect(signedUp.username).toBe(username);
    expect(signedUp.token_type).toBe('Bearer');

    const login = await ok(anonymous.auth.login.$post({ json: { username, password: PASSWORD } }));
    expect(login.user_id).toBe(signedUp.user_id);

    let token = login.token;
    const me = client({ token: () => token });
    const settings = await ok(me.users[':user_id'].settings.$put({ param: { user_id: String(login.user_id) }, json: { settings: { theme: 'dark' } } }));
    expect(settings.settings).toEqual({ theme: 'dark' });
    expect(await ok(me.users[':user_id'].settings.$get({ param: { user_id: String(login.user_id) } }))).toEqual({ settings: { theme: 'dark' } });

    // Someone else's settings: 403 with the API's code, as a typed error.
    const other = await makeUser();
    const refused = await ok(me.users[':user_id'].settings.$get({ param: { user_id: String(other.id) } })).catch((e: unknown) => e);
    expect(refused).toBeInstanceOf(ApiError);
    expect(refused).toMatchObject({ status: 403, code: 'not_self' });

    // The token is read per request: without one the same call is a 401, not a stale success.
    token = '';
    const unauthenticated = await ok(me.users[':user_id'].settings.$get({ param: { user_id: String(login.user_id) } })).catch((e: unknown) => e);
    expect(unauthenticated).toMatchObject({ status: 401 });
  });

  it('gives a wrong password back as ApiError 401 with the message the API wrote', async () => {
    const alice = await makeUser();
    const err = await logIn(alice.username, 'not the password at all').catch((e: unknown) => e);
    expect(err).toBeInstanceOf(ApiError);
    const e = err as ApiError;
    expect(e.status).toBe(401);
    expect(typeof e.code).toBe('string');
    expect(e.message).toContain(e.code);
  });

  it('builds actors through the API: an admin-invited sign-up, then a fresh login whose token works', async () => {
    const admin = await makeUser({ role: 'admin' });
    const bob = await signUp({ by: admin });
    expect(bob.role).toBe('user');
    const again = await logIn(bob.username);
    expect(again).toMatchObject({ id: bob.id, username: bob.username, cookie: `access_token=${again.token}` });
    expect(again.sid).not.toBe(bob.sid);
    expect(await ok(as(again).users[':user_id'].settings.$get({ param: { user_id: String(again.id) } }))).toEqual({ settings: {} });
  });

  it('keeps a non-JSON refusal readable (code http_<status>) rather than throwing a parse error', async () => {
    const res = new Response('upstream hiccup', { status: 502 });
    const err = await ApiError.from(res);
    expect(err).toMatchObject({ status: 502, code: 'http_502' });
    expect(err.message).toContain('upstream hiccup');
  });
});
