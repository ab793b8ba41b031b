/**
 * The URL space declared in src/http/paths.ts against the routes the app really serves: every
 * documented operation (and the undocumented media, thumbnail and launcher-shell paths) reaches
 * the Worker before the static assets, and no `run_worker_first` pattern is left over from a
 * route that no longer exists (a dead pattern hides a dashboard file of the same name).
 */
import { describe, expect, it } from 'vitest';
import { LAUNCHER_SHELL_PATHS, matchesWorkerFirst, RUN_WORKER_FIRST } from '../../src/http/paths';
import { call, json } from '../support/http';

/** Served by the Worker but not in /openapi.json (streamed files and the launcher's page). */
const UNDOCUMENTED = ['/media/subscriptions/1/recording.mp4', '/thumbnails/chaturbate/alice.jpg', ...LAUNCHER_SHELL_PATHS];

async function servedPaths(): Promise<string[]> {
  const doc = await json<{ paths: Record<string, unknown> }>(await call('GET', '/openapi.json'));
  // A sample value for each `{param}`: what a client would really send there.
  const documented = Object.keys(doc.paths).map((p) => p.replace(/\{[^}]+\}/g, '1'));
  return [...documented, '/openapi.json', ...UNDOCUMENTED];
}

describe('run_worker_first (src/http/paths.ts, mirrored in wrangler.toml)', () => {
  it('sends every documented route, media, thumbnails and the launcher shell to the Worker', async () => {
    const paths = await servedPaths();
    expect(paths.length).toBeGreaterThan(50);
    const missed = paths.filter((p) => !RUN_WORKER_FIRST.some((pattern) => matchesWorkerFirst(pattern, p)));
    expect(missed).toEqual([]);
  });

  it('has no pattern that matches no route', async () => {
    const paths = await servedPaths();
    const dead = RUN_WORKER_FIRST.filter((pattern) => !paths.some((p) => matchesWorkerFirst(pattern, p)));
    expect(dead).toEqual([]);
  });

  it('matches a wildcard pattern below its prefix only', () => {
    expect(matchesWorkerFirst('/orgs/*', '/orgs/1/members')).toBe(true);
    expect(matchesWorkerFirst('/orgs/*', '/orgs')).toBe(false);
    expect(matchesWorkerFirst('/orgs', '/orgs/1')).toBe(false);
    expect(matchesWorkerFirst('/openapi.json', '/openapiXjson')).toBe(false);
  });
});
