/**
 * Verified access tokens are kept per isolate (src/auth/tokens.ts) so a polling dashboard pays the
 * HMAC once per token. What the cache must never change: an expired token is refused at its `exp`,
 * a tampered token or one signed for another secret/issuer/audience is refused even while the
 * genuine one is kept, and the cache stays bounded.
 */
import { env } from 'cloudflare:test';
import { SignJWT, base64url } from 'jose';
import { afterEach, describe, expect, it } from 'vitest';
import { TokenExpired, TokenInvalid, verifiedTokenCount, verifyAccessToken } from '../../src/auth/tokens';
import { setWorld } from '../../src/world';

const key = new TextEncoder().encode(env.JWT_SECRET);
let restore: (() => void) | undefined;
afterEach(() => {
  restore?.();
  restore = undefined;
});

async function sign(over: Record<string, unknown> = {}, secret = key): Promise<string> {
  const now = Math.floor(Date.now() / 1000);
  return new SignJWT({ sid: 'rs-1', role: 'user', ...over })
    .setProtectedHeader({ alg: 'HS256', typ: 'JWT' })
    .setSubject(String(over.sub ?? 7))
    .setIssuer(env.JWT_ISSUER)
    .setAudience(env.JWT_AUDIENCE)
    .setIssuedAt(now)
    .setExpirationTime(now + 60)
    .sign(secret);
}

describe('verified-token cache', () => {
  it('keeps a verified token and answers the same claims from it', async () => {
    const token = await sign();
    const before = verifiedTokenCount(env);
    const first = await verifyAccessToken(env, token);
    expect(verifiedTokenCount(env)).toBe(before + 1);
    expect(await verifyAccessToken(env, token)).toEqual(first);
    expect(first).toEqual({ userId: 7, refreshSessionId: 'rs-1', role: 'user' });
  });

  it('refuses a kept token once its exp has passed', async () => {
    const token = await sign();
    await verifyAccessToken(env, token);
    const later = Date.now() + 61_000;
    restore = setWorld({ now: () => later });
    await expect(verifyAccessToken(env, token)).rejects.toBeInstanceOf(TokenExpired);
    // …and still refuses it on the next try (it was dropped, jose now sees it expired).
    await expect(verifyAccessToken(env, token)).rejects.toBeInstanceOf(TokenExpired);
  });

  it('refuses a tampered copy of a kept token', async () => {
    const token = await sign();
    await verifyAccessToken(env, token);
    const [h, , s] = token.split('.');
    const payload = JSON.parse(new TextDecoder().decode(base64url.decode(token.split('.')[1]!)));
    const tampered = `${h}.${base64url.encode(JSON.stringify({ ...payload, role: 'admin' }))}.${s}`;
    await expect(verifyAccessToken(env, tampered)).rejects.toBeInstanceOf(TokenInvalid);
  });

  it('does not answer from the cache for another secret, issuer or audience', async () => {
    const token = await sign();
    await verifyAccessToken(env, token);
    const others = [
      { ...env, JWT_SECRET: 'another-secret-another-secret-another-secret!' },
      { ...env, JWT_ISSUER: 'someone-else' },
      { ...env, JWT_AUDIENCE: 'another-audience' },
    ];
    for (const other of others) {
      await expect(verifyAccessToken(other, token)).rejects.toBeInstanceOf(TokenInvalid);
    }
  });

  it('stays bounded', async () => {
    const small = { ...env, JWT_AUDIENCE: 'bound-test' };
    const now = Math.floor(Date.now() / 1000);
    for (let i = 1; i <= 2_050; i++) {
      const token = await new SignJWT({ sid: `rs-${i}`, role: 'user' })
        .setProtectedHeader({ alg: 'HS256', typ: 'JWT' })
        .setSubject(String(i))
        .setIssuer(small.JWT_ISSUER)
        .setAudience(small.JWT_AUDIENCE)
        .setIssuedAt(now)
        .setExpirationTime(now + 60)
        .sign(key);
      await verifyAccessToken(small, token);
    }
    expect(verifiedTokenCount(small)).toBe(2_000);
  });
});
