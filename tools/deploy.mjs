// `npm run deploy [-- --env staging]`: remote D1 migrations first (they are additive, so the running
// Worker keeps working), then `wrangler deploy` of the same environment. Without --env: production.
import { spawnSync } from 'node:child_process';
import { join } from 'node:path';
import { ROOT } from './stack.mjs';

const args = process.argv.slice(2);
const envArgs = args[0] === '--env' && args[1] ? ['--env', args[1]] : args[0]?.startsWith('--env=') ? ['--env', args[0].slice(6)] : [];
const wrangler = join(ROOT, 'node_modules', '.bin', 'wrangler');
for (const step of [['d1', 'migrations', 'apply', 'DB', '--remote', ...envArgs], ['deploy', ...envArgs]]) {
  console.log(`$ wrangler ${step.join(' ')}`);
  const r = spawnSync(wrangler, step, { cwd: ROOT, stdio: 'inherit' });
  if (r.status !== 0) process.exit(r.status ?? 1);
}
