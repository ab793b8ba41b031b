/**
 * The DVR config (contract §3.7): the 19 keys, their defaults, the zod schema `PUT /api/config`
 * validates with, and loading from the one D1 row (`config`, id = 1). Also what the overseer link
 * derives from it: recorder params (§5.4), the retry policy (§5.2) and the reconcile timing.
 *
 *   const cfg = await loadConfig(db(env));
 *   send({ type: 'start', ..., params: recorderParams(cfg, 'alice'), retry_policy: retryPolicy(cfg) });
 */
import { z } from '@hono/zod-openapi';
import type { Db } from '../db/client';
import { isDurationOrEmpty, parseGoDuration } from './durations';
import { storedConfigData } from './queries';

const duration = () => z.string().max(64).refine(isDurationOrEmpty, 'must be a Go duration such as 30s, 5m or 1h30m');
const text = () => z.string().max(4096);
const count = () => z.number().int().min(0).max(1_000_000);

/** PUT is a full replacement: omitted keys become empty values (contract §3.7), unknown keys are
 * dropped. Values are validated, unlike the reference: a bad duration would break the overseer link. */
export const ConfigSchema = z
  .object({
    resolution: count().default(0),
    framerate: count().default(0),
    out_pattern: text().default(''),
    log_pattern: text().default(''),
    segment_length: duration().default(''),
    check_interval: duration().default(''),
    retry_delay: duration().default(''),
    segment_timeout: duration().default(''),
    recording_timeout: duration().default(''),
    log_level: z.string().max(32).default(''),
    output_format: z.string().max(32).default(''),
    user_agent: text().default(''),
    cookies: z.string().max(16_384).default(''),
    restart_delay: duration().default(''),
    reconcile_interval: duration().default(''),
    start_concurrency: z.number().int().min(0).max(100).default(0),
    error_threshold: count().default(0),
    error_window: duration().default(''),
    driver_urls: z
      .record(z.string().min(1).max(64), z.string().max(2048))
      .refine((m) => Object.keys(m).length <= 64, 'at most 64 drivers')
      .nullable()
      .default(null),
  })
  .openapi('DvrConfig');

export type DvrConfig = z.output<typeof ConfigSchema>;

export const DEFAULT_DRIVER_URLS: Record<string, string> = {
  chaturbate: 'https://chaturbate.com/{{.Username}}/',
  stripchat: 'https://stripchat.com/{{.Username}}',
};

export const DEFAULT_CONFIG: DvrConfig = {
  resolution: 720,
  framerate: 30,
  out_pattern:
    '/data/recordings/{{.Driver}}/{{.Source}}/{{.Session.Year}}-{{.Session.Month}}-{{.Session.Day}}_{{.Session.Hour}}-{{.Session.Minute}}-{{.Session.Second}}/{{.Recording.Year}}-{{.Recording.Month}}-{{.Recording.Day}}_{{.Recording.Hour}}-{{.Recording.Minute}}-{{.Recording.Second}}',
  log_pattern: '',
  segment_length: '5m',
  check_interval: '1m',
  retry_delay: '5s',
  segment_timeout: '5m',
  recording_timeout: '30m',
  log_level: 'error',
  output_format: 'json',
  user_agent: '',
  cookies: '',
  restart_delay: '30s',
  reconcile_interval: '60s',
  start_concurrency: 5,
  error_threshold: 5,
  error_window: '5m',
  driver_urls: { ...DEFAULT_DRIVER_URLS },
};

/** Stored keys override the defaults; a stored `driver_urls` map is merged into the default map
 * unless it is stored as null (contract §3.7). Unparseable rows fall back to the defaults. */
