/**
 * Log lines a service manager understands: under systemd (JOURNAL_STREAM is set) each line starts
 * with a syslog priority `<N>` that journald turns into the entry's level; elsewhere (a terminal,
 * a Windows service wrapper writing a log file) each line carries an ISO time and the level.
 * Errors and warnings go to stderr, the rest to stdout.
 *
 *   import { log } from './log.mjs';
 *   log.info('heartbeat ok');  log.warn('unreachable, retrying in 8 s');
 */
const PRIORITY = { error: 3, warn: 4, info: 6, debug: 7 };

function write(level, msg) {
  const stream = level === 'error' || level === 'warn' ? process.stderr : process.stdout;
  const text = String(msg).replace(/\r?\n/g, ' | ');
  if (process.env.JOURNAL_STREAM) stream.write(`<${PRIORITY[level]}>${text}\n`);
  else stream.write(`${new Date().toISOString()} ${level.padEnd(5)} ${text}\n`);
}

let quiet = false;
export const log = {
  error: (m) => write('error', m),
  warn: (m) => write('warn', m),
  info: (m) => quiet || write('info', m),
  debug: (m) => process.env.EDGEPLANE_NODE_DEBUG && write('debug', m),
  /** Tests silence info lines. */
  setQuiet: (q) => (quiet = q),
};
