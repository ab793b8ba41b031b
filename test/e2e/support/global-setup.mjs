// Starts one fresh local stack (own persistence dir, free port, development overseer, demo seed)
// for the browser tests, and hands its URL and demo credentials to the specs via `inject('stack')`.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { freePort, startStack } from '../../../tools/stack.mjs';
import { startFakeSteam } from './fake-steam.mjs';

// Must not contain the username ("admin"): the password policy refuses that.
export const ADMIN_PASSWORD = 'e2e-console-passphrase-4821';

export default async function setup({ provide }) {
  const persistTo = mkdtempSync(join(tmpdir(), 'edgeplane-e2e-'));
  // Steam is a local double: the Worker's Steam endpoints point at it through [vars]. Webhooks may
  // reach the receivers the specs start on loopback (WEBHOOKS_ALLOW_PRIVATE).
  const steam = await startFakeSteam();
  const stack = await startStack({ port: await freePort(), persistTo, quiet: true, adminPassword: ADMIN_PASSWORD, vars: { ...steam.vars, WEBHOOKS_ALLOW_PRIVATE: 'true' } });
  provide('stack', { url: stack.url, credentials: stack.credentials, persistTo, steamUrl: steam.url });
  return async () => {
    await stack.stop();
    await steam.stop();
    rmSync(persistTo, { recursive: true, force: true });
  };
}
