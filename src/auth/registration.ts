/**
 * Who may create an account, and the creation itself. The first account ever becomes admin;
 * afterwards registration needs an admin caller, an invite (the product's own, checked by the
 * caller), or open registration: `platform_settings.open_registration` (set by admins at run
 * time) wins over the `OPEN_REGISTRATION` var, default off.
 *
 *   const row = await registerAccount(c, { username, password }, { invited: claim !== null }); // 400/403/409/429
 */
import type { Context } from 'hono';
import type { AppEnv } from '../env';
import { db } from '../db/client';
import { Forbidden } from '../http/errors';
import { clientIp } from '../http/middleware';
import { createUser, hasUsers, type UserRow } from './accounts';
import { audit } from './audit';
import { openRegistrationSetting } from './queries/users';
import { checkAccountLock, recordFailure, registrationLimits, throttleKey } from './throttle';

export async function isOpenRegistration(env: Env): Promise<boolean> {
  return ((await openRegistrationSetting(db(env))) ?? env.OPEN_REGISTRATION) === 'true';
}

/** 429 once this address used up its registrations for the window; otherwise counts this one. */
async function countRegistration(env: Env, ip: string): Promise<void> {
  const key = throttleKey.registration(ip);
  await checkAccountLock(env, key, 'too many registrations from this address; try again later');
  await recordFailure(env, key, registrationLimits(env));
}

/**
 * Creates the account when the caller may (`invited`: the caller already holds a valid invite),
 * audited as `user.create`. Each registration costs a password hash, so it is counted per client
 * address (admins exempt).
 */
export async function registerAccount(c: Context<AppEnv>, credentials: { username: string; password: string }, opts: { invited: boolean }): Promise<UserRow> {
  const env = c.env;
  const caller = c.get('user');
  if (await hasUsers(env)) {
    const allowed = caller?.role === 'admin' || opts.invited || (await isOpenRegistration(env));
    if (!allowed) throw new Forbidden('registration is closed; ask an admin for an invite', 'registration_closed');
  }
  if (caller?.role !== 'admin') await countRegistration(env, clientIp(c.req.raw));
  const row = await createUser(env, credentials);
  await audit(c, 'user.create', { actorUserId: caller?.id ?? row.id, targetType: 'user', targetId: row.id, details: { role: row.role, via: 'register' } });
  return row;
}
