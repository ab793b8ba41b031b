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
 * run. `0` days keeps a table for ever. This is the job list; the statements are
 * src/db/batch-delete.ts.
 *
 *   const deleted = await runRetention(env); // { audit_log: 12, worker_events: 0, ... }
 */
import { db } from './db/client';
import { deleteInBatches, finishedPlaySessions, olderThan, staleThrottleCounters } from './db/batch-delete';
import { auditLog, openidNonces, webhookDeliveries, workerEvents } from './db/schema';
import { world } from './world';

const DAY = 24 * 3600_000;
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

const before = (ms: number) => new Date(world.now() - ms).toISOString();

export async function runRetention(env: Env): Promise<Record<string, number>> {
  const s = retentionSettings(env);
  const d = db(env);
  const out: Record<string, number> = {};
  if (s.auditLogDays > 0) out.audit_log = await deleteInBatches(d, olderThan(auditLog, auditLog.id, auditLog.ts, before(s.auditLogDays * DAY)), s.batchRows);
  if (s.workerEventsDays > 0) {
    out.worker_events = await deleteInBatches(d, olderThan(workerEvents, workerEvents.id, workerEvents.ts, before(s.workerEventsDays * DAY)), s.batchRows);
  }
  if (s.playSessionsDays > 0) out.play_sessions = await deleteInBatches(d, finishedPlaySessions(before(s.playSessionsDays * DAY)), s.batchRows);
  // The longest window a counter can matter for: the login lockout or the registration window.
  const windowMs = Math.max(intVar(env.LOGIN_LOCKOUT_SECONDS, 900), intVar(env.REGISTER_WINDOW_SECONDS, 3600)) * 1000;
  out.login_throttle = await deleteInBatches(d, staleThrottleCounters(before(windowMs), before(0)), s.batchRows);
  out.openid_nonces = await deleteInBatches(d, olderThan(openidNonces, openidNonces.nonce, openidNonces.seenAt, before(NONCE_TTL_MS)), s.batchRows);
  const hookDays = intVar(env.RETENTION_WEBHOOK_DELIVERIES_DAYS, 30);
  if (hookDays > 0) out.webhook_deliveries = await deleteInBatches(d, olderThan(webhookDeliveries, webhookDeliveries.id, webhookDeliveries.createdAt, before(hookDays * DAY)), s.batchRows);
  return out;
}
