/**
 * Structured logs: one JSON object per line in production, always carrying the request id, so
 * Workers Logs can be filtered by request. Never log secrets, tokens or passwords.
 *
 * `LOG_LEVEL` (`debug|info|warn|error`, default `info`) drops lines below it; `LOG_FORMAT=pretty`
 * (set by `npm start`) prints one compact human line instead of JSON. The settings are per isolate:
 * every entry point calls `configureLogging(env)` first, and a logger reads them when it writes, so
 * module-level loggers follow too.
 *
 *   configureLogging(env);
 *   const log = createLogger({ requestId });
 *   log.info('request', { method: 'GET', path: '/x', status: 404, ms: 3 });
 */
export type LogLevel = 'debug' | 'info' | 'warn' | 'error';
export type LogFormat = 'json' | 'pretty';

export interface Logger {
  debug(msg: string, fields?: Record<string, unknown>): void;
  info(msg: string, fields?: Record<string, unknown>): void;
  warn(msg: string, fields?: Record<string, unknown>): void;
  error(msg: string, fields?: Record<string, unknown>): void;
}

const RANK: Record<LogLevel, number> = { debug: 10, info: 20, warn: 30, error: 40 };
const settings: { min: number; format: LogFormat } = { min: RANK.info, format: 'json' };

/** Applies `LOG_LEVEL` and `LOG_FORMAT` from the bindings; unknown values keep the defaults. */
export function configureLogging(env: { LOG_LEVEL?: string; LOG_FORMAT?: string }): void {
  const level = env.LOG_LEVEL?.toLowerCase();
  settings.min = level && Object.hasOwn(RANK, level) ? RANK[level as LogLevel] : RANK.info;
  settings.format = env.LOG_FORMAT === 'pretty' ? 'pretty' : 'json';
}

export function logEnabled(level: LogLevel): boolean {
  return RANK[level] >= settings.min;
}

function pretty(level: LogLevel, msg: string, fields: Record<string, unknown>): string {
  const { requestId: _id, ...rest } = fields;
  const tail = Object.entries(rest)
    .filter(([, v]) => v !== undefined)
    .map(([k, v]) => `${k}=${typeof v === 'string' ? v : JSON.stringify(v)}`)
    .join(' ');
  return `${level.toUpperCase().padEnd(5)} ${msg}${tail ? ' ' + tail : ''}`;
}

export function createLogger(base: Record<string, unknown>): Logger {
  const emit = (level: LogLevel, msg: string, fields?: Record<string, unknown>) => {
    if (!logEnabled(level)) return;
    const line =
      settings.format === 'pretty'
        ? pretty(level, msg, { ...base, ...fields })
        : JSON.stringify({ level, msg, ...base, ...fields, ts: new Date().toISOString() });
    if (level === 'error') console.error(line);
    else if (level === 'warn') console.warn(line);
    else console.log(line);
  };
  return {
    debug: (m, f) => emit('debug', m, f),
    info: (m, f) => emit('info', m, f),
    warn: (m, f) => emit('warn', m, f),
    error: (m, f) => emit('error', m, f),
  };
}
