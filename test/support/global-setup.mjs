// Runs in Node before the Workers test pool starts: starts the scripted fake overseer (DVR tests)
// on the port vitest.config.mts picked and bound into the Worker as OVERSEER_URL.
import { startFakeOverseer } from './fake-overseer.mjs';
import { testSecrets } from './secrets.mjs';

export default async function setup() {
  const port = Number(process.env.FAKE_OVERSEER_PORT);
  if (!port) return;
  // The fake checks the shared secret the Worker must send on every upgrade.
  const fake = await startFakeOverseer({ port, token: testSecrets.OVERSEER_TOKEN });
  return async () => fake.close();
}
