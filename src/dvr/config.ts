/**
 * `GET|PUT /api/config` (contract §3.7), mounted at `/api/config`, admin only. PUT is a full replacement (omitted keys become
 * empty values, as the dashboard expects), but unlike the reference every value is validated: a
 * duration that does not parse is a 400 here instead of a broken overseer connection later. Every
 * change is audited with the names of the keys that changed (never the values: `cookies` is a
 * secret) in the same atomic batch as the write.
 *
 *   PUT /api/config {...GET /api/config, "error_threshold": 3}  → 200 the stored config
 */
import { createRoute } from '@hono/zod-openapi';
import { requireAdmin, requireUser } from '../auth/middleware';
import { auditStatement } from '../auth/audit';
import { db } from '../db/client';
import { BadRequest } from '../http/errors';
import { describeIssues, errors, json, jsonBody, newRouter } from '../http/openapi';
import { overseerLink } from './overseer';
import { putConfigStatement } from './queries';
import { ConfigSchema, loadConfig, type DvrConfig } from './settings';

const tags = ['dvr config'];

/** Type mismatches are the contract's `invalid JSON`; a value that breaks a rule says which. */
function configHook(result: { success: boolean; error?: { issues: readonly { path: PropertyKey[]; message: string; code: string }[] } }): undefined {
  if (result.success || !result.error) return undefined;
  const issues = result.error.issues;
  const details = describeIssues(issues);
  const rule = issues.find((i) => i.code !== 'invalid_type' && i.path.length > 0);
  if (!rule || issues.some((i) => i.code === 'invalid_type')) throw new BadRequest('invalid JSON', 'invalid_json', details);
  throw new BadRequest(`${rule.path.map(String).join('.')}: ${rule.message}`, 'validation_failed', details);
}

function changedKeys(before: DvrConfig, after: DvrConfig): string[] {
  return (Object.keys(after) as (keyof DvrConfig)[]).filter((k) => JSON.stringify(before[k]) !== JSON.stringify(after[k]));
}

const security = [{ bearer: [] }];

export const configRoutes = newRouter()
  .openapi(
    createRoute({
      method: 'get',
      path: '/',
      operationId: 'getDvrConfig',
      tags,
      security,
      summary: 'The recorder configuration (19 keys, defaults filled in)',
      middleware: [requireUser, requireAdmin],
      responses: { 200: json(ConfigSchema, 'Config'), ...errors(401, 403) },
    }),
    async (c) => c.json(await loadConfig(db(c.env)), 200),
  )
  .openapi(
    createRoute({
      method: 'put',
      path: '/',
      operationId: 'replaceDvrConfig',
      tags,
      security,
      summary: 'Replace the configuration; applies to the next recorder start',
      middleware: [requireUser, requireAdmin],
      request: { body: jsonBody(ConfigSchema) },
      responses: { 200: json(ConfigSchema, 'The new config'), ...errors(400, 401, 403) },
    }),
    async (c) => {
      const next = c.req.valid('json');
      const d = db(c.env);
      const before = await loadConfig(d);
      await d.batch([
        putConfigStatement(d, JSON.stringify(next)),
        auditStatement(c, 'dvr.config.update', { targetType: 'config', targetId: 1, details: { changed: changedKeys(before, next) } }),
      ]);
      await overseerLink(c.env).configChanged();
      return c.json(next, 200);
    },
    configHook,
  );
