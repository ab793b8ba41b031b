/**
 * Usernames are never stored in clear. Lookup and uniqueness go through a keyed HMAC of the
 * normalised name; the display form is AES-GCM encrypted. Both keys are derived (HKDF) from
 * `COUCHSUITE_USERNAME_SECRET` with distinct labels, so neither key can be used for the other job.
 *
 *   const id = await usernameKeys(env.COUCHSUITE_USERNAME_SECRET);
 *   const digest = await id.digest('  Alice ');        // same as digest('alice')
 *   const enc = await id.encrypt('Alice', digest);     // bound to this digest
 */
import { base64url, fromBase64url } from '../world';

/** Display form: NFKC, trimmed. Comparison form: display form, case-folded. */
export function displayUsername(raw: string): string {
  return raw.normalize('NFKC').trim();
}

export function comparableUsername(raw: string): string {
  return displayUsername(raw).toLowerCase().normalize('NFKC');
}

export interface UsernameKeys {
  digest(raw: string): Promise<string>;
  encrypt(display: string, digest: string): Promise<string>;
  decrypt(enc: string, digest: string): Promise<string>;
}

const enc = new TextEncoder();
const cache = new Map<string, Promise<UsernameKeys>>();

export function usernameKeys(secret: string): Promise<UsernameKeys> {
  let keys = cache.get(secret);
  if (!keys) {
    keys = deriveKeys(secret);
    cache.set(secret, keys);
  }
  return keys;
}

async function deriveKeys(secret: string): Promise<UsernameKeys> {
  const ikm = await crypto.subtle.importKey('raw', enc.encode(secret), 'HKDF', false, ['deriveKey']);
  const salt = enc.encode('edgeplane/usernames');
  const hmacKey = await crypto.subtle.deriveKey(
    { name: 'HKDF', hash: 'SHA-256', salt, info: enc.encode('username digest v1') },
    ikm,
    { name: 'HMAC', hash: 'SHA-256', length: 256 },
    false,
    ['sign'],
  );
  const aesKey = await crypto.subtle.deriveKey(
    { name: 'HKDF', hash: 'SHA-256', salt, info: enc.encode('username encryption v1') },
    ikm,
    { name: 'AES-GCM', length: 256 },
    false,
    ['encrypt', 'decrypt'],
  );
  return {
    async digest(raw) {
      const mac = await crypto.subtle.sign('HMAC', hmacKey, enc.encode(comparableUsername(raw)));
      return base64url(new Uint8Array(mac));
    },
    async encrypt(display, digest) {
      const iv = crypto.getRandomValues(new Uint8Array(12));
      // The digest is the associated data: a ciphertext copied onto another row does not decrypt.
      const ct = await crypto.subtle.encrypt(
        { name: 'AES-GCM', iv, additionalData: enc.encode(digest) },
        aesKey,
        enc.encode(display),
      );
      const out = new Uint8Array(12 + ct.byteLength);
      out.set(iv);
      out.set(new Uint8Array(ct), 12);
      return base64url(out);
    },
    async decrypt(value, digest) {
      const raw = fromBase64url(value);
      const pt = await crypto.subtle.decrypt(
        { name: 'AES-GCM', iv: raw.slice(0, 12), additionalData: enc.encode(digest) },
        aesKey,
        raw.slice(12),
      );
      return new TextDecoder().decode(pt);
    },
  };
}
