/**
 * The review queue of an org's pending proofs, decisions with a note the player sees, bulk
 * decisions, and the owner withdrawing a proof still waiting for review.
 */
import { env } from 'cloudflare:test';
import { eq } from 'drizzle-orm';
import { describe, expect, it } from 'vitest';
import { db } from '../../../src/db/client';
import { auditLog, libraryProofs } from '../../../src/db/schema';
import { call, json } from '../../support/http';
import { addMember, makeOrg, makeUser, type TestUser } from '../../support/users';
import { household as householdOf } from '../household';
import { makeGame } from './fakes';

type Proof = { id: number; kind: string; status: string; review_note: string | null };
type Entry = { id: number; game: { id: number; name: string }; owned: boolean; proofs: Proof[] };
type Pending = { entry_id: number; proof_id: number; kind: string; user: { id: number; username: string }; game: { id: number; name: string }; proof: Record<string, unknown>; submitted_at: string };

const household = () => householdOf({ admin: 'admin', alice: 'member', bob: 'member' });

const receipt = (orgId: number, gameId: number, orderId = 'HB-2291-7781') => ({
  kind: 'manual',
  org_id: orgId,
  game_id: gameId,
  receipt: { store: 'Humble Bundle', order_id: orderId, purchased_at: '2025-03-14', amount: 19.99, currency: 'EUR' },
});

async function submit(user: TestUser, body: Record<string, unknown>): Promise<Entry> {
  const res = await call('POST', `/users/${user.id}/library/proofs`, { token: user.token, body });
  expect(res.status).toBe(201);
  return json<Entry>(res);
}

const queue = async (orgId: number, who: TestUser) => call('GET', `/orgs/${orgId}/library/pending`, { token: who.token });
const library = async (orgId: number, who: TestUser) => json<Entry[]>(await call('GET', `/users/${who.id}/library?org_id=${orgId}`, { token: who.token }));

describe('GET /orgs/{org_id}/library/pending', () => {
  it('lists the org’s pending proofs oldest first, with who sent them, the game and the evidence', async () => {
    const { org, admin, alice, bob } = await household();
    const g1 = await makeGame({ name: 'Hades' });
    const g2 = await makeGame({ name: 'Celeste' });
    const first = await submit(alice, receipt(org.id, g1.id, 'A-1'));
    await new Promise((r) => setTimeout(r, 5));
    const second = await submit(bob, receipt(org.id, g2.id, 'B-1'));
    // Another org's proof never shows up here.
    const elsewhere = await makeOrg();
    await addMember(elsewhere.id, alice.id, 'member');
    await submit(alice, receipt(elsewhere.id, g2.id, 'X-1'));
    const res = await queue(org.id, admin);
    expect(res.status).toBe(200);
    const body = await json<{ items: Pending[]; total: number }>(res);
    expect(body.total).toBe(2);
    expect(body.items.map((i) => i.entry_id)).toEqual([first.id, second.id]);
    expect(body.items[0]).toMatchObject({
      kind: 'manual',
      user: { id: alice.id, username: alice.username },
      game: { id: g1.id, name: 'Hades' },
      proof: { receipt: { store: 'Humble Bundle', order_id: 'A-1', purchased_at: '2025-03-14', amount: 19.99, currency: 'EUR' } },
    });
  });

  it('is for org admins only: members, outsiders and anonymous callers are refused alike', async () => {
    const { org, alice } = await household();
    const outsider = await makeUser();
    expect((await queue(org.id, alice)).status).toBe(403);
    const theirs = await queue(org.id, outsider);
    const missing = await call('GET', '/orgs/999999/library/pending', { token: outsider.token });
    expect(theirs.status).toBe(403);
    expect(await theirs.json()).toEqual(await missing.json());
    expect((await call('GET', `/orgs/${org.id}/library/pending`)).status).toBe(401);
  });
});

