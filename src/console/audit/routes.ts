/**
 * `GET /audit` — reading the append-only audit log (written by `src/auth/audit.ts`). Platform
 * admins see every entry (optionally one org's); org owners and admins see only their org's
 * entries and must name the org. Filters: actor (user id or username), action (exact, or a prefix
 * ending in `*` such as `org.*`). Newest first, paged by id (`before` = the last id seen).
 *
 *   GET /audit?limit=50                         → { items: [...], next_before: 1234 | null }
 *   GET /audit?org_id=7&action=org.member.*     (org admin of org 7)
 *   GET /audit?actor=alice&before=1234          (platform admin)
 */
import { createRoute } from '@hono/zod-openapi';
import { findUserByName, usernamesOf } from '../../auth/accounts';
import { assertOrgRole, requireUser } from '../../auth/middleware';
import { db } from '../../db/client';
import { Forbidden } from '../../http/errors';
import { errors, IntId, json, newRouter, z } from '../../http/openapi';
import { auditEntries } from './queries';

const AuditQuery = z
  .object({
    org_id: IntId.optional().openapi({ type: 'string', description: 'Only this org’s entries (required for org admins)' }),
    actor: z.string().trim().min(1).max(64).optional().openapi({ description: 'User id or username of who acted' }),
    action: z
      .string()
      .trim()
      .min(1)
      .max(64)
      .regex(/^[a-z0-9_.-]+\*?$/, 'action: letters, digits, "_", "-", "." and an optional trailing *')
      .optional()
      .openapi({ description: 'Exact action, or a prefix ending in * (e.g. org.member.*)' }),
    before: IntId.optional().openapi({ type: 'string', description: 'Page cursor: entries with a smaller id' }),
    limit: z
      .string()
      .regex(/^[0-9]{1,3}$/, 'limit: 1 to 200')
      .transform(Number)
      .refine((n) => n >= 1 && n <= 200, 'limit: 1 to 200')
      .optional(),
  })
  .strict();

const AuditEntryOut = z
  .object({
    id: z.number().int(),
    ts: z.string(),
    actor_user_id: z.number().int().nullable(),
    actor_username: z.string().nullable(),
    action: z.string(),
    target_type: z.string().nullable(),
    target_id: z.string().nullable(),
    org_id: z.number().int().nullable(),
    ip: z.string().nullable().openapi({ description: 'Only for platform admins (null for org admins)' }),
    request_id: z.string().nullable(),
    details: z.unknown().nullable(),
  })
  .openapi('AuditEntry');

const AuditPage = z.object({ items: z.array(AuditEntryOut), next_before: z.number().int().nullable() }).openapi('AuditPage');

function parseDetails(raw: string | null): unknown {
  if (raw === null) return null;
  try {
    return JSON.parse(raw) as unknown;
  } catch {
    return raw;
  }
}

export const auditRoutes = newRouter().openapi(
  createRoute({
    method: 'get',
    path: '/',
    operationId: 'listAuditLog',
    tags: ['audit'],
    summary: 'The audit log, newest first (platform admins: all; org owners/admins: their org with org_id)',
    middleware: [requireUser] as const,
    security: [{ bearer: [] }],
    request: { query: AuditQuery },
    responses: { 200: json(AuditPage, 'One page of entries'), ...errors(400, 401, 403) },
  }),
  async (c) => {
    const q = c.req.valid('query');
    const user = c.get('user');
    const platformAdmin = user.role === 'admin';
    if (!platformAdmin) {
      // Org admins read their own org only; without org_id there is nothing they may see.
      if (q.org_id === undefined) throw new Forbidden('org_id is required unless you are a platform admin', 'org_id_required');
      await assertOrgRole(c, q.org_id, 'admin');
    }
    let actorUserId: number | undefined;
    if (q.actor !== undefined) {
      const id = /^[0-9]{1,16}$/.test(q.actor) ? Number(q.actor) : (await findUserByName(c.env, q.actor)).row?.id;
      if (id === undefined) return c.json({ items: [], next_before: null }, 200);
      actorUserId = id;
    }
    const limit = q.limit ?? 50;
    // One row past the page tells whether another page follows.
    const rows = await auditEntries(db(c.env), { orgId: q.org_id, before: q.before, action: q.action, actorUserId }, limit + 1);
    const page = rows.slice(0, limit);
    const named = page.flatMap((r) => (r.actorUserId !== null && r.usernameEnc !== null && r.usernameDigest !== null ? [{ id: r.actorUserId, usernameEnc: r.usernameEnc, usernameDigest: r.usernameDigest }] : []));
    const names = await usernamesOf(c.env, named);
    const items = page.map((r) => ({
      id: r.id,
      ts: r.ts,
      actor_user_id: r.actorUserId,
      actor_username: r.actorUserId !== null ? (names.get(r.actorUserId) ?? null) : null,
      action: r.action,
      target_type: r.targetType,
      target_id: r.targetId,
      org_id: r.orgId,
      ip: platformAdmin ? r.ip : null,
      request_id: r.requestId,
      details: parseDetails(r.details),
    }));
    return c.json({ items, next_before: rows.length > limit ? (page[page.length - 1]?.id ?? null) : null }, 200);
  },
);
