/**
 * The outside world in one place: the clock, randomness and outbound fetch. Production code reads
 * them from here; tests replace them (`setWorld`) instead of patching globals everywhere.
 *
 *   import { world } from '../world';
 *   const res = await world.fetch('https://api.steampowered.com/...');
 */
export interface World {
  now(): number;
  fetch(input: RequestInfo | URL, init?: RequestInit): Promise<Response>;
}

const real: World = {
  now: () => Date.now(),
  fetch: (input, init) => fetch(input, init),
};

export const world: World = { ...real };

/** Test hook: override parts of the world; returns a function that restores the previous ones. */
export function setWorld(overrides: Partial<World>): () => void {
  const previous = { ...world };
  Object.assign(world, overrides);
  return () => Object.assign(world, previous);
}

export const nowIso = (): string => new Date(world.now()).toISOString();

/** Random bytes as unpadded base64url, for tokens and ids. */
export function randomToken(bytes = 32): string {
  const buf = crypto.getRandomValues(new Uint8Array(bytes));
  return base64url(buf);
}

export function base64url(buf: Uint8Array): string {
  let s = '';
  for (const b of buf) s += String.fromCharCode(b);
  return btoa(s).replaceAll('+', '-').replaceAll('/', '_').replace(/=+$/, '');
}

export function fromBase64url(s: string): Uint8Array {
  const b64 = s.replaceAll('-', '+').replaceAll('_', '/');
  const bin = atob(b64 + '='.repeat((4 - (b64.length % 4)) % 4));
  return Uint8Array.from(bin, (c) => c.charCodeAt(0));
}

/** A random positive integer below 2^53: non-enumerable ids for clients that need numbers. */
export function randomSafeInteger(): number {
  const [hi, lo] = crypto.getRandomValues(new Uint32Array(2)) as unknown as [number, number];
  return (hi & 0x1fffff) * 0x100000000 + lo || 1;
}

export async function sha256Hex(input: string): Promise<string> {
  const digest = await crypto.subtle.digest('SHA-256', new TextEncoder().encode(input));
  return [...new Uint8Array(digest)].map((b) => b.toString(16).padStart(2, '0')).join('');
}
