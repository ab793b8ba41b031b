// Starts one fresh local stack (own persistence dir, free port, development overseer, demo seed)
// for the browser tests, and hands its URL and demo credentials to the specs via `inject('stack')`.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { freePort, startStack } from '../../../tools/stack.mjs';

// Must not contain the username ("admin"): the password policy refuses that.
export const ADMIN_PASSWORD = 'e2e-console-passphrase-4821';

export default async function setup({ provide }) {
  const persistTo = mkdtempSync(join(tmpdir(), 'edgeplane-e2e-'));
  const stack = await startStack({ port: await freePort(), persistTo, quiet: true, adminPassword: ADMIN_PASSWORD });
  provide('stack', { url: stack.url, credentials: stack.credentials, persistTo });
  return async () => {
    await stack.stop();
    rmSync(persistTo, { recursive: true, force: true });
  };
}
