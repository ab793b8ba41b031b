/**
 * The asymmetric key that signs play-session tokens (ES256). Nodes verify those tokens offline
 * with the public half, published at `/.well-known/jwks.json`. `SESSION_SIGNING_KEY` holds the
 * private key as a JWK (generated into `.dev.vars` by `npm start`; `wrangler secret put` in prod).
 *
 * Rotation: put the old key into the optional secret `SESSION_SIGNING_KEY_PREVIOUS` (private or
 * public JWK; only its public half is used) and a new key, with a different `kid`, into
 * `SESSION_SIGNING_KEY`. Both are published by `kid`, so tokens signed just before the switch still
 * verify and nodes whose cached set lacks the new `kid` refetch it. Remove the previous key once
 * the window (longer than the token TTL plus the JWKS cache time) has passed.
 *
 *   const { keys } = await publishedSessionKeys(env);
 */
import { importJWK, type JWK } from 'jose';

export interface SigningKey {
  kid: string;
  privateKey: CryptoKey;
  publicJwk: JWK;
}

const cache = new Map<string, Promise<SigningKey>>();

export function sessionSigningKey(env: Pick<Env, 'SESSION_SIGNING_KEY'>): Promise<SigningKey> {
  let key = cache.get(env.SESSION_SIGNING_KEY);
  if (!key) {
    key = load(env.SESSION_SIGNING_KEY);
    cache.set(env.SESSION_SIGNING_KEY, key);
    key.catch(() => cache.delete(env.SESSION_SIGNING_KEY));
  }
  return key;
}

async function load(raw: string): Promise<SigningKey> {
  const jwk = JSON.parse(raw) as JWK;
  if (jwk.kty !== 'EC' || jwk.crv !== 'P-256' || !jwk.d) throw new Error('SESSION_SIGNING_KEY must be a P-256 private JWK');
  const privateKey = (await importJWK({ ...jwk, alg: 'ES256' }, 'ES256')) as CryptoKey;
  const { d: _d, ...pub } = jwk;
  const kid = jwk.kid ?? 'session-1';
  return { kid, privateKey, publicJwk: { ...pub, kid, alg: 'ES256', use: 'sig' } };
}

/** The optional previous key is not a declared secret (most deployments have none). */
export type SessionKeyEnv = Pick<Env, 'SESSION_SIGNING_KEY'> & { SESSION_SIGNING_KEY_PREVIOUS?: string };

/**
 * The JWK set nodes verify against: the current key, then the previous one during a rotation. A
 * previous key that does not parse, or reuses the current `kid`, is left out (and logged): a
 * duplicate `kid` would make verification ambiguous.
 */
export async function publishedSessionKeys(env: SessionKeyEnv): Promise<{ keys: JWK[] }> {
  const current = await sessionSigningKey(env);
  const keys: JWK[] = [current.publicJwk];
  const raw = env.SESSION_SIGNING_KEY_PREVIOUS?.trim();
  if (raw) {
    try {
      const jwk = JSON.parse(raw) as JWK;
      if (jwk.kty !== 'EC' || jwk.crv !== 'P-256' || !jwk.x || !jwk.y) throw new Error('not a P-256 JWK');
      if (!jwk.kid || jwk.kid === current.kid) throw new Error('needs its own kid, different from the current key');
      keys.push({ kty: 'EC', crv: 'P-256', x: jwk.x, y: jwk.y, kid: jwk.kid, alg: 'ES256', use: 'sig' });
    } catch (e) {
      console.error(JSON.stringify({ level: 'error', msg: 'SESSION_SIGNING_KEY_PREVIOUS ignored', reason: e instanceof Error ? e.message : String(e) }));
    }
  }
  return { keys };
}
