// The two `node:crypto` primitives we use (native in workerd), typed here instead of pulling all of
// @types/node into a Workers program.
declare module 'node:crypto' {
  export function scrypt(
    password: string | Uint8Array,
    salt: string | Uint8Array,
    keylen: number,
    options: { N: number; r: number; p: number; maxmem?: number },
    callback: (err: Error | null, derivedKey: Uint8Array) => void,
  ): void;
  export function timingSafeEqual(a: Uint8Array, b: Uint8Array): boolean;
}
