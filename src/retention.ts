/**
 * Retention: the housekeeping cron deletes what has outlived its use, in bounded batches so that
 * one run never holds D1 for long and a backlog drains over a few runs.
 *
 * | table | kept | var (default) |
 * | --- | --- | --- |
 * | `audit_log` | rows younger than | `RETENTION_AUDIT_LOG_DAYS` (365) |
 * | `worker_events` | rows younger than | `RETENTION_WORKER_EVENTS_DAYS` (30) |
 * | `play_sessions` | live sessions, and finished ones younger than | `RETENTION_PLAY_SESSIONS_DAYS` (90) |
 * | `login_throttle` | counters whose window or lock is still running | (the login and registration windows) |
 * | `openid_nonces` | nonces younger than 24 h (replay protection) | — |
 * | `webhook_deliveries` | delivery log rows younger than | `RETENTION_WEBHOOK_DELIVERIES_DAYS` (30) |
 *
 * `RETENTION_BATCH_ROWS` (1000) rows per statement, at most `MAX_BATCHES` statements per table per
 * run. `0` days keeps a table for ever.
 *
 *   const deleted = await runRetention(env); // { audit_log: 12, worker_events: 0, ... }
 */
import { and, asc, inArray, isNotNull, isNull, lt, notInArray, or, type SQL } from 'drizzle-orm';
import type { SQLiteColumn, SQLiteTable } from 'drizzle-orm/sqlite-core';
import { changes, db } from './db/client';
import { auditLog, loginThrottle, openidNonces, playSessions, webhookDeliveries, workerEvents } from './db/schema';
import { world } from './world';

const DAY = 24 * 3600_000;
const MAX_BATCHES = 10;
const NONCE_TTL_MS = DAY;

function intVar(raw: string | undefined, fallback: number): number {
  const n = Number.parseInt(raw ?? '', 10);
  return Number.isInteger(n) && n >= 0 ? n : fallback;
}

export interface RetentionSettings {
  auditLogDays: number;
  workerEventsDays: number;
  playSessionsDays: number;
  batchRows: number;
}

export function retentionSettings(env: Env): RetentionSettings {
  return {
    auditLogDays: intVar(env.RETENTION_AUDIT_LOG_DAYS, 365),
    workerEventsDays: intVar(env.RETENTION_WORKER_EVENTS_DAYS, 30),
    playSessionsDays: intVar(env.RETENTION_PLAY_SESSIONS_DAYS, 90),
    batchRows: Math.min(Math.max(intVar(env.RETENTION_BATCH_ROWS, 1000), 1), 10_000),
  };
}

/** Deletes the rows matching `where`, oldest first, `rows` at a time, up to MAX_BATCHES statements. */
async function drain(env: Env, table: SQLiteTable, key: SQLiteColumn, order: SQLiteColumn, where: SQL, rows: number): Promise<number> {
  const d = db(env);
  let total = 0;
  for (let i = 0; i < MAX_BATCHES; i++) {
    // D1 has no DELETE ... LIMIT: the batch is chosen by key in a subquery.
    const res = await d.delete(table).where(inArray(key, d.select({ k: key }).from(table).where(where).orderBy(asc(order)).limit(rows))).run();
    const n = changes(res);
    total += n;
    if (n < rows) break;
  }
  return total;
}

const cutoff = (days: number) => new Date(world.now() - days * DAY).toISOString();

export async function runRetention(env: Env): Promise<Record<string, number>> {
  const s = retentionSettings(env);
  const out: Record<string, number> = {};
  if (s.auditLogDays > 0) out.audit_log = await drain(env, auditLog, auditLog.id, auditLog.ts, lt(auditLog.ts, cutoff(s.auditLogDays)), s.batchRows);
  if (s.workerEventsDays > 0) {
    out.worker_events = await drain(env, workerEvents, workerEvents.id, workerEvents.ts, lt(workerEvents.ts, cutoff(s.workerEventsDays)), s.batchRows);
  }
  if (s.playSessionsDays > 0) {
    // Only finished sessions: a live one is the allocator's and is never removed here.
    const finished = and(notInArray(playSessions.status, ['provisioning', 'active']), isNotNull(playSessions.endedAt), lt(playSessions.endedAt, cutoff(s.playSessionsDays)))!;
    out.play_sessions = await drain(env, playSessions, playSessions.id, playSessions.endedAt, finished, s.batchRows);
  }
  // A counter matters while its window runs (the longest: login lockout or registration window)
  // or while it holds a lock.
  const windowMs = Math.max(intVar(env.LOGIN_LOCKOUT_SECONDS, 900), intVar(env.REGISTER_WINDOW_SECONDS, 3600)) * 1000;
  const now = new Date(world.now()).toISOString();
  const stale = and(lt(loginThrottle.windowStartedAt, new Date(world.now() - windowMs).toISOString()), or(isNull(loginThrottle.lockedUntil), lt(loginThrottle.lockedUntil, now)))!;
  out.login_throttle = await drain(env, loginThrottle, loginThrottle.usernameDigest, loginThrottle.windowStartedAt, stale, s.batchRows);
  out.openid_nonces = await drain(env, openidNonces, openidNonces.nonce, openidNonces.seenAt, lt(openidNonces.seenAt, new Date(world.now() - NONCE_TTL_MS).toISOString()), s.batchRows);
  const hookDays = intVar(env.RETENTION_WEBHOOK_DELIVERIES_DAYS, 30);
  if (hookDays > 0) out.webhook_deliveries = await drain(env, webhookDeliveries, webhookDeliveries.id, webhookDeliveries.createdAt, lt(webhookDeliveries.createdAt, cutoff(hookDays)), s.batchRows);
  return out;
}