export function mergeStored(data: string | null | undefined): DvrConfig {
  if (!data) return structuredClone(DEFAULT_CONFIG);
  let stored: unknown;
  try {
    stored = JSON.parse(data);
  } catch {
    return structuredClone(DEFAULT_CONFIG);
  }
  if (typeof stored !== 'object' || stored === null) return structuredClone(DEFAULT_CONFIG);
  const out: DvrConfig = structuredClone(DEFAULT_CONFIG);
  const shape = ConfigSchema.shape;
  for (const key of Object.keys(shape) as (keyof DvrConfig)[]) {
    if (!(key in stored)) continue;
    const parsed = shape[key].safeParse((stored as Record<string, unknown>)[key]);
    if (!parsed.success) continue;
    if (key === 'driver_urls') {
      const urls = parsed.data as DvrConfig['driver_urls'];
      out.driver_urls = urls === null ? null : { ...DEFAULT_DRIVER_URLS, ...urls };
    } else {
      (out as Record<string, unknown>)[key] = parsed.data;
    }
  }
  return out;
}

export async function loadConfig(d: Db): Promise<DvrConfig> {
  return mergeStored(await storedConfigData(d));
}

/** The drivers a subscription may name (`DVR_DRIVERS`, comma-separated). A Set, so a driver such
 * as `constructor` is only ever compared, never looked up on an object. */
export function configuredDrivers(env: Pick<Env, 'DVR_DRIVERS'>): Set<string> {
  return new Set(
    String(env.DVR_DRIVERS ?? '')
      .split(',')
      .map((d) => d.trim())
      .filter(Boolean),
  );
}

/** `canonical_url`: the driver's template with `{{.Username}}` replaced, or undefined. */
export function canonicalUrl(cfg: Pick<DvrConfig, 'driver_urls'>, driver: string, username: string): string | undefined {
  // Own keys only: a driver named `constructor` or `toString` must not find Object.prototype's.
  const urls = cfg.driver_urls;
  const tpl = urls && Object.hasOwn(urls, driver) ? urls[driver] : undefined;
  // A function replacement: the username is inserted literally (a string one would expand `$&`).
  return typeof tpl === 'string' && tpl ? tpl.replaceAll('{{.Username}}', () => username) : undefined;
}

/** The nine string params of a recorder start (contract §5.4). */
export function recorderParams(cfg: DvrConfig, username: string): Record<string, string> {
  return {
    source: username,
    out: cfg.out_pattern,
    segment_length: cfg.segment_length || '0',
    check_interval: cfg.check_interval,
    resolution: String(cfg.resolution),
    framerate: String(cfg.framerate),
    cookies: cfg.cookies,
    user_agent: cfg.user_agent,
    heartbeat_interval: '30s',
  };
}

export interface RetryPolicy {
  restart_delay?: string;
  error_window?: string;
  error_threshold?: number;
}

/** The overseer retry policy (contract §5.2): every key omitted when empty or zero. */
export function retryPolicy(cfg: DvrConfig): RetryPolicy {
  const out: RetryPolicy = {};
  if (cfg.restart_delay) out.restart_delay = cfg.restart_delay;
  if (cfg.error_window) out.error_window = cfg.error_window;
  if (cfg.error_threshold) out.error_threshold = cfg.error_threshold;
  return out;
}

/** The error window the monitors apply: window in ms (0 = all time) and the exit threshold (0 = never). */
export function errorWindow(cfg: DvrConfig): { windowMs: number; threshold: number } {
  return { windowMs: parseGoDuration(cfg.error_window) ?? 0, threshold: cfg.error_threshold };
}

/** Periodic reconcile period; invalid, empty or sub-second values → 60 s. */
export function reconcileIntervalMs(cfg: DvrConfig): number {
  const ms = parseGoDuration(cfg.reconcile_interval);
  return ms !== null && ms >= 1000 ? ms : 60_000;
}

export function startConcurrency(cfg: DvrConfig): number {
  return cfg.start_concurrency > 0 ? cfg.start_concurrency : 5;
}

/** Segment length in seconds for filestat's minute estimate (empty/unparseable → 300). */
export function segmentSeconds(cfg: DvrConfig): number {
  const ms = parseGoDuration(cfg.segment_length);
  return ms === null ? 300 : ms / 1000;
}
