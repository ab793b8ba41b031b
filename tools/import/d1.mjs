// The import target: a D1 database reached through `wrangler d1 execute` (local state or remote),
// so the importer needs no credentials of its own and writes exactly as migrations do.
//
//   const d1 = wranglerD1({ remote: false, persistTo: '.wrangler/state' });
//   const [rows] = await d1.query(['SELECT slug FROM orgs']);
//   await d1.executeFile('/tmp/import.sql');
import { spawnSync } from 'node:child_process';
import { join } from 'node:path';
import { ROOT } from '../stack.mjs';

export function wranglerD1({ remote = false, persistTo, env, database = 'DB' } = {}) {
  const bin = process.env.WRANGLER_BIN ?? join(ROOT, 'node_modules', '.bin', 'wrangler');
  const base = ['d1', 'execute', database, remote ? '--remote' : '--local', ...(persistTo && !remote ? ['--persist-to', persistTo] : []), ...(env ? ['--env', env] : [])];
  const run = (args) => {
    const r = spawnSync(bin, [...base, ...args], { cwd: ROOT, encoding: 'utf8', maxBuffer: 256 * 1024 * 1024, env: { ...process.env, WRANGLER_SEND_METRICS: 'false' } });
    if (r.status !== 0) throw new Error(`wrangler d1 execute failed:\n${(r.stderr || r.stdout).slice(-2000)}`);
    return r.stdout;
  };
  return {
    where: remote ? `remote D1${env ? ` (${env})` : ''}` : `local D1 (${persistTo ?? '.wrangler/state'})`,
    /** Runs read statements in one call; one array of rows per statement. */
    async query(statements) {
      const out = run(['--json', '--command', statements.join(';\n')]);
      const parsed = JSON.parse(out);
      return parsed.map((r) => r.results ?? []);
    },
    /** Applies a SQL file (D1 runs it as one batch: all of it or none). */
    async executeFile(file) {
      run(['--yes', '--file', file]);
    },
  };
}
