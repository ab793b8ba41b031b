/**
 * SourceMonitor — one per DVR source (`getByName('driver/username')`): the source's memory
 * (worker state, recording state, log tail, error window). Filled in by the DVR work; this
 * skeleton proves the binding, migration and SQLite storage.
 */
import { DurableObject } from 'cloudflare:workers';

export class SourceMonitor extends DurableObject<Env> {
  constructor(ctx: DurableObjectState, env: Env) {
    super(ctx, env);
    ctx.blockConcurrencyWhile(async () => {
      ctx.storage.sql.exec(`CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL)`);
    });
  }

  async ping(): Promise<string> {
    return 'ok';
  }
}
