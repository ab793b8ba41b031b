#!/usr/bin/env node
// Loads a local folder of recordings into the LOCAL R2 bucket the dev server uses
// (`.wrangler/state/v3`, bucket `edgeplane`), so the dashboard's file browser has something to show.
//
//   npm run media:import -- ./recordings          # {dir}/{driver}/{username}/... as on the recorder hosts
//   npm run media:import -- --demo                # generate a small demo tree first (./.wrangler/demo-media)
//   npm run media:import -- ./recordings --persist-to .wrangler/state   # another wrangler --persist-to
//
// Layout mapping (contract dvr-api §4.1): `.jpg` files (the thumbnailer's output, including the
// `{driver}/{username}.jpg` source thumbnail) go to `thumbnails/<relative path>`, everything else to
// `recordings/<relative path>`. Dot-files are skipped. Re-running overwrites objects with the same key.
// Every recording is also entered in the recordings catalog (local D1) as `stored`, with its
// `{name}.jpg` thumbnail when there is one: the dashboard lists recordings from the catalog only.
import { mkdir, readdir, readFile, stat, writeFile } from 'node:fs/promises';
import { join, relative, resolve, sep } from 'node:path';
import { readFileSync } from 'node:fs';
import { Miniflare } from 'miniflare';
import { parse } from 'smol-toml';

const args = process.argv.slice(2);
const flag = (name) => args.includes(`--${name}`);
const opt = (name, dflt) => {
  const i = args.indexOf(`--${name}`);
  return i >= 0 && args[i + 1] ? args[i + 1] : dflt;
};
const positional = args.filter((a, i) => !a.startsWith('--') && !(i > 0 && ['--persist-to', '--bucket'].includes(args[i - 1])));

const persistRoot = resolve(opt('persist-to', '.wrangler/state'), 'v3');
const bucketName = opt('bucket', 'edgeplane');

// A 1×1 grey JPEG, for generated thumbnails.
const JPEG = Buffer.from(
  '/9j/4AAQSkZJRgABAQEASABIAAD/2wBDAP//////////////////////////////////////////////////////////////////////////////////////wgALCAABAAEBAREA/8QAFBABAAAAAAAAAAAAAAAAAAAAAP/aAAgBAQABPxA=',
  'base64',
);

/** A demo tree: two sources with a few sessions of small MPEG-TS-looking segments and thumbnails. */
async function makeDemo(root) {
  const pad = (n) => String(n).padStart(2, '0');
  const stamp = (d) => `${d.getUTCFullYear()}-${pad(d.getUTCMonth() + 1)}-${pad(d.getUTCDate())}_${pad(d.getUTCHours())}-${pad(d.getUTCMinutes())}-${pad(d.getUTCSeconds())}`;
  const packet = Buffer.alloc(188, 0xff);
  packet[0] = 0x47; // MPEG-TS sync byte
  for (const [driver, username] of [
    ['chaturbate', 'alice'],
    ['stripchat', 'zed'],
  ]) {
    const dir = join(root, driver, username);
    for (let s = 0; s < 3; s++) {
      const start = new Date(Date.now() - (s + 1) * 86_400_000);
      const session = stamp(start);
      await mkdir(join(dir, session), { recursive: true });
      for (let seg = 0; seg < 3; seg++) {
        const name = `${session}_${String(seg).padStart(5, '0')}`;
        await writeFile(join(dir, session, `${name}.ts`), Buffer.concat(Array.from({ length: 200 + seg * 50 }, () => packet)));
        await writeFile(join(dir, session, `${name}.jpg`), JPEG);
      }
      await writeFile(join(dir, `${session}.jpg`), JPEG);
    }
    await writeFile(join(root, driver, `${username}.jpg`), JPEG);
  }
  return root;
}

async function* walk(dir) {
  for (const entry of await readdir(dir, { withFileTypes: true })) {
    if (entry.name.startsWith('.')) continue;
    const full = join(dir, entry.name);
    if (entry.isDirectory()) yield* walk(full);
    else if (entry.isFile()) yield full;
  }
}

const MAX_BYTES = 512e6;
const CONTENT_TYPES = { ts: 'video/mp2t', mp4: 'video/mp4', webm: 'video/webm', jpg: 'image/jpeg', jpeg: 'image/jpeg' };

