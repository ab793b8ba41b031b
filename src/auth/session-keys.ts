/**
 * The asymmetric key that signs play-session tokens (ES256). Nodes verify those tokens offline
 * with the public half, published at `/.well-known/jwks.json`. `SESSION_SIGNING_KEY` holds the
 * private key as a JWK (generated into `.dev.vars` by `npm start`; `wrangler secret put` in prod).
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
