// Runs in Node before the Workers test pool starts: starts the scripted fake overseer (DVR tests)
// on the port vitest.config.mts picked and bound into the Worker as OVERSEER_URL, and the three
// fakes of the fleet project (test/dvr/fleet.test.ts, OVERSEER_URLS) on FAKE_FLEET_PORTS.
// Both projects list this setup; the fakes are started once per vitest process.
import { startFakeOverseer } from './fake-overseer.mjs';
import { testSecrets } from './secrets.mjs';

export default async function setup() {
  // Each project loads this module anew: the guard lives on the process, not in the module.
  if (globalThis.__edgeplaneFakeOverseers) return;
  const started = (globalThis.__edgeplaneFakeOverseers = (async () => {
    const ports = [Number(process.env.FAKE_OVERSEER_PORT), ...String(process.env.FAKE_FLEET_PORTS ?? '').split(',').map(Number)].filter(Boolean);
    // The fakes check the shared secret the Worker must send on every upgrade.
    return Promise.all(ports.map((port, i) => startFakeOverseer({ port, token: testSecrets.OVERSEER_TOKEN, taskPrefix: i === 0 ? 'task' : `fleet${i}` })));
  })());
  const fakes = await started;
  return async () => {
    await Promise.all(fakes.map((f) => f.close()));
  };
}
