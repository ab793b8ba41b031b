import { describe, expect, it } from 'vitest';
import { call, json } from '../../support/http';
import { addMember, makeOrg, makeUser } from '../../support/users';
import { heartbeat, install, makeGame, member, onlineNode, playWorld } from './helpers';

interface NodeInstall {
  game_id: number;
  game_name: string;
  install_path: string;
  proof: { sha256: string } | null;
}

describe('GET /orgs/{org_id}/nodes/{node_id}/installs', () => {
  it('lists what the agent last reported, with game names and proofs', async () => {
    const w = await playWorld();
    const [a, b] = [await makeGame(), await makeGame()];
    const node = await onlineNode(w, [a, b]);
    const list = await json<NodeInstall[]>(await call('GET', `/orgs/${w.org.id}/nodes/${node.id}/installs`, { token: w.admin.token }));
    expect(list.map((i) => i.game_id).sort()).toEqual([a, b].sort());
    expect(list[0]!.proof?.sha256).toMatch(/^[0-9a-f]{64}$/);
    // The next heartbeat drops game b: the list follows.
    expect((await heartbeat(node.token, [install(a)])).status).toBe(200);
    const after = await json<NodeInstall[]>(await call('GET', `/orgs/${w.org.id}/nodes/${node.id}/installs`, { token: w.admin.token }));
    expect(after.map((i) => i.game_id)).toEqual([a]);
  });

  it('refuses anonymous callers, plain members and other orgs’ admins; hides other orgs’ nodes', async () => {
    const w = await playWorld();
    const node = await onlineNode(w, [await makeGame()]);
    const path = `/orgs/${w.org.id}/nodes/${node.id}/installs`;
    expect((await call('GET', path)).status).toBe(401);
    expect((await call('GET', path, { token: (await member(w)).token })).status).toBe(403);
    const other = await makeOrg();
    const otherAdmin = await makeUser();
    await addMember(other.id, otherAdmin.id, 'admin');
    expect((await call('GET', path, { token: otherAdmin.token })).status).toBe(403);
    expect((await call('GET', `/orgs/${other.id}/nodes/${node.id}/installs`, { token: otherAdmin.token })).status).toBe(404);
  });
});
