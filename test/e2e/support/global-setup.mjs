// Starts one fresh local stack (own persistence dir, free port, development overseer, demo seed)
// for the browser tests, and hands its URL and demo credentials to the specs via `inject('stack')`;
// and one Chromium the spec files connect to (`inject('browserWs')`, support/browser.mjs).
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { freePort, startStack } from '../../../tools/stack.mjs';
import { launchServer } from './browser.mjs';
import { startFakeSteam } from './fake-steam.mjs';

// Must not contain the username ("admin"): the password policy refuses that.
export const ADMIN_PASSWORD = 'e2e-console-passphrase-4821';

export default async function setup({ provide }) {
  const persistTo = mkdtempSync(join(tmpdir(), 'edgeplane-e2e-'));
  // Steam is a local double: the Worker's Steam endpoints point at it through [vars]. Webhooks may
  // reach the receivers the specs start on loopback (WEBHOOKS_ALLOW_PRIVATE). Passwords are hashed
  // at scrypt's lowest cost the Worker accepts (2^10 instead of 2^14): every sign-in and new user
  // of the specs paid ~16 times the CPU for a strength no test is about. Nodes go offline after
  // 18 s without a heartbeat instead of 30 s, so node agents beat every 6 s instead of 10 s (the
  // interval is a third of it): a play session reaches its node, and a DELETE stops it, sooner.
  // The specs that heartbeat by hand do it every 5 s.
  const steam = await startFakeSteam();
  // One Chromium for every spec file (support/browser.mjs `launch()` connects to it), started
  // while the stack starts.
  const starting = launchServer();
  starting.catch(() => {}); // awaited below: no unhandled rejection while the stack starts
  // Logs: nobody reads the quiet stack's output but for the tail printed when wrangler dies, so the
  // Worker writes warnings and errors only (LOG_LEVEL=warn: no `info` line for each 4xx or slow
  // request), and wrangler (`--log-level warn`) skips its line per request, which its entry worker
  // sent to wrangler's Node process as one more local HTTP request each.
  const vars = { ...steam.vars, WEBHOOKS_ALLOW_PRIVATE: 'true', PASSWORD_SCRYPT_LOG_N: '10', NODE_OFFLINE_AFTER_SECONDS: '18', LOG_LEVEL: 'warn' };
  const wranglerArgs = ['--log-level', 'warn'];
  // The development overseer's recorders encode ffmpeg's test picture for the whole run (a fifth of
  // the phase's CPU at 640x360:15, measured): the specs need real, playable media, not a large picture.
  // And each source records one session (`--sessions 1`: a new subscription still records within
  // seconds), then sleeps like an offline one: the demo's three seeded sources and every source a
  // spec added kept recording (a new ffmpeg and ffprobe every 10 s segment, heartbeats every 3 s
  // through the Worker) to the end of the run, a fifth of the phase's CPU though no spec looks at
  // a second session.
  const overseerArgs = ['--video', '320x180:10', '--sessions', '1'];
  // A failed start (the stack's, or Chromium's launch) stops what did start: vitest runs no teardown
  // for a setup that threw, and a `wrangler dev` with its overseer and ffmpeg left behind keeps
  // loading the machine after the run.
  const cleanUp = async (stack) => {
    await stack?.stop().catch(() => {});
    await steam.stop().catch(() => {});
    rmSync(persistTo, { recursive: true, force: true });
  };
  const stack = await startStack({ port: await freePort(), persistTo, quiet: true, adminPassword: ADMIN_PASSWORD, vars, overseerArgs, wranglerArgs }).catch(async (e) => {
    await (await starting.catch(() => null))?.close();
    await cleanUp();
    throw e;
  });
  provide('stack', { url: stack.url, credentials: stack.credentials, persistTo, steamUrl: steam.url });
  const chromium = await starting.catch(async (e) => {
    await cleanUp(stack);
    throw e;
  });
  // Without it every spec file's `launch()` started a Chromium of its own (and this one idled):
  // ~20 browser starts a run, each with its GPU, network and storage processes.
  provide('browserWs', chromium.wsEndpoint());
  return async () => {
    await chromium.close();
    await stack.stop();
    await steam.stop();
    rmSync(persistTo, { recursive: true, force: true });
  };
}