describe('decisions the player sees', () => {
  it('a rejection carries the reviewer’s note to the player’s library; resubmitting clears it', async () => {
    const { org, admin, alice } = await household();
    const game = await makeGame();
    const entry = await submit(alice, receipt(org.id, game.id));
    const res = await call('POST', `/orgs/${org.id}/library/${entry.id}/reject`, { token: admin.token, body: { kind: 'manual', note: 'The order number is for a different game.' } });
    expect(res.status).toBe(200);
    const mine = (await library(org.id, alice)).find((e) => e.id === entry.id)!;
    expect(mine.owned).toBe(false);
    expect(mine.proofs[0]).toMatchObject({ kind: 'manual', status: 'rejected', review_note: 'The order number is for a different game.' });
    await submit(alice, receipt(org.id, game.id, 'HB-2291-7782'));
    const again = (await library(org.id, alice)).find((e) => e.id === entry.id)!;
    expect(again.proofs[0]).toMatchObject({ status: 'pending', review_note: null });
  });

  it('bulk-approves many proofs at once, each on its own: one already decided fails without stopping the rest', async () => {
    const { org, admin, alice, bob } = await household();
    const [g1, g2, g3] = [await makeGame(), await makeGame(), await makeGame()];
    const a1 = await submit(alice, receipt(org.id, g1.id));
    const a2 = await submit(alice, receipt(org.id, g2.id));
    const b3 = await submit(bob, receipt(org.id, g3.id));
    await call('POST', `/orgs/${org.id}/library/${a2.id}/reject`, { token: admin.token, body: { kind: 'manual' } });
    await call('POST', `/orgs/${org.id}/library/${a2.id}/verify`, { token: admin.token, body: { kind: 'manual' } });
    const res = await call('POST', `/orgs/${org.id}/library/review`, {
      token: admin.token,
      body: { decision: 'verify', note: 'Receipts checked.', items: [{ entry_id: a1.id, kind: 'manual' }, { entry_id: a2.id, kind: 'manual' }, { entry_id: b3.id, kind: 'manual' }] },
    });
    expect(res.status).toBe(200);
    const body = await json<{ results: Array<{ entry_id: number; ok: boolean; code: string | null }>; done: number }>(res);
    expect(body.done).toBe(2);
    expect(body.results.map((r) => [r.entry_id, r.ok, r.code])).toEqual([[a1.id, true, null], [a2.id, false, 'proof_state'], [b3.id, true, null]]);
    expect((await library(org.id, alice)).every((e) => e.owned)).toBe(true);
    expect((await library(org.id, bob))[0]!.proofs[0]).toMatchObject({ status: 'verified', review_note: 'Receipts checked.' });
    expect(await json<{ total: number }>(await queue(org.id, admin))).toMatchObject({ total: 0 });
  });

  it('refuses bulk decisions from a member, on entries of another org, and on one’s own proofs', async () => {
    const { org, admin, alice } = await household();
    const game = await makeGame();
    const mine = await submit(admin, receipt(org.id, game.id));
    const hers = await submit(alice, receipt(org.id, game.id));
    expect((await call('POST', `/orgs/${org.id}/library/review`, { token: alice.token, body: { decision: 'verify', items: [{ entry_id: hers.id, kind: 'manual' }] } })).status).toBe(403);
    const other = await makeOrg();
    await addMember(other.id, admin.id, 'admin');
    const cross = await json<{ results: Array<{ ok: boolean; code: string }> }>(
      await call('POST', `/orgs/${other.id}/library/review`, { token: admin.token, body: { decision: 'verify', items: [{ entry_id: hers.id, kind: 'manual' }] } }),
    );
    expect(cross.results[0]).toMatchObject({ ok: false, code: 'not_found' });
    const self = await json<{ results: Array<{ ok: boolean; code: string }> }>(
      await call('POST', `/orgs/${org.id}/library/review`, { token: admin.token, body: { decision: 'verify', items: [{ entry_id: mine.id, kind: 'manual' }] } }),
    );
    expect(self.results[0]).toMatchObject({ ok: false, code: 'self_review' });
    expect((await call('POST', `/orgs/${org.id}/library/review`, { token: admin.token, body: { decision: 'verify', items: [] } })).status).toBe(400);
    expect((await library(org.id, alice))[0]!.owned).toBe(false);
  });
});

describe('POST /users/{user_id}/library/{entry_id}/withdraw', () => {
  it('lets the owner take back a pending proof: it leaves the review queue', async () => {
    const { org, admin, alice } = await household();
    const game = await makeGame();
    const entry = await submit(alice, receipt(org.id, game.id));
    const res = await call('POST', `/users/${alice.id}/library/${entry.id}/withdraw`, { token: alice.token, body: { kind: 'manual' } });
    expect(res.status).toBe(200);
    expect((await json<Entry>(res)).proofs[0]).toMatchObject({ kind: 'manual', status: 'withdrawn' });
    expect(await json<{ total: number }>(await queue(org.id, admin))).toMatchObject({ total: 0 });
    const audits = await db(env).select().from(auditLog).where(eq(auditLog.action, 'library.proof.withdraw'));
    expect(audits.some((a) => a.targetId === String(entry.id))).toBe(true);
  });

  it('refuses withdrawing a verified proof, someone else’s entry, or for another user', async () => {
    const { org, admin, alice, bob } = await household();
    const game = await makeGame();
    const entry = await submit(alice, receipt(org.id, game.id));
    // Bob names his own id with Alice's entry: the same 404 as an entry that does not exist.
    const cross = await call('POST', `/users/${bob.id}/library/${entry.id}/withdraw`, { token: bob.token, body: { kind: 'manual' } });
    expect(cross.status).toBe(404);
    expect((await call('POST', `/users/${alice.id}/library/${entry.id}/withdraw`, { token: bob.token, body: { kind: 'manual' } })).status).toBe(403);
    await call('POST', `/orgs/${org.id}/library/${entry.id}/verify`, { token: admin.token, body: { kind: 'manual' } });
    const late = await call('POST', `/users/${alice.id}/library/${entry.id}/withdraw`, { token: alice.token, body: { kind: 'manual' } });
    expect(late.status).toBe(409);
    const row = await db(env).select().from(libraryProofs).where(eq(libraryProofs.entryId, entry.id)).get();
    expect(row!.status).toBe('verified');
  });
});
