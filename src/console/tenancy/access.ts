/**
 * Org-level authorization shared by the tenancy, member-request and library routers: who may act
 * on an org, and as what.
 */
import type { Context } from 'hono';
import type { AppEnv } from '../../env';
import { assertOrgRole, type OrgRole } from '../../auth/middleware';
import { db } from '../../db/client';
import { NotFound } from '../../http/errors';
import { orgExists } from './queries';

export type Actor = OrgRole | 'platform_admin';

/**
 * `assertOrgRole`, plus: a platform admin acting on an org that does not exist gets a 404 (members
 * and outsiders never reach this point for a missing org: they get the usual 403).
 */
export async function assertOrgAccess(c: Context<AppEnv>, orgId: number, min: OrgRole): Promise<Actor> {
  const actor = await assertOrgRole(c, orgId, min);
  if (actor === 'platform_admin' && !(await orgExists(db(c.env), orgId))) {
    throw new NotFound('org not found');
  }
  return actor;
}
