/**
 * Console response shapes used by more than one router (contract `shared/contracts/console-api.md` §2).
 * Route-specific schemas live with their router.
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
