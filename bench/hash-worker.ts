// A throwaway Worker for `bench/platform.bench.mjs`: one password hash per request, so the cost of
// each algorithm can be timed from outside (inside workerd, Date.now() does not advance during
// pure CPU work).
import { argon2id } from '@noble/hashes/argon2.js';
import { scrypt as nobleScrypt } from '@noble/hashes/scrypt.js';
import { scrypt as nodeScrypt } from 'node:crypto';

const salt = new Uint8Array(16).fill(7);
const password = 'correct horse battery staple';

export default {
  async fetch(req: Request): Promise<Response> {
    const algo = new URL(req.url).pathname.slice(1);
    switch (algo) {
      case 'noop':
        break;
      case 'node-scrypt':
        await new Promise<void>((resolve, reject) =>
          nodeScrypt(password, salt, 32, { N: 2 ** 14, r: 8, p: 5, maxmem: 256 * 1024 * 1024 }, (e) => (e ? reject(e) : resolve())),
        );
        break;
      case 'noble-scrypt':
        nobleScrypt(password, salt, { N: 2 ** 14, r: 8, p: 5, dkLen: 32 });
        break;
      case 'noble-argon2id':
        argon2id(password, salt, { t: 2, m: 19 * 1024, p: 1, dkLen: 32 });
        break;
      default:
        return new Response('unknown', { status: 404 });
    }
    return new Response('ok');
  },
};
