/**
 * Dev/local launch (`POST /play/{game_id}`, mounted at `/play`): how to start the game on this
 * device, from its install record. Same checks as a cloud play session for the caller (member,
 * verified owner); no seat is taken.
 *
 *   POST /play/3 {"org_id":1,"node_id":4}
 *   → 200 {"launch":{"kind":"deep_link","target":"steam://rungameid/730"},"node_online":true,...}
 */
import { createRoute } from '@hono/zod-openapi';
import { requireUser } from '../../auth/middleware';
import { db } from '../../db/client';
import { Conflict } from '../../http/errors';
import { errors, json, jsonBody, newRouter, z } from '../../http/openapi';
import { nodeOnlineCutoff } from '../nodes/model';
import { localInstall, playContext } from './queries';
import { assertMayPlay, BEARER, GameParams, OrgId, PLAY_TAGS } from './rules';

const PlayLocalBody = z
  .object({
    org_id: OrgId,
    node_id: z.number().int().positive().max(Number.MAX_SAFE_INTEGER).optional().openapi({ description: 'This device’s node, when it runs an agent' }),
  })
  .openapi('PlayLocal');

const PlayLocalOut = z
  .object({
    game_id: z.number().int(),
    org_id: z.number().int(),
    node_id: z.number().int(),
    node_online: z.boolean(),
    launcher: z.string().nullable(),
    install_path: z.string(),
    executable: z.string().nullable(),
    executable_path: z.string().nullable(),
    deep_link: z.string().nullable(),
    launch: z.object({ kind: z.enum(['deep_link', 'executable']), target: z.string() }),
  })
  .openapi('PlayLocalOut');

/** The executable's full path: kept when absolute, else joined to the install path with its own separator. */
function executablePath(installPath: string, executable: string | null): string | null {
  if (!executable) return null;
  if (/^([A-Za-z]:[\\/]|\/)/.test(executable)) return executable;
  const sep = installPath.includes('\\') && !installPath.includes('/') ? '\\' : '/';
  return `${installPath.replace(/[\\/]+$/, '')}${sep}${executable}`;
}

export const playLocalRoutes = newRouter().openapi(
  createRoute({
    method: 'post',
    path: '/{game_id}',
    operationId: 'launchGameLocally',
    tags: PLAY_TAGS,
    summary: 'Dev/local mode: how to launch the game on this device, from its install record',
    description:
      'Same checks as POST /sessions for the caller (member, verified owner). Picks the install on `node_id` when given, else the one on the most recently seen node. A Steam install answers with `steam://rungameid/{appid}`.',
    security: BEARER,
    middleware: [requireUser],
    request: { params: GameParams, body: jsonBody(PlayLocalBody) },
    responses: { 200: json(PlayLocalOut, 'Launch information'), ...errors(400, 401, 403, 404, 409) },
  }),
  async (c) => {
    const { game_id } = c.req.valid('param');
    const body = c.req.valid('json');
    const d = db(c.env);
    assertMayPlay(await playContext(d, body.org_id, c.get('user').id, game_id));
    const row = await localInstall(d, body.org_id, game_id, body.node_id, nodeOnlineCutoff(c.env));
    if (!row) throw new Conflict(body.node_id === undefined ? 'game not installed for organization' : 'game not installed on this node', 'not_installed');
    const path = executablePath(row.installPath, row.executable);
    const deepLink = row.launcher?.toLowerCase() === 'steam' && row.steamAppid && /^[0-9]+$/.test(row.steamAppid) ? `steam://rungameid/${row.steamAppid}` : null;
    const launch = deepLink ? { kind: 'deep_link' as const, target: deepLink } : { kind: 'executable' as const, target: path ?? row.installPath };
    return c.json(
      {
        game_id,
        org_id: body.org_id,
        node_id: row.nodeId,
        node_online: row.online,
        launcher: row.launcher,
        install_path: row.installPath,
        executable: row.executable,
        executable_path: path,
        deep_link: deepLink,
        launch,
      },
      200,
    );
  },
);
