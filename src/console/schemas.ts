/**
 * Console response shapes used by more than one router (contract `shared/contracts/console-api.md` §2),
 * plus the small input pieces and D1 error helpers the console routers share.
 * Route-specific schemas live with their router.
 *
 *   responses: { 200: json(z.array(AppTileSchema), 'Tiles') }
 *   try { await d.batch([...]) } catch (e) { if (isUniqueViolation(e)) throw new Conflict('...'); throw e; }
 */
import { z } from '../http/openapi';

export const AppTileSchema = z
  .object({
    id: z.string(),
    name: z.string(),
    moonlight_name: z.string(),
    enabled: z.boolean(),
    sort_order: z.number().int(),
    description: z.string().nullable(),
    cover_url: z.string().nullable(),
    chart_rank: z.number().int().nullable(),
    chart_date: z.string().nullable(),
    game_id: z.number().int().nullable(),
    installed: z.boolean().openapi({ description: 'Install ready for the caller’s org (false when anonymous)' }),
    owned: z.boolean().openapi({ description: 'A verified library entry of the caller in the org' }),
    steam_appid: z.number().int().nullable(),
  })
  .openapi('AppTile');

export const OrgOutSchema = z
  .object({ id: z.number().int(), slug: z.string(), name: z.string(), role: z.string() })
  .openapi('OrgOut');

export const SettingsObject = z.record(z.string(), z.unknown());

/** Contract §2.3, plus nothing: the launcher parses it with defaults. */
export const GameSummarySchema = z
  .object({
    id: z.number().int(),
    slug: z.string(),
    name: z.string(),
    description: z.string().nullable(),
    rating: z.number().nullable(),
    cover_url: z.string().nullable(),
    external_ids: z.record(z.string(), z.string()),
  })
  .openapi('GameSummary');

/** An app's id (a path param and a body field): what the launcher and Moonlight use as a key. */
export const AppIdParam = z
  .string()
  .min(1)
  .max(64)
  .regex(/^[A-Za-z0-9][A-Za-z0-9_.-]*$/, 'app id: letters, digits, "_", "." and "-" only');

export const OrgRoleSchema = z.enum(['owner', 'admin', 'member']);

/** An optional `org_id` in a query string. */
export const OptionalOrgQuery = z
  .string()
  .regex(/^[0-9]{1,16}$/, 'must be a positive integer')
  .transform(Number)
  .refine((n) => n > 0 && Number.isSafeInteger(n), 'must be a positive integer')
  .optional();

/** Text a person typed: no control characters (newlines allowed in notes only), trimmed. */
export function cleanText(max: number, opts: { multiline?: boolean; min?: number } = {}) {
  const bad = opts.multiline ? /[\u0000-\u0009\u000b-\u001f\u007f\u202a-\u202e\u2066-\u2069]/u : /[\u0000-\u001f\u007f\u202a-\u202e\u2066-\u2069]/u;
  return z
    .string()
    .trim()
    .min(opts.min ?? 1)
    .max(max)
    .refine((s) => !bad.test(s), 'contains control characters');
}

export { isForeignKeyViolation, isUniqueViolation } from '../db/errors';

/** `security` of a route that serves anyone and says more to a signed-in caller (OpenAPI: `{}` = no credentials). */
export const OPTIONAL_BEARER: Array<Record<string, string[]>> = [{}, { bearer: [] }];
