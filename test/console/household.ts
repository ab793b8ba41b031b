/**
 * A fresh org with one user per named role, for the console's tenancy and library tests.
 *
 *   const { org, owner, admin, member } = await household();
 *   const { org, admin, alice, bob } = await household({ admin: 'admin', alice: 'member', bob: 'member' });
 */
import { addMember, makeOrg, makeUser, type TestUser } from '../support/users';

type Role = 'owner' | 'admin' | 'member';
const EVERY_ROLE = { owner: 'owner', admin: 'admin', member: 'member' } as const;

export async function household<R extends Record<string, Role> = typeof EVERY_ROLE>(
  roles: R = EVERY_ROLE as unknown as R,
): Promise<{ org: Awaited<ReturnType<typeof makeOrg>> } & { [K in keyof R]: TestUser }> {
  const org = await makeOrg();
  const people: Record<string, TestUser> = {};
  for (const [name, role] of Object.entries(roles)) {
    const user = await makeUser();
    await addMember(org.id, user.id, role);
    people[name] = user;
  }
  return { org, ...people } as { org: Awaited<ReturnType<typeof makeOrg>> } & { [K in keyof R]: TestUser };
}
