// `npm run bench`: runs every bench/*.bench.mjs in turn (or the ones named on the command line,
// e.g. `npm run bench -- platform`). Each file exports `default async function run()` and prints its
// own tables through bench/lib.mjs. Not part of `npm test`.
import { readdirSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';

const here = dirname(fileURLToPath(import.meta.url));
const wanted = process.argv.slice(2);
const files = readdirSync(here)
  .filter((f) => f.endsWith('.bench.mjs'))
  .filter((f) => wanted.length === 0 || wanted.some((w) => f.startsWith(w)))
  .sort();
console.log(`# Edgeplane benchmarks (${new Date().toISOString()}, ${files.length} suite(s))`);
let failed = 0;
for (const f of files) {
  try {
    const mod = await import(pathToFileURL(join(here, f)).href);
    await mod.default();
  } catch (e) {
    failed++;
    console.error(`\n${f} failed: ${e?.stack ?? e}`);
  }
}
process.exit(failed ? 1 : 0);
