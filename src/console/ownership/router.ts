/**
 * Steam ownership: linking a Steam account by OpenID 2.0, and verifying owned games with the
 * Steam Web API (contract §3.19–3.20, rebuilt per §7.6: nothing is self-asserted).
 *
 *   GET  /auth/link/steam/start?org_id=      signed-in user → 302 to Steam (signed state + nonce;
 *                                            a `steam_link` cookie binds the browser that started)
 *   GET  /auth/link/steam/callback?state=&openid.*=   Steam sends the browser back here; a browser is
 *                                            redirected to the dashboard's library page with the
 *                                            outcome, a client asking for JSON gets JSON
 *   GET  /ownership/steam?org_id=            the linked account (SteamID, persona name, avatar)
 *   DELETE /auth/link/steam?org_id=          unlink; every Steam proof of the member is withdrawn
 *   POST /auth/link/steam                    clients that ran the OpenID dance themselves submit
 *                                            `{ state, assertion: { "openid.*": ... } }` — never a bare id;
 *                                            its return_to must be our callback or a configured URL
 *   POST /ownership/verify/steam             `{ org_id? }`: GetOwnedGames for the linked account;
 *                                            unknown appids become catalog stubs queued for
 *                                            enrichment, then everything is mapped in one batch
 *
 * Links are per (org, user) as the schema scopes them, and one Steam account backs at most one
 * member of an org (no sharing a library across a household's accounts).
 */
import { createRoute } from '@hono/zod-openapi';
import type { Context } from 'hono';
import { deleteCookie, getCookie, setCookie } from 'hono/cookie';
import type { AppEnv } from '../../env';
import { audit, auditStatement } from '../../auth/audit';
import { dashboardBase } from '../../auth/device';
import { assertSelfOrAdmin, optionalUser, requireUser } from '../../auth/middleware';
import { membershipRole } from '../../auth/queries/users';
import { changes, db } from '../../db/client';
import { runBatch } from '../../db/helpers';
import { ApiError, Conflict, Forbidden, NotFound } from '../../http/errors';
import { errors, json, jsonBody, newRouter, z } from '../../http/openapi';
import { nowIso } from '../../world';
import { primaryOrgId } from '../tenancy/queries';
import { isForeignKeyViolation, OPTIONAL_BEARER, OptionalOrgQuery } from '../schemas';
import { LibraryEntrySchema, listLibrary } from './entries';
import {
  deleteSteamLinkStatement,
  putSteamLinkStatement,
  refreshEntriesStatement,
  steamAccountHolder,
  steamCatalog,
  steamLink,
  steamProofGames,
  steamVerificationStatements,
  withdrawSteamProofsAfterUnlinkStatement,
} from './queries';
import { dataUrl, fetchArt } from '../enrichment/art';
import { enqueueSteamApps } from '../enrichment/jobs';
import { getOwnedGames, getPlayerSummary } from './steam-api';
import { steamConfig } from './steam-config';
import { allowedReturnTo, authUrl, callbackUrl, consumeNonce, readState, signState, verifyAssertion, type LinkState } from './steam-openid';
import { forgetPlayFacts } from '../play/facts';

const LINK_COOKIE = 'steam_link';
const LINK_COOKIE_PATH = '/auth/link/steam';

const LinkedOut = z
  .object({ linked: z.literal(true), platform: z.literal('steam'), org_id: z.number().int(), user_id: z.number().int(), steam_id: z.string() })
  .openapi('SteamLinked');

const SteamAccountOut = z
  .object({
    linked: z.boolean(),
    org_id: z.number().int(),
    steam_id: z.string().nullable(),
    persona_name: z.string().nullable(),
    profile_url: z.string().nullable(),
    avatar: z.string().nullable().openapi({ description: 'A data: URL of the Steam avatar (copied at link time)' }),
    linked_at: z.string().nullable(),
  })
  .openapi('SteamAccount');

/** The largest avatar we keep inline (Steam's 64 px "medium" avatar is a few KiB). */
const AVATAR_MAX_BYTES = 64 * 1024;

