/**
 * Access tokens: HS256 JWTs (jose) with the algorithm pinned and `iss`, `aud`, `typ`, `exp`
 * required. Claims: `sub` (user id as a decimal string), `sid` (the refresh session's id: the wire
 * name, `refreshSessionId` in code), `role`.
 *
 *   const { token, expiresIn } = await issueAccessToken(env, { userId: 1, refreshSessionId, role: 'admin' });
 *   const claims = await verifyAccessToken(env, token); // throws TokenExpired | TokenInvalid
 */
import { errors, jwtVerify, SignJWT } from 'jose';
import { world } from '../world';

export const ACCESS_TOKEN_TTL_SECONDS = 15 * 60;
export const MIN_SECRET_BYTES = 32;

export class TokenInvalid extends Error {}
export class TokenExpired extends Error {}

export interface AccessClaims {
  userId: number;
  /** The `sid` claim. */
  refreshSessionId: string;
  role: 'admin' | 'user';
}

const keyCache = new Map<string, Uint8Array>();

/** The signing key; a secret under 32 bytes is a deployment error and the Worker refuses to serve. */
export function signingKey(env: Pick<Env, 'JWT_SECRET'>): Uint8Array {
  const secret = env.JWT_SECRET ?? '';
  let key = keyCache.get(secret);
  if (!key) {
    key = new TextEncoder().encode(secret);
    keyCache.set(secret, key);
  }
  return key;
}

const hmacKeys = new Map<string, Promise<CryptoKey>>();

/** The signing key as a WebCrypto HMAC key, imported once per isolate and secret: given the raw
 * bytes, jose imports them again on every sign and verify (issue 17: every authenticated request
 * paid it). Secrets only change with a deploy (a new isolate). */
function hmacKey(env: Pick<Env, 'JWT_SECRET'>): Promise<CryptoKey> {
  const secret = env.JWT_SECRET ?? '';
  let key = hmacKeys.get(secret);
  if (!key) {
    key = crypto.subtle.importKey('raw', signingKey(env), { name: 'HMAC', hash: 'SHA-256' }, false, ['sign', 'verify']);
    hmacKeys.set(secret, key);
    key.catch(() => hmacKeys.delete(secret));
  }
  return key;
}

export function signingKeyProblem(env: Pick<Env, 'JWT_SECRET'>): string | null {
  return signingKey(env).byteLength >= MIN_SECRET_BYTES ? null : `JWT_SECRET must be at least ${MIN_SECRET_BYTES} bytes`;
}

export async function issueAccessToken(
  env: Pick<Env, 'JWT_SECRET' | 'JWT_ISSUER' | 'JWT_AUDIENCE'>,
  claims: AccessClaims,
): Promise<{ token: string; expiresIn: number }> {
  const iat = Math.floor(world.now() / 1000);
  const token = await new SignJWT({ sid: claims.refreshSessionId, role: claims.role })
    .setProtectedHeader({ alg: 'HS256', typ: 'JWT' })
    .setSubject(String(claims.userId))
    .setIssuer(env.JWT_ISSUER)
    .setAudience(env.JWT_AUDIENCE)
    .setIssuedAt(iat)
    .setExpirationTime(iat + ACCESS_TOKEN_TTL_SECONDS)
    .sign(await hmacKey(env));
  return { token, expiresIn: ACCESS_TOKEN_TTL_SECONDS };
}

/**
 * Tokens whose signature and claims were checked, per isolate and per (secret, issuer, audience):
 * the same string verifies the same way until `exp`, so a dashboard polling every 5 s with one
 * token pays the HMAC and jose's claim checks once (they were ~10 % of a 304 poll's CPU, issue 17).
 * Only the string that verified is kept, so a tampered or re-signed token is a different key and
 * verifies afresh; whether the refresh session behind it is still live is checked in D1 on every
 * request as before (`callerCheck`). Bounded: the oldest verified goes first.
 */
const VERIFIED_MAX = 2_000;
interface Verified {
  claims: AccessClaims;
  exp: number;
}
const verifiedByConfig = new Map<string, Map<string, Verified>>();

function verifiedTokens(env: Pick<Env, 'JWT_SECRET' | 'JWT_ISSUER' | 'JWT_AUDIENCE'>): Map<string, Verified> {
  const config = `${env.JWT_SECRET ?? ''}\u0000${env.JWT_ISSUER}\u0000${env.JWT_AUDIENCE}`;
  let tokens = verifiedByConfig.get(config);
  if (!tokens) {
    tokens = new Map();
    verifiedByConfig.set(config, tokens);
  }
  return tokens;
}

function remember(tokens: Map<string, Verified>, token: string, entry: Verified): void {
  tokens.delete(token);
  tokens.set(token, entry);
  if (tokens.size > VERIFIED_MAX) tokens.delete(tokens.keys().next().value as string);
}

/** Test hook: how many verified tokens this isolate keeps for `env`'s configuration. */
export function verifiedTokenCount(env: Pick<Env, 'JWT_SECRET' | 'JWT_ISSUER' | 'JWT_AUDIENCE'>): number {
  return verifiedTokens(env).size;
}

export async function verifyAccessToken(
  env: Pick<Env, 'JWT_SECRET' | 'JWT_ISSUER' | 'JWT_AUDIENCE'>,
  token: string,
): Promise<AccessClaims> {
  // Cheap shape check first: three base64url parts, bounded size.
  if (token.length > 4096 || !/^[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+$/.test(token)) {
    throw new TokenInvalid('malformed token');
  }
  const verified = verifiedTokens(env);
  const known = verified.get(token);
  if (known) {
    // jose's rule: expired once `exp` <= now (no clock tolerance).
    if (known.exp <= Math.floor(world.now() / 1000)) {
      verified.delete(token);
      throw new TokenExpired('token expired');
    }
    return known.claims;
  }
  try {
    const { payload } = await jwtVerify(token, await hmacKey(env), {
      algorithms: ['HS256'],
      issuer: env.JWT_ISSUER,
      audience: env.JWT_AUDIENCE,
      typ: 'JWT',
      requiredClaims: ['exp', 'iat', 'sub', 'sid', 'role'],
      currentDate: new Date(world.now()),
    });
    const sub = payload.sub ?? '';
    const userId = /^[1-9][0-9]{0,15}$/.test(sub) ? Number(sub) : NaN;
    if (!Number.isSafeInteger(userId)) throw new TokenInvalid('invalid token subject');
    if (typeof payload.sid !== 'string' || (payload.role !== 'admin' && payload.role !== 'user')) {
      throw new TokenInvalid('invalid token claims');
    }
    const claims: AccessClaims = { userId, refreshSessionId: payload.sid, role: payload.role };
    remember(verified, token, { claims, exp: payload.exp as number });
    return claims;
  } catch (e) {
    if (e instanceof errors.JWTExpired) throw new TokenExpired('token expired');
    if (e instanceof TokenInvalid) throw e;
    throw new TokenInvalid('invalid token');
  }
}
