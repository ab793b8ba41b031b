/**
 * Webhook secrets and signatures, Standard Webhooks style.
 *
 *   const secret = newSecret();                                   // "whsec_<base64 of 24 bytes>", shown once
 *   const stored = await sealSecret(env, endpointId, secret);     // AES-GCM, bound to the endpoint id
 *   const again = await openSecret(env, endpointId, stored);
 *   const sig = await signPayload(secret, msgId, timestamp, body); // "v1,<base64 HMAC-SHA256>"
 *
 * The signed content is `${webhook-id}.${webhook-timestamp}.${body}`, keyed by the base64-decoded
 * part of the secret after `whsec_` — what the Standard Webhooks libraries verify. The at-rest key is
 * derived (HKDF) from `COUCHSUITE_USERNAME_SECRET`, the same root as the username encryption but
 * with its own label, so the two keys are unrelated; the endpoint id is the associated data, so a
 * sealed secret copied onto another endpoint does not open.
 */
import { base64url, fromBase64url } from '../world';

const enc = new TextEncoder();
const PREFIX = 'whsec_';

function toBase64(bytes: Uint8Array): string {
  let s = '';
  for (const b of bytes) s += String.fromCharCode(b);
  return btoa(s);
}

export function newSecret(): string {
  return PREFIX + toBase64(crypto.getRandomValues(new Uint8Array(24)));
}

function secretBytes(secret: string): Uint8Array {
  const b64 = secret.startsWith(PREFIX) ? secret.slice(PREFIX.length) : secret;
  return Uint8Array.from(atob(b64), (c) => c.charCodeAt(0));
}

export async function signPayload(secret: string, msgId: string, timestamp: number, body: string): Promise<string> {
  const key = await crypto.subtle.importKey('raw', secretBytes(secret), { name: 'HMAC', hash: 'SHA-256' }, false, ['sign']);
  const mac = await crypto.subtle.sign('HMAC', key, enc.encode(`${msgId}.${timestamp}.${body}`));
  return `v1,${toBase64(new Uint8Array(mac))}`;
}

const keys = new Map<string, Promise<CryptoKey>>();

function atRestKey(root: string): Promise<CryptoKey> {
  let key = keys.get(root);
  if (!key) {
    key = (async () => {
      const ikm = await crypto.subtle.importKey('raw', enc.encode(root), 'HKDF', false, ['deriveKey']);
      return crypto.subtle.deriveKey(
        { name: 'HKDF', hash: 'SHA-256', salt: enc.encode('edgeplane/webhooks'), info: enc.encode('webhook secret encryption v1') },
        ikm,
        { name: 'AES-GCM', length: 256 },
        false,
        ['encrypt', 'decrypt'],
      );
    })();
    keys.set(root, key);
  }
  return key;
}

export async function sealSecret(env: Pick<Env, 'COUCHSUITE_USERNAME_SECRET'>, endpointId: string, secret: string): Promise<string> {
  const iv = crypto.getRandomValues(new Uint8Array(12));
  const ct = await crypto.subtle.encrypt({ name: 'AES-GCM', iv, additionalData: enc.encode(endpointId) }, await atRestKey(env.COUCHSUITE_USERNAME_SECRET), enc.encode(secret));
  const out = new Uint8Array(12 + ct.byteLength);
  out.set(iv);
  out.set(new Uint8Array(ct), 12);
  return base64url(out);
}

export async function openSecret(env: Pick<Env, 'COUCHSUITE_USERNAME_SECRET'>, endpointId: string, sealed: string): Promise<string> {
  const raw = fromBase64url(sealed);
  const pt = await crypto.subtle.decrypt(
    { name: 'AES-GCM', iv: raw.slice(0, 12), additionalData: enc.encode(endpointId) },
    await atRestKey(env.COUCHSUITE_USERNAME_SECRET),
    raw.slice(12),
  );
  return new TextDecoder().decode(pt);
}
