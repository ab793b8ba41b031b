// `node tools/bundle-size.mjs [outdir]`: the deployed Worker's size as wrangler uploads it, from the
// `npm run dry-run` output (.wrangler/dry-run): every module, minified, gzip-compressed (source
// maps are not uploaded). Prints the figure and exits 1 above the budget (issue 17: 250 KB gzip,
// counted as 250,000 bytes so the budget holds in either unit). CI runs it after the dry run.
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { gzipSync } from 'node:zlib';

const BUDGET_BYTES = 250_000;
const dir = process.argv[2] ?? '.wrangler/dry-run';
const modules = readdirSync(dir).filter((f) => /\.(m?js|wasm)$/.test(f));
if (modules.length === 0) {
  console.error(`bundle-size: no modules in ${dir} (run \`npm run dry-run\` first)`);
  process.exit(1);
}
let raw = 0;
let gzip = 0;
for (const f of modules) {
  const bytes = readFileSync(join(dir, f));
  raw += bytes.length;
  gzip += gzipSync(bytes, { level: 9 }).length;
}
const kib = (n) => `${(n / 1024).toFixed(2)} KiB`;
console.log(`bundle: ${modules.length} module(s), ${kib(raw)} minified, ${kib(gzip)} (${gzip} bytes) gzip; budget ${BUDGET_BYTES} bytes`);
if (gzip > BUDGET_BYTES) {
  console.error(`bundle-size: ${gzip} bytes gzip is over the ${BUDGET_BYTES}-byte budget (find what grew: \`npx wrangler deploy --dry-run --outdir .wrangler/dry-run --metafile .wrangler/meta.json\`)`);
  process.exit(1);
}