async function main() {
  let source = positional[0];
  if (flag('demo')) source = await makeDemo(resolve(source ?? '.wrangler/demo-media'));
  if (!source) {
    console.error('usage: npm run media:import -- <dir> | --demo [--persist-to .wrangler/state] [--bucket edgeplane]');
    process.exit(2);
  }
  const root = resolve(source);
  if (!(await stat(root)).isDirectory()) throw new Error(`${root} is not a directory`);

  const mf = new Miniflare({
    modules: true,
    script: 'export default { fetch() { return new Response(null, { status: 404 }); } }',
    defaultPersistRoot: persistRoot,
    r2Buckets: { BUCKET: bucketName },
    // The same local database `wrangler dev` uses (keyed by the configured database_id).
    d1Databases: { DB: databaseId() },
  });
  try {
    const bucket = await mf.getR2Bucket('BUCKET');
    const d1 = await mf.getD1Database('DB');
    const files = [];
    let count = 0;
    let bytes = 0;
    for await (const file of walk(root)) {
      const rel = relative(root, file).split(sep).join('/');
      const segments = rel.split('/');
      if (segments.length < 2) {
        console.warn(`skipping ${rel}: expected {driver}/{username}/... or {driver}/{username}.jpg`);
        continue;
      }
      const ext = rel.slice(rel.lastIndexOf('.') + 1).toLowerCase();
      const key = `${ext === 'jpg' || ext === 'jpeg' ? 'thumbnails' : 'recordings'}/${rel}`;
      const size = (await stat(file)).size;
      if (size > MAX_BYTES) {
        console.warn(`skipping ${rel}: larger than ${MAX_BYTES / 1e6} MB (a dev import reads files into memory)`);
        continue;
      }
      await bucket.put(key, await readFile(file), { httpMetadata: { contentType: CONTENT_TYPES[ext] ?? 'application/octet-stream' } });
      if (key.startsWith('recordings/') && segments.length >= 3) files.push({ rel, segments, size });
      count += 1;
      bytes += size;
    }
    for (const f of files) await catalog(d1, root, f);
    console.log(`imported ${count} files (${(bytes / 1e6).toFixed(1)} MB) from ${root} into local R2 bucket "${bucketName}" (${persistRoot})`);
  } finally {
    await mf.dispose();
  }
}

function databaseId() {
  const cfg = parse(readFileSync(resolve(import.meta.dirname, '..', 'wrangler.toml'), 'utf8'));
  return cfg.d1_databases.find((d) => d.binding === 'DB').database_id;
}

/** Enters one imported recording in the catalog as stored (idempotent: same source and path). */
async function catalog(d1, root, { rel, segments, size }) {
  const [driver, username, ...rest] = segments;
  const relPath = rest.join('/');
  const now = new Date().toISOString();
  const thumbRel = relPath.replace(/\.[^./]*$/, '') + '.jpg';
  let thumb = null;
  try {
    thumb = (await stat(join(root, driver, username, thumbRel))).size;
  } catch {}
  await d1.prepare('INSERT INTO sources (driver, username) VALUES (?1, ?2) ON CONFLICT DO NOTHING').bind(driver, username).run();
  await d1
    .prepare(
      `INSERT INTO recordings (source_id, rel_path, r2_key, bytes, started_at, ended_at, thumbnail_key, thumbnail_bytes, state, stored_at)
       SELECT id, ?3, ?4, ?5, ?6, ?6, ?7, ?8, 'stored', ?6 FROM sources WHERE driver = ?1 AND username = ?2
       ON CONFLICT (source_id, rel_path) DO UPDATE SET bytes = excluded.bytes, state = 'stored', stored_at = excluded.stored_at,
         thumbnail_key = excluded.thumbnail_key, thumbnail_bytes = excluded.thumbnail_bytes`,
    )
    .bind(driver, username, relPath, `recordings/${rel}`, size, now, thumb === null ? null : `thumbnails/${driver}/${username}/${thumbRel}`, thumb)
    .run();
}

main().catch((e) => {
  console.error(e instanceof Error ? e.message : e);
  process.exit(1);
});
