import { createExecutionContext, createScheduledController, env, waitOnExecutionContext } from 'cloudflare:test';
import { eq } from 'drizzle-orm';
import { describe, expect, it } from 'vitest';
import { db } from '../../src/db/client';
import { authSessions } from '../../src/db/schema';
import worker from '../../src/index';
import { makeUser } from '../support/users';

describe('housekeeping cron', () => {
  it('purges refresh sessions whose login expired more than a day ago and keeps live ones', async () => {
    const u = await makeUser();
    const old = new Date(Date.now() - 3 * 24 * 3600_000).toISOString();
    await db(env)
      .insert(authSessions)
      .values({ id: 'expired-session', familyId: 'expired-family', userId: u.id, tokenHash: 'h-expired', client: 'launcher', expiresAt: old, familyExpiresAt: old })
      .run();
    const ctx = createExecutionContext();
    await worker.scheduled(createScheduledController({ cron: '*/5 * * * *', scheduledTime: Date.now() }), env, ctx);
    await waitOnExecutionContext(ctx);
    expect(await db(env).select().from(authSessions).where(eq(authSessions.id, 'expired-session')).get()).toBeUndefined();
    expect(await db(env).select().from(authSessions).where(eq(authSessions.id, u.sid)).get()).toBeDefined();
  });
});
