import { describe, expect, it } from 'vitest';
import { call, json } from '../../support/http';
import { addMember, makeOrg, makeUser } from '../../support/users';
import { makeGame, member, onlineNode, own, playWorld, startSession } from './helpers';

interface OrgSession {
  id: number;
  username: string;
  game_name: string;
  node_name: string | null;
  status: string;
}

async function worldWithSession() {
  const w = await playWorld();
  const game = await makeGame();
  const node = await onlineNode(w, [game], { capacity: 2 });
  const player = await member(w);
  await own(w.org.id, player.id, game);
  const res = await startSession(player, { org_id: w.org.id, user_id: player.id, game_id: game });
  expect(res.status).toBe(201);
  const session = await json<{ id: number }>(res);
  return { w, game, node, player, session };
}

describe('GET /orgs/{org_id}/sessions', () => {
  it('lists the org’s live sessions with player, game and node names, without stream URLs', async () => {
    const { w, player, session, node } = await worldWithSession();
    const res = await call('GET', `/orgs/${w.org.id}/sessions`, { token: w.admin.token });
    expect(res.status).toBe(200);
    const list = await json<OrgSession[]>(res);
    expect(list).toHaveLength(1);
    expect(list[0]).toMatchObject({ id: session.id, username: player.username, node_name: node.name, status: 'provisioning' });
    expect(JSON.stringify(list)).not.toContain('stream_url');
  });

  it('moves an ended session from the live list to the ended list', async () => {
    const { w, player, session } = await worldWithSession();
    expect((await call('DELETE', `/sessions/${session.id}`, { token: player.token })).status).toBe(200);
    expect(await json<OrgSession[]>(await call('GET', `/orgs/${w.org.id}/sessions?status=live`, { token: w.admin.token }))).toEqual([]);
    const ended = await json<OrgSession[]>(await call('GET', `/orgs/${w.org.id}/sessions?status=ended`, { token: w.admin.token }));
    expect(ended.map((s) => [s.id, s.status])).toEqual([[session.id, 'terminated']]);
  });

  it('refuses anonymous callers, plain members, admins of another org; allows platform admins', async () => {
    const { w, player } = await worldWithSession();
    expect((await call('GET', `/orgs/${w.org.id}/sessions`)).status).toBe(401);
    expect((await call('GET', `/orgs/${w.org.id}/sessions`, { token: player.token })).status).toBe(403);
    const other = await makeOrg();
    const otherAdmin = await makeUser();
    await addMember(other.id, otherAdmin.id, 'admin');
    expect((await call('GET', `/orgs/${w.org.id}/sessions`, { token: otherAdmin.token })).status).toBe(403);
    const platform = await makeUser({ role: 'admin' });
    expect((await call('GET', `/orgs/${w.org.id}/sessions`, { token: platform.token })).status).toBe(200);
  });

  it('validates the status filter and the limit', async () => {
    const { w } = await worldWithSession();
    expect((await call('GET', `/orgs/${w.org.id}/sessions?status=weird`, { token: w.admin.token })).status).toBe(400);
    expect((await call('GET', `/orgs/${w.org.id}/sessions?limit=0`, { token: w.admin.token })).status).toBe(400);
    expect((await call('GET', `/orgs/abc/sessions`, { token: w.admin.token })).status).toBe(400);
  });
});
