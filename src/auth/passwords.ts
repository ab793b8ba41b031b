/**
 * Password hashing, verification and policy.
 *
 * New hashes: scrypt at OWASP's N=2^14, r=8, p=5 through `node:crypto` (native in workerd and about
 * twice as fast as the portable @noble/hashes scrypt: `npm run bench`). Stored self-describing,
 * `$scrypt$ln=14,r=8,p=5$<salt>$<hash>`, so the cost can be raised and old hashes upgraded at login.
 *
 * Legacy hashes verify and are upgraded at the next successful login:
 * - sticky-backend bcrypt (`$2a$`/`$2b$`/`$2y$`), via bcryptjs;
 * - the CouchServer prototype's PBKDF2-SHA256 at 120,000 iterations, imported as
 *   `$pbkdf2-sha256$i=120000$<salt>$<hash>`. WebCrypto PBKDF2 is capped at 100,000 iterations in
 *   production (not locally), so these go through @noble/hashes instead.
 */
import { pbkdf2 } from '@noble/hashes/pbkdf2.js';
import { sha256 } from '@noble/hashes/sha2.js';
import bcrypt from 'bcryptjs';
import { scrypt as nodeScrypt, timingSafeEqual } from 'node:crypto';
import { base64url, fromBase64url } from '../world';
import { COMMON_PASSWORDS } from './common-passwords';

export interface ScryptParams {
  logN: number;
  r: number;
  p: number;
}

export const MAX_PASSWORD_LENGTH = 256;
const KEY_LENGTH = 32;

export function scryptParams(env: Pick<Env, 'PASSWORD_SCRYPT_LOG_N'>): ScryptParams {
  const logN = Number.parseInt(env.PASSWORD_SCRYPT_LOG_N, 10);
  // workerd refuses N·r·p above 2^20; 2^14·8·5 is OWASP's recommended row.
  return { logN: Number.isInteger(logN) && logN >= 10 && logN <= 16 ? logN : 14, r: 8, p: 5 };
}

function scryptRaw(password: string, salt: Uint8Array, params: ScryptParams): Promise<Uint8Array> {
  return new Promise((resolve, reject) => {
    nodeScrypt(
      password.normalize('NFKC'),
      salt,
      KEY_LENGTH,
      { N: 2 ** params.logN, r: params.r, p: params.p, maxmem: 256 * 1024 * 1024 },
      (err, key) => (err ? reject(err) : resolve(new Uint8Array(key))),
    );
  });
}

export async function hashPassword(password: string, params: ScryptParams): Promise<string> {
  const salt = crypto.getRandomValues(new Uint8Array(16));
  const key = await scryptRaw(password, salt, params);
  return `$scrypt$ln=${params.logN},r=${params.r},p=${params.p}$${base64url(salt)}$${base64url(key)}`;
}

export interface Verification {
  ok: boolean;
  /** The stored hash is legacy or weaker than the current parameters: rehash after this login. */
  needsRehash: boolean;
}

function equal(a: Uint8Array, b: Uint8Array): boolean {
  return a.length === b.length && timingSafeEqual(a, b);
}

const SCRYPT_RE = /^\$scrypt\$ln=(\d{1,2}),r=(\d{1,2}),p=(\d{1,2})\$([A-Za-z0-9_-]+)\$([A-Za-z0-9_-]+)$/;
const PBKDF2_RE = /^\$pbkdf2-sha256\$i=(\d{1,7})\$([A-Za-z0-9_=+/-]+)\$([A-Za-z0-9_=+/-]+)$/;

export async function verifyPassword(password: string, stored: string, current: ScryptParams): Promise<Verification> {
  const s = SCRYPT_RE.exec(stored);
  if (s) {
    const params = { logN: Number(s[1]), r: Number(s[2]), p: Number(s[3]) };
    const key = await scryptRaw(password, fromBase64url(s[4]!), params);
    const ok = equal(key, fromBase64url(s[5]!));
    const weaker = params.logN < current.logN || params.r < current.r || params.p < current.p;
    return { ok, needsRehash: ok && weaker };
  }
  if (/^\$2[aby]\$\d{2}\$/.test(stored)) {
    // bcrypt silently truncates at 72 bytes; our policy allows 256, so a longer password must not
    // match a hash made from its first 72 bytes.
    if (new TextEncoder().encode(password).length > 72) return { ok: false, needsRehash: false };
    const ok = await bcrypt.compare(password, stored);
    return { ok, needsRehash: ok };
  }
  const p = PBKDF2_RE.exec(stored);
  if (p) {
    // The prototype's salt and hash are URL-safe base64 *with* padding.
    const salt = fromBase64url(p[2]!.replace(/=+$/, ''));
    const expected = fromBase64url(p[3]!.replace(/=+$/, ''));
    const key = pbkdf2(sha256, password, salt, { c: Number(p[1]), dkLen: expected.length });
    const ok = equal(key, expected);
    return { ok, needsRehash: ok };
  }
  return { ok: false, needsRehash: false };
}

let dummy: { params: string; hash: Promise<string> } | undefined;

/** Burns the same time as a real verification, for unknown usernames (no timing oracle). */
export async function verifyDummy(password: string, params: ScryptParams): Promise<void> {
  const key = JSON.stringify(params);
  if (!dummy || dummy.params !== key) dummy = { params: key, hash: hashPassword('edgeplane-dummy-password', params) };
  await verifyPassword(password, await dummy.hash, params);
}

export interface PasswordPolicy {
  minLength: number;
}

export function passwordPolicy(env: Pick<Env, 'PASSWORD_MIN_LENGTH'>): PasswordPolicy {
  const n = Number.parseInt(env.PASSWORD_MIN_LENGTH, 10);
  return { minLength: Number.isInteger(n) && n >= 8 && n <= MAX_PASSWORD_LENGTH ? n : 12 };
}

/** Why a new password is refused, or null when it is acceptable. Length counts code points. */
export function passwordProblem(password: string, policy: PasswordPolicy, username?: string): string | null {
  const length = [...password].length;
  if (length < policy.minLength) return `password must be at least ${policy.minLength} characters`;
  if (length > MAX_PASSWORD_LENGTH) return `password must be at most ${MAX_PASSWORD_LENGTH} characters`;
  const folded = password.toLowerCase();
  if (COMMON_PASSWORDS.has(folded)) return 'password is too common';
  if (/^(.)\1*$/u.test(password)) return 'password is too common';
  if (username && folded.includes(username.trim().toLowerCase()) && username.trim().length >= 3) {
    return 'password must not contain the username';
  }
  return null;
}
