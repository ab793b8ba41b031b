/**
 * The parts of a login answer that describe the user's world: their orgs (contract `OrgOut`,
 * ordered by org name; `orgs[0]` is the org the JavaFX launcher uses) and their settings blob.
 *
 *   const orgs = await userOrgs(env, userId);  const org = await primaryOrgId(env, userId);
 */
import { asc, eq } from 'drizzle-orm';
import { db } from '../db/client';
import { memberships, orgs, userSettings } from '../db/schema';

export interface OrgOut {
  id: number;
  slug: string;
  name: string;
  role: string;
}

export async function userOrgs(env: Env, userId: number): Promise<OrgOut[]> {
  return db(env)
    .select({ id: orgs.id, slug: orgs.slug, name: orgs.name, role: memberships.role })
    .from(memberships)
    .innerJoin(orgs, eq(orgs.id, memberships.orgId))
    .where(eq(memberships.userId, userId))
    .orderBy(asc(orgs.name), asc(orgs.id));
}

export async function settingsOf(env: Env, userId: number): Promise<Record<string, unknown>> {
  const row = await db(env).select().from(userSettings).where(eq(userSettings.userId, userId)).get();
  if (!row) return {};
  try {
    const parsed: unknown = JSON.parse(row.settingsJson);
    return parsed && typeof parsed === 'object' && !Array.isArray(parsed) ? (parsed as Record<string, unknown>) : {};
  } catch {
    return {};
  }
}

/** The org a user's catalog is computed for when none is named: `orgs[0]` of the login answer. */
export async function primaryOrgId(env: Env, userId: number): Promise<number | null> {
  const row = await db(env)
    .select({ id: orgs.id })
    .from(memberships)
    .innerJoin(orgs, eq(orgs.id, memberships.orgId))
    .where(eq(memberships.userId, userId))
    .orderBy(asc(orgs.name), asc(orgs.id))
    .limit(1)
    .get();
  return row?.id ?? null;
}
