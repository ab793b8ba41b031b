/**
 * OrgAllocator — one per org (`getByName(String(orgId))`): the strongly consistent owner of the
 * org's live play-session seats. Filled in by the play-session work; this skeleton proves the
 * binding, migration and SQLite storage.
 */
import { DurableObject } from 'cloudflare:workers';

export class OrgAllocator extends DurableObject<Env> {
  constructor(ctx: DurableObjectState, env: Env) {
    super(ctx, env);
    ctx.blockConcurrencyWhile(async () => {
      ctx.storage.sql.exec(`CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL)`);
    });
  }

  /** Liveness probe used by tests and diagnostics. */
  async ping(): Promise<string> {
    return 'ok';
  }
}
