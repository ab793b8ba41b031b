import { createExecutionContext, createScheduledController, env, waitOnExecutionContext } from 'cloudflare:test';
import { eq, sql } from 'drizzle-orm';
import { describe, expect, it } from 'vitest';
import { db } from '../../src/db/client';
import { auditLog, refreshSessions, games, loginThrottle, openidNonces, playSessions, sources, workerEvents } from '../../src/db/schema';
import worker from '../../src/index';
import { makeOrg, makeUser } from '../support/users';

const DAY = 24 * 3600_000;
const ago = (ms: number) => new Date(Date.now() - ms).toISOString();

async function housekeeping(over: Partial<Env> = {}) {
  const ctx = createExecutionContext();
  await worker.scheduled(createScheduledController({ cron: '*/5 * * * *', scheduledTime: Date.now() }), { ...env, ...over }, ctx);
  await waitOnExecutionContext(ctx);
}

describe('housekeeping cron', () => {
  it('purges refresh sessions whose login expired more than a day ago and keeps live ones', async () => {
    const u = await makeUser();
    const old = new Date(Date.now() - 3 * 24 * 3600_000).toISOString();
    await db(env)
      .insert(refreshSessions)
      .values({ id: 'expired-session', familyId: 'expired-family', userId: u.id, tokenHash: 'h-expired', client: 'launcher', expiresAt: old, familyExpiresAt: old })
      .run();
    const ctx = createExecutionContext();
    await worker.scheduled(createScheduledController({ cron: '*/5 * * * *', scheduledTime: Date.now() }), env, ctx);
    await waitOnExecutionContext(ctx);
    expect(await db(env).select().from(refreshSessions).where(eq(refreshSessions.id, 'expired-session')).get()).toBeUndefined();
    expect(await db(env).select().from(refreshSessions).where(eq(refreshSessions.id, u.sid)).get()).toBeDefined();
  });
});

describe('retention (housekeeping cron)', () => {
  it('unbounded growth: deletes old audit rows, worker events, finished play sessions, stale throttle counters and spent nonces, keeping what is still needed', async () => {
    const d = db(env);
    const u = await makeUser();
    const org = await makeOrg();
    const game = await d.insert(games).values({ slug: `ret-${crypto.randomUUID().slice(0, 6)}`, name: 'Retention' }).returning().get();
    const source = await d.insert(sources).values({ driver: 'chaturbate', username: `ret-${crypto.randomUUID().slice(0, 6)}` }).returning().get();
    const marker = crypto.randomUUID();
    await d.insert(auditLog).values([
      { ts: ago(400 * DAY), action: 'test.old', details: marker },
      { ts: ago(10 * DAY), action: 'test.recent', details: marker },
    ]).run();
    await d.insert(workerEvents).values([
      { sourceId: source.id, eventType: 'exit', ts: ago(31 * DAY) },
      { sourceId: source.id, eventType: 'start', ts: ago(1 * DAY) },
    ]).run();
    const base = { orgId: org.id, userId: u.id, gameId: game.id };
    await d.insert(playSessions).values([
      { id: 9_000_001, ...base, status: 'ended', createdAt: ago(100 * DAY), endedAt: ago(95 * DAY) },
      { id: 9_000_002, ...base, status: 'terminated', createdAt: ago(10 * DAY), endedAt: ago(10 * DAY) },
      // A live session is the allocator's, however old.
      { id: 9_000_003, ...base, status: 'active', createdAt: ago(200 * DAY) },
    ]).run();
    await d.insert(loginThrottle).values([
      { usernameDigest: `old-${marker}`, failures: 3, windowStartedAt: ago(2 * DAY) },
      { usernameDigest: `locked-${marker}`, failures: 10, windowStartedAt: ago(2 * DAY), lockedUntil: new Date(Date.now() + 600_000).toISOString() },
      { usernameDigest: `fresh-${marker}`, failures: 1, windowStartedAt: ago(60_000) },
    ]).run();
    await d.insert(openidNonces).values([
      { nonce: `old-${marker}`, seenAt: ago(2 * DAY) },
      { nonce: `fresh-${marker}`, seenAt: ago(3600_000) },
    ]).run();

    await housekeeping();

    expect((await d.select({ a: auditLog.action }).from(auditLog).where(eq(auditLog.details, marker))).map((r) => r.a)).toEqual(['test.recent']);
    expect((await d.select({ t: workerEvents.eventType }).from(workerEvents).where(eq(workerEvents.sourceId, source.id))).map((r) => r.t)).toEqual(['start']);
    expect((await d.select({ id: playSessions.id }).from(playSessions).where(eq(playSessions.orgId, org.id))).map((r) => r.id).sort()).toEqual([9_000_002, 9_000_003]);
    const counters = (await d.select({ k: loginThrottle.usernameDigest }).from(loginThrottle)).map((r) => r.k);
    expect(counters).not.toContain(`old-${marker}`);
    expect(counters).toContain(`locked-${marker}`);
    expect(counters).toContain(`fresh-${marker}`);
    const nonces = (await d.select({ n: openidNonces.nonce }).from(openidNonces)).map((r) => r.n);
    expect(nonces).not.toContain(`old-${marker}`);
    expect(nonces).toContain(`fresh-${marker}`);
  });

  it('deletes in bounded batches: a backlog drains over several runs, never in one statement', async () => {
    const d = db(env);
    const marker = crypto.randomUUID();
    await d.insert(auditLog).values(Array.from({ length: 25 }, (_, i) => ({ ts: ago(500 * DAY + i * 1000), action: 'test.backlog', details: marker }))).run();
    const left = async () => (await d.select({ n: sql<number>`COUNT(*)` }).from(auditLog).where(eq(auditLog.details, marker)).get())!.n;
    await housekeeping({ RETENTION_BATCH_ROWS: '2' });
    expect(await left()).toBe(5); // 10 batches of 2 per run
    await housekeeping({ RETENTION_BATCH_ROWS: '2' });
    expect(await left()).toBe(0);
  });

  it('keeps a table for ever when its retention is 0 days', async () => {
    const d = db(env);
    const marker = crypto.randomUUID();
    await d.insert(auditLog).values({ ts: ago(5000 * DAY), action: 'test.forever', details: marker }).run();
    await housekeeping({ RETENTION_AUDIT_LOG_DAYS: '0' });
    expect((await d.select().from(auditLog).where(eq(auditLog.details, marker))).length).toBe(1);
  });
});
