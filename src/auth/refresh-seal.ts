/**
 * Sealing a rotation's successor token so that a retry of the SAME refresh can be answered with
 * the same successor (the grace window of refresh.ts), without storing any usable token in clear.
 *
 * The key is derived (HKDF-SHA256) from the presented, now-rotated refresh token — which the
 * database never holds, only its SHA-256 — salted with `JWT_SECRET`, with the old row's id as
 * context. So the sealed value is useless to someone holding the database (no token), to someone
 * holding an old token but not the server secret, and it cannot be moved onto another row.
 *
 *   const sealed = await sealSuccessor(env, oldToken, oldId, newToken);
 *   const again = await openSuccessor(env, oldToken, oldId, sealed); // newToken, or null
 */
import { base64url, fromBase64url } from '../world';

const enc = new TextEncoder();

async function keyFor(env: Pick<Env, 'JWT_SECRET'>, token: string, rowId: string): Promise<CryptoKey> {
  const ikm = await crypto.subtle.importKey('raw', enc.encode(token), 'HKDF', false, ['deriveKey']);
  return crypto.subtle.deriveKey(
    { name: 'HKDF', hash: 'SHA-256', salt: enc.encode(`edgeplane/refresh-successor/${env.JWT_SECRET}`), info: enc.encode(rowId) },
    ikm,
    { name: 'AES-GCM', length: 256 },
    false,
    ['encrypt', 'decrypt'],
  );
}

export async function sealSuccessor(env: Pick<Env, 'JWT_SECRET'>, token: string, rowId: string, successor: string): Promise<string> {
  const iv = crypto.getRandomValues(new Uint8Array(12));
  const ct = await crypto.subtle.encrypt({ name: 'AES-GCM', iv, additionalData: enc.encode(rowId) }, await keyFor(env, token, rowId), enc.encode(successor));
  const out = new Uint8Array(12 + ct.byteLength);
  out.set(iv);
  out.set(new Uint8Array(ct), 12);
  return base64url(out);
}

/** The successor token, or null when the seal does not open (another token, another row, tampering). */
export async function openSuccessor(env: Pick<Env, 'JWT_SECRET'>, token: string, rowId: string, sealed: string): Promise<string | null> {
  try {
    const raw = fromBase64url(sealed);
    const pt = await crypto.subtle.decrypt(
      { name: 'AES-GCM', iv: raw.slice(0, 12), additionalData: enc.encode(rowId) },
      await keyFor(env, token, rowId),
      raw.slice(12),
    );
    return new TextDecoder().decode(pt);
  } catch {
    return null;
  }
}
