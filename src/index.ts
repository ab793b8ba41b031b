/**
 * Worker entry: `fetch` → the Hono app, `scheduled` → cron jobs, and the Durable Object classes.
 */
import { app } from './app';
import { runScheduled } from './scheduled';

export { OrgAllocator } from '../durable-objects/org-allocator';
export { SourceMonitor } from '../durable-objects/source-monitor';
export { OverseerLink } from '../durable-objects/overseer-link';

export default {
  fetch: app.fetch,
  scheduled(controller, env, ctx) {
    ctx.waitUntil(runScheduled(controller, env));
  },
} satisfies ExportedHandler<Env>;