/** Browsers navigate here (Accept: text/html…); programs that ask for JSON get JSON. */
function wantsJson(c: Context<AppEnv>): boolean {
  const accept = c.req.header('Accept') ?? '';
  return /application\/json/i.test(accept) && !/text\/html/i.test(accept);
}

/** The dashboard's library page, with the outcome as query parameters the page reads (codes, never text). */
function libraryPage(c: Context<AppEnv>, outcome: Record<string, string>): string {
  return `${dashboardBase(c)}/?${new URLSearchParams(outcome)}#/library`;
}

const AssertionParams = z
  .record(z.string().regex(/^openid\.[a-z_.]{1,40}$/, 'assertion keys are openid.* parameters'), z.string().max(2048))
  .refine((r) => Object.keys(r).length <= 40, 'too many assertion parameters');

/** The org a user acts in: the named one if they belong to it, else their primary org. */
async function memberOrg(env: Env, userId: number, requested: number | undefined): Promise<number> {
  const d = db(env);
  if (requested === undefined) {
    // The primary org is read from the user's memberships: no second membership read.
    const primary = await primaryOrgId(d, userId);
    if (primary === null) throw new Conflict('join an organization first: libraries and linked accounts belong to an org', 'no_org');
    return primary;
  }
  if ((await membershipRole(d, userId, requested)) === null) throw new Forbidden('not a member of this organization', 'not_org_member');
  return requested;
}

/** Consumes the assertion's and the state's nonces, then stores the link. */
async function completeLink(c: Context<AppEnv>, state: LinkState, params: Record<string, string>, steamId: string) {
  if (!(await consumeNonce(c.env, `openid:${params['openid.response_nonce']}`))) {
    await audit(c, 'steam.link.replay', { actorUserId: state.u, orgId: state.o, targetType: 'user', targetId: state.u, details: { steam_id: steamId } });
    throw new Conflict('this Steam assertion was already used; start linking again', 'assertion_replayed');
  }
  if (!(await consumeNonce(c.env, `state:${state.n}`))) throw new Conflict('this link state was already used; start linking again', 'state_replayed');
  // The member must still belong to the org (membership can change during the 10-minute flow).
  const d = db(c.env);
  if ((await membershipRole(d, state.u, state.o)) === null) throw new Forbidden('not a member of this organization', 'not_org_member');
  const taken = await steamAccountHolder(d, state.o, steamId, state.u);
  if (taken) throw new Conflict('this Steam account is already linked to another member of this organization', 'steam_account_taken');
  const now = nowIso();
  // Best effort: a link never fails because the persona or the avatar could not be fetched.
  const persona = await getPlayerSummary(c.env, steamId);
  const avatarArt = persona?.avatarUrl ? await fetchArt(c.env, persona.avatarUrl, AVATAR_MAX_BYTES) : null;
  const metadata = JSON.stringify({
    steam_id: steamId,
    linked_at: now,
    claimed_id: params['openid.claimed_id'],
    persona_name: persona?.personaName ?? null,
    profile_url: persona?.profileUrl ?? null,
    avatar: avatarArt?.ok ? dataUrl(avatarArt) : null,
  });
  const displayName = persona?.personaName ?? null;
  await d.batch([
    putSteamLinkStatement(d, { orgId: state.o, userId: state.u, steamId, displayName, metadataJson: metadata, now }),
    auditStatement(c, 'steam.link', { actorUserId: state.u, orgId: state.o, targetType: 'user', targetId: state.u, details: { steam_id: steamId } }),
  ]);
  return { linked: true as const, platform: 'steam' as const, org_id: state.o, user_id: state.u, steam_id: steamId };
}

