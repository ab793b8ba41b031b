/**
 * The fleet scenario of issue 17 target 6, for any number of sources: three fake overseers (the
 * `fleet` vitest projects' Worker has `OVERSEER_URLS` = three fakes), every active source recorded
 * by exactly one overseer (rendezvous hashing on driver/username), an overseer lost past the
 * failover grace hands its sources to the others — every active source recording again within 90 s
 * of the loss, on the world clock — and its return moves them back without a source ever recording
 * on two overseers the control plane can reach.
 *
 * Time is driven with the world clock (src/world.ts: real time plus an offset the test advances)
 * and the links' alarms with `runDurableObjectAlarm`, never by waiting.
 *
 *   fleetSuite({ sources: 240 });                              // test/dvr/fleet.test.ts
 *   fleetSuite({ sources: 3000, startConcurrency: 20 });       // test/dvr/fleet-3000.test.ts
 */
import { env, runDurableObjectAlarm } from 'cloudflare:test';
import { beforeAll, describe, expect, it } from 'vitest';
import { setWorld, world } from '../../src/world';
import { overseerFleet, ownerOf } from '../../src/dvr/overseer';
import { call, json } from '../support/http';
import { makeUser, type TestUser } from '../support/users';
import { eventually } from './fake';

/** Every active source records again within this long of its overseer's loss (issue 17 target 6). */
const FAILOVER_BUDGET_MS = 90_000;

/**
 * `graceSeconds` must equal the project's OVERSEER_FAILOVER_SECONDS (vitest.config.mts): the test
 * moves the world clock to just inside and just past it.
 */
