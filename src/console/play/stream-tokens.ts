/**
 * Play-session capability tokens: short-lived ES256 JWTs signed by the control plane that a cluster
 * node verifies offline with the public key from `/.well-known/jwks.json`. The token rides in the
 * session's `stream_url`, so whoever holds the URL may stream that one session on that one node
 * until the token expires (a fresh URL comes with every `GET /sessions/{id}`).
 *
 * The same token rides in each of the node's assignments (`stream_token`), and the node agent
 * refuses to launch a session whose token does not verify. Tokens are signed with the current key;
 * during a key rotation the JWKS also publishes the previous one (see auth/session-keys.ts).
 *
 *   const { url, expiresAt } = await streamUrlFor(env, { playSessionId, nodeId, orgId, userId, gameId, streamBaseUrl });
 *   // node side: jwtVerify(token, createRemoteJWKSet(jwksUrl), { issuer, audience: PLAY_SESSION_TOKEN_AUDIENCE,
 *   //            typ: PLAY_SESSION_TOKEN_TYP, algorithms: ['ES256'] }) then check `node_id` is its own id.
 */
import { SignJWT } from 'jose';
import { sessionSigningKey } from '../../auth/session-keys';
import { world } from '../../world';

/** Short on purpose: the URL is a bearer capability and may end up in launcher logs. */
export const PLAY_SESSION_TOKEN_TTL_SECONDS = 300;
export const PLAY_SESSION_TOKEN_AUDIENCE = 'couchsuite-stream';
export const PLAY_SESSION_TOKEN_TYP = 'play-session+jwt';

export interface StreamTarget {
  playSessionId: number;
  nodeId: number;
  orgId: number;
  userId: number;
  gameId: number;
  streamBaseUrl: string;
}

export async function signPlaySessionToken(
  env: Pick<Env, 'SESSION_SIGNING_KEY' | 'JWT_ISSUER'>,
  t: Omit<StreamTarget, 'streamBaseUrl'>,
): Promise<{ token: string; expiresAt: string }> {
  const key = await sessionSigningKey(env);
  const iat = Math.floor(world.now() / 1000);
  const exp = iat + PLAY_SESSION_TOKEN_TTL_SECONDS;
  const token = await new SignJWT({ node_id: t.nodeId, org_id: t.orgId, user_id: t.userId, game_id: t.gameId })
    .setProtectedHeader({ alg: 'ES256', typ: PLAY_SESSION_TOKEN_TYP, kid: key.kid })
    .setIssuer(env.JWT_ISSUER)
    .setAudience(PLAY_SESSION_TOKEN_AUDIENCE)
    .setSubject(String(t.playSessionId))
    .setIssuedAt(iat)
    .setExpirationTime(exp)
    .sign(key.privateKey);
  return { token, expiresAt: new Date(exp * 1000).toISOString() };
}

/** `<stream base>/sessions/<id>?token=<jwt>`; the base may carry its own path. */
export async function streamUrlFor(
  env: Pick<Env, 'SESSION_SIGNING_KEY' | 'JWT_ISSUER'>,
  t: StreamTarget,
): Promise<{ url: string; expiresAt: string }> {
  const { token, expiresAt } = await signPlaySessionToken(env, t);
  const base = t.streamBaseUrl.replace(/\/+$/, '');
  return { url: `${base}/sessions/${t.playSessionId}?token=${encodeURIComponent(token)}`, expiresAt };
}