export const steamLinkRoutes = newRouter()
  .openapi(
    createRoute({
      method: 'get',
      path: '/start',
      operationId: 'startSteamLink',
      tags: ['ownership'],
      summary: 'Start linking a Steam account (OpenID 2.0): redirects to Steam with a signed, single-use state',
      middleware: [requireUser],
      security: [{ bearer: [] }],
      request: { query: z.object({ org_id: OptionalOrgQuery }) },
      responses: {
        302: { description: 'To Steam; the body repeats the URL', headers: { Location: { schema: { type: 'string' } } }, content: { 'application/json': { schema: z.object({ redirect_url: z.string(), state: z.string(), expires_at: z.string() }) } } },
        ...errors(400, 401, 403, 409),
      },
    }),
    async (c) => {
      const user = c.get('user');
      const orgId = await memberOrg(c.env, user.id, c.req.valid('query').org_id);
      const { state, nonce, expiresAt } = await signState(c.env, { userId: user.id, orgId });
      const { url } = authUrl(steamConfig(c.env).openidUrl, new URL(c.req.url).origin, state);
      // SameSite=Lax: sent on Steam's top-level redirect back (Strict would not be), never on cross-site subrequests.
      setCookie(c, LINK_COOKIE, nonce, { path: LINK_COOKIE_PATH, httpOnly: true, secure: c.env.COOKIE_SECURE !== 'false', sameSite: 'Lax', maxAge: 600 });
      c.header('Location', url);
      return c.json({ redirect_url: url, state, expires_at: new Date(expiresAt).toISOString() }, 302);
    },
  )
  .openapi(
    createRoute({
      method: 'get',
      path: '/callback',
      operationId: 'finishSteamLink',
      tags: ['ownership'],
      security: OPTIONAL_BEARER,
      summary: 'Steam’s OpenID return: verifies the assertion locally and with Steam, then links the account',
      description:
        'Only the browser that started the flow (its `steam_link` cookie matches the state) or the same signed-in user may complete it. ' +
        'A browser is sent back to the dashboard’s library page (`/?steam_link=linked|failed&code=…#/library`); a client sending ' +
        '`Accept: application/json` gets the JSON answer or error instead.',
      middleware: [optionalUser],
      request: { query: z.object({ state: z.string().max(600) }).catchall(z.string().max(2048)) },
      responses: {
        200: json(LinkedOut, 'Linked (clients asking for JSON)'),
        303: { description: 'To the dashboard’s library page with the outcome', headers: { Location: { schema: { type: 'string' } } } },
        ...errors(400, 403, 409, 502),
      },
    }),
    async (c) => {
      const query = c.req.valid('query');
      try {
        const state = await readState(c.env, query.state);
        const caller = c.get('user');
        const boundBrowser = getCookie(c, LINK_COOKIE) === state.n;
        if (caller && caller.id !== state.u) throw new Forbidden('this link state belongs to another user', 'state_not_yours');
        if (!boundBrowser && !caller) throw new Forbidden('this Steam link was started elsewhere; start it again from this browser', 'state_not_bound');
        const params: Record<string, string> = {};
        for (const [k, v] of Object.entries(query)) if (k.startsWith('openid.') && typeof v === 'string') params[k] = v;
        const cfg = steamConfig(c.env);
        const steamId = await verifyAssertion(params, { returnTo: [callbackUrl(new URL(c.req.url).origin, query.state)], op: cfg.openidUrl, claimedIdPrefix: cfg.claimedIdPrefix });
        const linked = await completeLink(c, state, params, steamId);
        deleteCookie(c, LINK_COOKIE, { path: LINK_COOKIE_PATH });
        if (wantsJson(c)) return c.json(linked, 200);
        return c.redirect(libraryPage(c, { steam_link: 'linked', org_id: String(linked.org_id) }), 303);
      } catch (e) {
        if (wantsJson(c)) throw e;
        // The person lands on their library page with a readable reason; the code says which.
        const code = e instanceof ApiError ? e.code : 'internal';
        if (!(e instanceof ApiError)) c.get('log').error('steam link callback failed', { error: String(e) });
        return c.redirect(libraryPage(c, { steam_link: 'failed', code }), 303);
      }
    },
  )
  .openapi(
    createRoute({
      method: 'post',
      path: '/',
      operationId: 'linkSteamAccount',
      tags: ['ownership'],
      summary: 'Link a Steam account from a signed OpenID assertion the client obtained itself (with a state from /start)',
      middleware: [requireUser],
      security: [{ bearer: [] }],
      request: { body: jsonBody(z.object({ state: z.string().max(600), assertion: AssertionParams }).strict().openapi('SteamLinkIn')) },
      responses: { 200: json(LinkedOut, 'Linked'), ...errors(400, 401, 403, 409, 502) },
    }),
    async (c) => {
      const body = c.req.valid('json');
      const state = await readState(c.env, body.state);
      if (state.u !== c.get('user').id) throw new Forbidden('this link state belongs to another user', 'state_not_yours');
      const cfg = steamConfig(c.env);
      const returnTo = allowedReturnTo(new URL(c.req.url).origin, body.state, cfg.returnToUrls);
      const steamId = await verifyAssertion(body.assertion, { returnTo, op: cfg.openidUrl, claimedIdPrefix: cfg.claimedIdPrefix });
      return c.json(await completeLink(c, state, body.assertion, steamId), 200);
    },
  )
  .openapi(
    createRoute({
      method: 'delete',
      path: '/',
      operationId: 'unlinkSteamAccount',
      tags: ['ownership'],
      summary: 'Unlink the caller’s Steam account in an org; every Steam proof of theirs there is withdrawn',
      middleware: [requireUser],
      security: [{ bearer: [] }],
      request: { query: z.object({ org_id: OptionalOrgQuery }) },
      responses: {
        200: json(z.object({ unlinked: z.literal(true), org_id: z.number().int(), withdrawn: z.array(z.number().int()) }).openapi('SteamUnlinked'), 'Unlinked'),
        ...errors(400, 401, 403, 404, 409),
      },
    }),
    async (c) => {
      const userId = c.get('user').id;
      const orgId = await memberOrg(c.env, userId, c.req.valid('query').org_id);
      const d = db(c.env);
      const link = await steamLink(d, orgId, userId);
      if (!link) throw new NotFound('no Steam account is linked in this organization');
      const now = nowIso();
      const withdrawn = await steamProofGames(d, orgId, userId, ['verified', 'pending']);
      const [removed] = await runBatch(db(c.env), [
        deleteSteamLinkStatement(d, link.id),
        withdrawSteamProofsAfterUnlinkStatement(orgId, userId, now),
        refreshEntriesStatement(orgId, userId, now),
        auditStatement(c, 'steam.unlink', { orgId, targetType: 'user', targetId: userId, details: { withdrawn: withdrawn.slice(0, 200) } }),
      ]);
      if (changes(removed!) === 0) throw new NotFound('no Steam account is linked in this organization');
      await forgetPlayFacts(c.env, orgId);
      return c.json({ unlinked: true as const, org_id: orgId, withdrawn }, 200);
    },
  );