export function fleetSuite(opts: { sources: number; startConcurrency?: number; graceSeconds?: number }): void {
  const graceMs = (opts.graceSeconds ?? 60) * 1000;
  /** Many active sources; workerd runs every start through a real monitor object and D1. */
  const SOURCES = opts.sources;
  /** Polls of the fakes' state allowed while the fleet settles (each start is real work in workerd). */
  const settle = Math.max(1200, SOURCES * 2);
  const timeout = Math.max(120_000, SOURCES * 200);
  const names = Array.from({ length: SOURCES }, (_, i) => `fleet${String(i).padStart(4, '0')}`);

  const fleet = overseerFleet(env);
  const controls = env.FAKE_FLEET_CONTROLS.split(',');
  let offsetMs = 0;
  let admin: TestUser;

  type Health = { status: string; overseers: Array<{ id: string; connected: boolean }> };

  const control = async (i: number, path: string, body?: unknown): Promise<Record<string, unknown>> => {
    const init = body === undefined ? undefined : { method: 'POST', body: JSON.stringify(body), headers: { 'Content-Type': 'application/json' } };
    let res: Response;
    try {
      res = await fetch(`${controls[i]}/${path}`, init);
    } catch {
      res = await fetch(`${controls[i]}/${path}`, init); // a connection the fake just dropped
    }
    return (await res.json()) as Record<string, unknown>;
  };
  /** The source of each task running on fake `i` (sources only: the fleet polls this often). */
  const runningOn = async (i: number) => (await control(i, 'running')) as unknown as string[];
  const startsSentTo = async (i: number) => ((await control(i, 'messages')) as unknown as Array<{ type: string }>).filter((m) => m.type === 'start').length;

  /** source → the fakes (by index) running a task for it, over the given fakes. */
  async function recorders(fakes: number[]): Promise<Map<string, number[]>> {
    const by = new Map<string, number[]>();
    for (const i of fakes) for (const source of await runningOn(i)) by.set(source, [...(by.get(source) ?? []), i]);
    return by;
  }

  const exactlyOnce = (by: Map<string, number[]>) => names.every((n) => by.get(n)?.length === 1) && by.size === SOURCES;
  /** Tasks running on the given fakes, as the fakes count them (a few bytes, not every source's name). */
  const runningCount = async (fakes: number[]) => {
    let n = 0;
    for (const i of fakes) n += Number((await control(i, 'stats')).running);
    return n;
  };
  /**
   * Waits until every source records on exactly one of `fakes` and returns who records what. The
   * wait polls the fakes' counts until they add up to one task a source, then reads the full lists
   * (each list poll is every running source's name, parsed and mapped inside workerd, on the one
   * thread that also runs the links, monitors and D1 the restarts need: at 3,000 sources, polled
   * every 25 ms, the test's own waiting took time from the restarts whose real time it measures).
   * What passes is unchanged: the lists must show exactly one recorder for every source.
   */
  async function settledOn(fakes: number[], what: string): Promise<Map<string, number[]>> {
    await eventually(() => runningCount(fakes), (n) => n === SOURCES, `${what} (the fakes' running count)`, settle);
    return eventually(() => recorders(fakes), exactlyOnce, what, settle);
  }
  const runningInMirror = async () =>
    (await env.DB.prepare(`SELECT count(*) AS n FROM sources WHERE username LIKE 'fleet%' AND worker_state = 'running'`).first<{ n: number }>())!.n;
  const health = async () => json<Health>(await call('GET', '/api/health'));
  const alarm = (i: number) => runDurableObjectAlarm(env.OVERSEER_LINK.getByName(fleet[i]!.id));

  beforeAll(async () => {
    setWorld({ now: () => Date.now() + offsetMs });
    admin = await makeUser({ role: 'admin' });
    const u = await makeUser();
    // Seeded in D1 directly (subscribing through the API would only test the API many times):
    // the links' on-connect reconcile then starts every active source, as after a deploy.
    const stmts = names.flatMap((n) => [
      env.DB.prepare(`INSERT INTO sources (driver, username) VALUES ('chaturbate', ?)`).bind(n),
      env.DB.prepare(`INSERT INTO subscriptions (user_id, source_id, posture) SELECT ?, id, 'active' FROM sources WHERE driver = 'chaturbate' AND username = ?`).bind(u.id, n),
    ]);
    for (let i = 0; i < stmts.length; i += 200) await env.DB.batch(stmts.slice(i, i + 200));
    if (opts.startConcurrency) {
      const cfg = await json<Record<string, unknown>>(await call('GET', '/api/config', { token: admin.token }));
      expect((await call('PUT', '/api/config', { token: admin.token, body: { ...cfg, start_concurrency: opts.startConcurrency } })).status).toBe(200);
    }
  }, timeout);

  describe('a fleet of three overseers', () => {
    it('parses OVERSEER_URLS into three links and assigns by rendezvous hashing', () => {
      expect(fleet).toHaveLength(3);
      const ids = fleet.map((o) => o.id);
      const owners = names.map((n) => ownerOf({ driver: 'chaturbate', username: n }, ids));
      for (const id of ids) expect(owners.filter((o) => o === id).length).toBeGreaterThan(SOURCES / 6);
      // Losing one overseer moves only its own sources.
      const two = ids.slice(1);
      names.forEach((n, i) => {
        if (owners[i] !== ids[0]) expect(ownerOf({ driver: 'chaturbate', username: n }, two)).toBe(owners[i]);
      });
    });

    it('records every active source on exactly one overseer, each on its rendezvous owner', async () => {
      const h = await eventually(health, (x) => x.overseers.length === 3 && x.overseers.every((o) => o.connected), 'three links connected');
      expect(h.status).toBe('ok');
      const by = await settledOn([0, 1, 2], 'every source on exactly one overseer');
      const ids = fleet.map((o) => o.id);
      for (const n of names) expect(ids[by.get(n)![0]!]).toBe(ownerOf({ driver: 'chaturbate', username: n }, ids));
      expect(await eventually(runningInMirror, (x) => x === SOURCES, 'all running in the mirror', settle)).toBe(SOURCES);

      // /api/workers lists every overseer's tasks, each tagged with its overseer.
      const workers = await json<Array<{ overseer: string; params: Record<string, string> }>>(await call('GET', '/api/workers', { token: admin.token }));
      expect(new Set(workers.map((w) => w.overseer))).toEqual(new Set(ids));
      // Diagnostics: the one-overseer `recorder` shape kept, `recorders` per overseer.
      const diag = await json<{ recorder: { connected: boolean }; recorders: Array<{ id: string; connected: boolean }> }>(
        await call('GET', '/api/admin/diagnostics', { token: admin.token }),
      );
      expect(diag.recorder.connected).toBe(true);
      expect(diag.recorders.map((r) => [r.id, r.connected])).toEqual(ids.map((id) => [id, true]));
    }, timeout);

    it('moves a lost overseer\'s sources to the others once the grace period ends: all recording again within 90 s', async () => {
      const lostAt = world.now();
      await control(0, 'refuse', { refuse: true }); // overseer 0 unreachable (its processes run on)
      await eventually(health, (x) => x.overseers[0]!.connected === false, 'link 0 down');
      // Inside the grace period nothing moves.
      offsetMs += graceMs / 2;
      await alarm(1);
      await alarm(2);
      expect((await recorders([1, 2])).size).toBeLessThan(SOURCES);

      // Just past the grace, before the next reconcile interval: the alarm the survivors armed for
      // the grace's end (their own interval is 60 s away) moves the sources.
      offsetMs += graceMs / 2 + 1_000;
      // Together, as their alarms fire in production: each survivor's reconcile moves its share.
      await Promise.all([alarm(1), alarm(2)]);
      await settledOn([1, 2], 'every source recording on overseer 1 or 2');
      // World time = real time + the offset: the starts' real duration counts against the budget.
      const recoveredAfter = world.now() - lostAt;
      expect(recoveredAfter).toBeLessThanOrEqual(FAILOVER_BUDGET_MS);
      expect(await eventually(runningInMirror, (x) => x === SOURCES, 'all running again', settle)).toBe(SOURCES);
      const h = await health();
      expect(h.status).toBe('ok');
      expect(h.overseers.map((o) => o.connected)).toEqual([false, true, true]);
    }, timeout);

    it('hands the sources back when the overseer returns, never recording one twice', async () => {
      const startsBefore = await startsSentTo(0);
      await control(0, 'refuse', { refuse: false });
      offsetMs += 5_000;
      await alarm(0); // redials; the on-connect reconcile claims its leftover tasks and releases the others'
      const by = await settledOn([0, 1, 2], 'every source on exactly one overseer again');
      const ids = fleet.map((o) => o.id);
      for (const n of names) expect(ids[by.get(n)![0]!]).toBe(ownerOf({ driver: 'chaturbate', username: n }, ids));
      // Its leftover tasks were claimed, not started again.
      expect(await startsSentTo(0)).toBe(startsBefore);
      expect(await eventually(runningInMirror, (x) => x === SOURCES, 'all running', settle)).toBe(SOURCES);
      // Later reconciles change nothing.
      offsetMs += 61_000;
      for (const i of [0, 1, 2]) await alarm(i);
      expect(exactlyOnce(await recorders([0, 1, 2]))).toBe(true);
    }, timeout);
  });
}
