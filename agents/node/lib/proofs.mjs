/**
 * Proof of an install: `{path, size, mtime, sha256}` of its main executable (or, when no executable
 * could be identified, of the store's own manifest file). Hashing is incremental: a persistent
 * cache keyed by path + size + mtime means a file is read again only when it changed, so a 2 TB
 * library costs a handful of `stat` calls per scan, not a re-hash.
 *
 *   const cache = new ProofCache(join(stateDir, 'proof-cache.json'));
 *   const proof = await cache.proof('/games/Foo/foo.exe');   // hashes once, then from the cache
 *   await cache.save();                                      // only writes when something changed
 */
import { createHash } from 'node:crypto';
import { createReadStream, existsSync, mkdirSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import { stat } from 'node:fs/promises';
import { dirname } from 'node:path';
import { z } from 'zod';

const Entry = z.object({ size: z.number().int().nonnegative(), mtimeMs: z.number().nonnegative(), sha256: z.string().regex(/^[0-9a-f]{64}$/) });
const CacheFile = z.object({ version: z.literal(1), entries: z.record(z.string(), Entry) });

export function sha256File(path) {
  return new Promise((resolve, reject) => {
    const h = createHash('sha256');
    createReadStream(path)
      .on('data', (d) => h.update(d))
      .on('error', reject)
      .on('end', () => resolve(h.digest('hex')));
  });
}

export class ProofCache {
  /** @param {string | null} file where the cache persists (null: memory only) */
  constructor(file, { hash = sha256File } = {}) {
    this.file = file;
    this.hash = hash;
    this.entries = new Map();
    this.used = new Set();
    this.dirty = false;
    this.hashed = 0;
    if (file && existsSync(file)) {
      try {
        const parsed = CacheFile.safeParse(JSON.parse(readFileSync(file, 'utf8')));
        if (parsed.success) for (const [k, v] of Object.entries(parsed.data.entries)) this.entries.set(k, v);
      } catch {
        // A corrupt cache only costs a re-hash.
      }
    }
  }

  /** The proof of one file; throws when the file is gone. */
  async proof(path) {
    const st = await stat(path);
    if (!st.isFile()) throw new Error(`${path} is not a file`);
    this.used.add(path);
    const hit = this.entries.get(path);
    let sha256;
    if (hit && hit.size === st.size && hit.mtimeMs === st.mtimeMs) sha256 = hit.sha256;
    else {
      sha256 = await this.hash(path);
      this.hashed += 1;
      this.entries.set(path, { size: st.size, mtimeMs: st.mtimeMs, sha256 });
      this.dirty = true;
    }
    return { path, sha256, size: st.size, mtime: new Date(st.mtimeMs).toISOString() };
  }

  /** Forgets files not asked about since the last save (uninstalled games), then persists. */
  async save() {
    for (const k of [...this.entries.keys()]) {
      if (!this.used.has(k)) {
        this.entries.delete(k);
        this.dirty = true;
      }
    }
    this.used.clear();
    if (!this.dirty || !this.file) return;
    mkdirSync(dirname(this.file), { recursive: true });
    const tmp = `${this.file}.${process.pid}.tmp`;
    writeFileSync(tmp, JSON.stringify({ version: 1, entries: Object.fromEntries(this.entries) }));
    renameSync(tmp, this.file);
    this.dirty = false;
  }
}
