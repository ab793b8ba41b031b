/**
 * Worker entry: `fetch` → the Hono app, `scheduled` → cron jobs, `queue` → the consumer of each
 * queue (by name), and the Durable Object classes.
 */
import { app } from './app';
import { ENRICH_QUEUE_NAME, handleEnrichmentBatch } from './console/enrichment/jobs';
import { createLogger } from './http/log';
import { handleWebhookBatch } from './notifications/delivery';
import { WEBHOOK_QUEUE_NAME } from './notifications/publish';
import { runScheduled } from './scheduled';

export { OrgAllocator } from '../durable-objects/org-allocator';
export { SourceMonitor } from '../durable-objects/source-monitor';
export { OverseerLink } from '../durable-objects/overseer-link';

export default {
  fetch: app.fetch,
  scheduled(controller, env, ctx) {
    ctx.waitUntil(runScheduled(controller, env));
  },
  async queue(batch, env) {
    // By name (an environment's queue carries a suffix, e.g. `edgeplane-enrichment-staging`).
    if (batch.queue === ENRICH_QUEUE_NAME || batch.queue.startsWith(`${ENRICH_QUEUE_NAME}-`)) return handleEnrichmentBatch(batch, env);
    if (batch.queue === WEBHOOK_QUEUE_NAME || batch.queue === `${WEBHOOK_QUEUE_NAME}-staging`) return handleWebhookBatch(batch, env);
    createLogger({ queue: batch.queue }).error('no consumer for this queue: messages retried');
    batch.retryAll();
  },
} satisfies ExportedHandler<Env>;