export const ownershipRoutes = newRouter()
  .openapi(
    createRoute({
      method: 'post',
      path: '/verify/steam',
      operationId: 'verifySteamOwnership',
      tags: ['ownership'],
      summary: 'Verify the Steam games of the linked account (GetOwnedGames); games no longer owned lose their Steam proof',
      middleware: [requireUser],
      security: [{ bearer: [] }],
      request: {
        body: jsonBody(
          z
            .object({ org_id: z.number().int().positive().optional(), user_id: z.number().int().positive().optional() })
            .strict()
            .openapi('SteamVerifyIn'),
        ),
      },
      responses: {
        200: json(
          z
            .object({
              verified: z.array(z.number().int()),
              withdrawn: z.array(z.number().int()),
              steam_game_count: z.number().int(),
              matched: z.number().int().openapi({ description: 'Owned games the catalog already had' }),
              added_to_catalog: z.number().int().openapi({ description: 'Owned games added to the catalog now (details follow in the background)' }),
              library: z.array(LibraryEntrySchema),
            })
            .openapi('SteamVerifyOut'),
          'Verified',
        ),
        ...errors(400, 401, 403, 409, 502),
      },
    }),
    async (c) => {
      const body = c.req.valid('json');
      const userId = body.user_id ?? c.get('user').id;
      assertSelfOrAdmin(c, userId);
      const orgId = await memberOrg(c.env, userId, body.org_id);
      const d = db(c.env);
      const account = await steamLink(d, orgId, userId);
      if (!account) throw new Conflict('no Steam account linked in this organization: link one first', 'steam_not_linked');

      const owned = await getOwnedGames(c.env, account.accountId);
      if (owned.kind === 'private') {
        await audit(c, 'ownership.steam.private', { orgId, targetType: 'user', targetId: userId, details: { steam_id: account.accountId } });
        throw new Conflict('the Steam profile is private: set "Game details" to Public in Steam’s privacy settings, then retry', 'steam_profile_private');
      }

      // Owned games the catalog lacks become stubs now (so they count as owned at once) and are
      // filled in from the store in the background.
      const { added } = await enqueueSteamApps(c.env, owned.games.map((g) => g.appid), { create: true });
      const catalog = await steamCatalog(d);
      const byAppid = new Map(catalog.map((r) => [r.externalId, r.gameId]));
      const matched = owned.games.flatMap((g) => {
        const gameId = byAppid.get(String(g.appid));
        return gameId === undefined ? [] : [{ g: gameId, a: g.appid, p: g.playtime }];
      });
      const matchedIds = new Set(matched.map((m) => m.g));
      const previously = await steamProofGames(d, orgId, userId, ['verified']);
      const withdrawn = previously.filter((id) => !matchedIds.has(id)).sort((a, b) => a - b);

      const now = nowIso();
      try {
        await runBatch(db(c.env), [
          ...steamVerificationStatements(orgId, userId, matched, now),
          refreshEntriesStatement(orgId, userId, now),
          auditStatement(c, 'ownership.steam.verify', {
            orgId,
            targetType: 'user',
            targetId: userId,
            details: { steam_id: account.accountId, steam_game_count: owned.gameCount, verified: [...matchedIds].slice(0, 200), withdrawn: withdrawn.slice(0, 200) },
          }),
        ]);
      } catch (e) {
        // A mapped game was deleted meanwhile: the batch rolled back as a whole.
        if (isForeignKeyViolation(e)) throw new Conflict('the catalog changed during verification; retry', 'catalog_changed');
        throw e;
      }
      // Games no longer owned lose their entitlement: the allocator's cached copy goes too.
      await forgetPlayFacts(c.env, orgId);
      return c.json(
        {
          verified: [...matchedIds].sort((a, b) => a - b),
          withdrawn,
          steam_game_count: owned.gameCount,
          matched: Math.max(0, matchedIds.size - added),
          added_to_catalog: added,
          library: await listLibrary(c.env, orgId, userId),
        },
        200,
      );
    },
  )
  .openapi(
    createRoute({
      method: 'get',
      path: '/steam',
      operationId: 'getSteamLink',
      tags: ['ownership'],
      summary: 'The caller’s linked Steam account in an org: SteamID, persona name and avatar',
      middleware: [requireUser],
      security: [{ bearer: [] }],
      request: { query: z.object({ org_id: OptionalOrgQuery }) },
      responses: { 200: json(SteamAccountOut, 'The link (linked: false when none)'), ...errors(400, 401, 403, 409) },
    }),
    async (c) => {
      const userId = c.get('user').id;
      const orgId = await memberOrg(c.env, userId, c.req.valid('query').org_id);
      const row = await steamLink(db(c.env), orgId, userId);
      if (!row) return c.json({ linked: false, org_id: orgId, steam_id: null, persona_name: null, profile_url: null, avatar: null, linked_at: null }, 200);
      let meta: Record<string, unknown> = {};
      try {
        meta = JSON.parse(row.metadataJson ?? '{}') as Record<string, unknown>;
      } catch {
        meta = {};
      }
      const str = (v: unknown) => (typeof v === 'string' ? v : null);
      const avatar = str(meta.avatar);
      return c.json(
        {
          linked: true,
          org_id: orgId,
          steam_id: row.accountId,
          persona_name: str(meta.persona_name),
          profile_url: str(meta.profile_url),
          avatar: avatar && avatar.startsWith('data:image/') ? avatar : null,
          linked_at: str(meta.linked_at) ?? row.createdAt,
        },
        200,
      );
    },
  );
