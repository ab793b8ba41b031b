/**
 * The console's tenancy, catalog and library routes as mounted by the route map (src/app.ts):
 * their OpenAPI paths (a `:org_id` in a mount prefix must read `{org_id}`), the operation metadata
 * every route carries, and the path params a mount prefix supplies reaching the routes' validators.
 */
import { describe, expect, it } from 'vitest';
import { call, json } from '../../support/http';
import { makeOrg, makeUser } from '../../support/users';

type Op = { operationId?: string; tags?: string[]; security?: unknown[]; responses: Record<string, unknown>; parameters?: Array<{ name: string; in: string }> };
type Doc = { paths: Record<string, Record<string, Op>> };

const OURS: Array<[string, string, string]> = [
  ['get', '/orgs', 'listOrgs'],
  ['post', '/orgs', 'createOrg'],
  ['post', '/orgs/{org_id}/leave', 'leaveOrg'],
  ['get', '/orgs/{org_id}/members', 'listOrgMembers'],
  ['post', '/orgs/{org_id}/members', 'addOrgMember'],
  ['put', '/orgs/{org_id}/members/{user_id}', 'setOrgMemberRole'],
  ['delete', '/orgs/{org_id}/members/{user_id}', 'removeOrgMember'],
  ['post', '/orgs/{org_id}/invites', 'createOrgInvite'],
  ['get', '/orgs/{org_id}/invites', 'listOrgInvites'],
  ['delete', '/orgs/{org_id}/invites/{invite_id}', 'revokeOrgInvite'],
  ['get', '/orgs/requests', 'listMyMemberRequests'],
  ['post', '/orgs/requests/{request_id}/accept', 'acceptMemberRequest'],
  ['post', '/orgs/requests/{request_id}/decline', 'declineMemberRequest'],
  ['post', '/orgs/{org_id}/member-requests', 'createMemberRequest'],
  ['get', '/orgs/{org_id}/member-requests', 'listOrgMemberRequests'],
  ['delete', '/orgs/{org_id}/member-requests/{request_id}', 'cancelMemberRequest'],
  ['get', '/users/{user_id}/settings', 'getUserSettings'],
  ['put', '/users/{user_id}/settings', 'replaceUserSettings'],
  ['get', '/users/{user_id}/apps', 'listUserApps'],
  ['put', '/users/{user_id}/apps/{app_id}', 'setUserApp'],
  ['get', '/users/{user_id}/library', 'listUserLibrary'],
  ['post', '/users/{user_id}/library/proofs', 'submitLibraryProof'],
  ['post', '/users/{user_id}/library/{entry_id}/withdraw', 'withdrawLibraryProof'],
  ['post', '/orgs/{org_id}/library/{entry_id}/verify', 'verifyLibraryProof'],
  ['post', '/orgs/{org_id}/library/{entry_id}/reject', 'rejectLibraryProof'],
  ['get', '/orgs/{org_id}/library/pending', 'listPendingProofs'],
  ['post', '/orgs/{org_id}/library/review', 'reviewProofs'],
  ['get', '/games', 'listGames'],
  ['get', '/games/{game_id}', 'getGame'],
  ['post', '/games', 'createGame'],
  ['put', '/games/{game_id}', 'updateGame'],
  ['delete', '/games/{game_id}', 'deleteGame'],
  ['post', '/games/{game_id}/enrich', 'enrichGame'],
  ['put', '/games/{game_id}/cover', 'putGameCover'],
  ['get', '/covers/{key}', 'getCover'],
  ['get', '/apps', 'listApps'],
  ['post', '/apps', 'createApp'],
  ['put', '/apps/{app_id}', 'updateApp'],
  ['delete', '/apps/{app_id}', 'deleteApp'],
  ['get', '/repo/default', 'getDefaultRepo'],
  ['get', '/auth/link/steam/start', 'startSteamLink'],
  ['get', '/auth/link/steam/callback', 'finishSteamLink'],
  ['post', '/auth/link/steam', 'linkSteamAccount'],
  ['delete', '/auth/link/steam', 'unlinkSteamAccount'],
  ['post', '/ownership/verify/steam', 'verifySteamOwnership'],
  ['get', '/ownership/steam', 'getSteamLink'],
  ['get', '/charts/top10', 'getTopChart'],
  ['post', '/charts/top10/refresh', 'refreshTopChart'],
  ['get', '/charts/runs', 'listChartRuns'],
  ['get', '/audit', 'listAuditLog'],
];

describe('route map: tenancy, catalog, library', () => {
  it('documents every route at its full path with operationId, tags, security and a 4xx', async () => {
    const doc = await json<Doc>(await call('GET', '/openapi.json'));
    for (const [method, path, id] of OURS) {
      const op = doc.paths[path]?.[method];
      expect(op, `${method} ${path}`).toBeTruthy();
      expect(op!.operationId, `${method} ${path}`).toBe(id);
      expect(op!.tags?.length, `${method} ${path} tags`).toBeGreaterThan(0);
      expect(Array.isArray(op!.security), `${method} ${path} security`).toBe(true);
      expect(Object.keys(op!.responses).some((s) => /^4\d\d$/.test(s)), `${method} ${path} 4xx`).toBe(true);
      // Every `{param}` of the path is a documented path parameter, prefix params included.
      for (const [, name] of path.matchAll(/\{([^}]+)\}/g)) {
        expect(op!.parameters?.some((p) => p.in === 'path' && p.name === name), `${method} ${path} param ${name}`).toBe(true);
      }
    }
    // No route of ours leaks Hono's `:param` spelling or a trailing slash into the document.
    expect(Object.keys(doc.paths).filter((p) => p.includes(':') || (p.length > 1 && p.endsWith('/')))).toEqual([]);
  });

  it('validates a param that comes from the mount prefix', async () => {
    const admin = await makeUser({ role: 'admin' });
    const res = await call('GET', '/orgs/abc/members', { token: admin.token });
    expect(res.status).toBe(400);
    expect((await json<{ code: string }>(res)).code).toBe('validation_failed');
    const org = await makeOrg();
    expect((await call('GET', `/orgs/${org.id}/members`, { token: admin.token })).status).toBe(200);
  });

  it('serves /orgs/requests as the invitee’s list, not as an org id', async () => {
    const user = await makeUser();
    const res = await call('GET', '/orgs/requests', { token: user.token });
    expect(res.status).toBe(200);
  });
});
