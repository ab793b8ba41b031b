/**
 * Layers point down (issue 12, target 6): entry → areas → services → auth → http → db. The one
 * service today is notifications: both products publish events to it (webhooks), so it sits below
 * them and never imports either. Reads the imports of
 * src/**\/*.ts and durable-objects/*.ts (static, dynamic and `import type` alike: a type import
 * still couples the modules) and checks three rules:
 *
 * 1. an import points to the same or a lower layer;
 * 2. no area imports another area (console, dvr, metrics; a Durable Object counts as part of its
 *    area);
 * 3. no module that exports a route sub-app imports another such module (shared logic goes to a
 *    non-route module of the area, or a lower layer).
 *
 * `src/env.ts`, `src/world.ts` and `src/*.d.ts` are shared leaves every layer may use; they may
 * themselves import types only. The typed client (`src/client*`) sits above the entry: it types
 * itself from `App`.
 */
import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { dirname, join, relative, resolve } from 'node:path';
import { describe, expect, it } from 'vitest';
import { ROOT } from '../../tools/stack.mjs';

/**
 * Accepted exceptions, as 'from -> to' (none today: keep it that way). The test also fails when a
 * listed violation no longer exists, so the list can only shrink.
 */
const KNOWN_VIOLATIONS = [];

const ENTRY = new Set(['src/index.ts', 'src/app.ts', 'src/scheduled.ts', 'src/retention.ts']);
const DURABLE_OBJECT_AREA = {
  'durable-objects/org-allocator.ts': 'console',
  'durable-objects/source-monitor.ts': 'dvr',
  'durable-objects/overseer-link.ts': 'dvr',
};
const AREAS = ['console', 'dvr', 'metrics'];
const SERVICES = ['notifications'];
const RANK = { db: 0, http: 1, auth: 2, service: 3, area: 4, entry: 5, client: 6 };

/** `{ layer, area? }`, `{ shared: true }` for the leaves, or null for a file outside the rules. */
export function classify(file) {
  if (file === 'src/env.ts' || file === 'src/world.ts' || /^src\/[^/]+\.d\.ts$/.test(file)) return { shared: true };
  if (ENTRY.has(file)) return { layer: 'entry' };
  if (/^src\/client[^/]*(\/|\.ts$)/.test(file)) return { layer: 'client' };
  if (DURABLE_OBJECT_AREA[file]) return { layer: 'area', area: DURABLE_OBJECT_AREA[file] };
  const top = file.split('/')[1];
  if (file.startsWith('src/') && AREAS.includes(top)) return { layer: 'area', area: top };
  if (file.startsWith('src/') && SERVICES.includes(top)) return { layer: 'service' };
  if (file.startsWith('src/auth/')) return { layer: 'auth' };
  if (file.startsWith('src/http/')) return { layer: 'http' };
  if (file.startsWith('src/db/')) return { layer: 'db' };
  return null;
}

function walk(dir) {
  if (!existsSync(dir)) return [];
  return readdirSync(dir).flatMap((name) => {
    const p = join(dir, name);
    return statSync(p).isDirectory() ? walk(p) : p.endsWith('.ts') ? [p] : [];
  });
}

/** Relative specifiers of every import/export-from/dynamic import, with whether it is type-only. */
export function importsOf(source) {
  const out = [];
  const fromRe = /^\s*(import|export)\s+(type\s+)?(?:[^;]*?)\s+from\s+['"]([^'"]+)['"]/gm;
  for (const m of source.matchAll(fromRe)) out.push({ spec: m[3], typeOnly: Boolean(m[2]) });
  for (const m of source.matchAll(/^\s*import\s+['"]([^'"]+)['"]/gm)) out.push({ spec: m[1], typeOnly: false });
  for (const m of source.matchAll(/\bimport\(\s*['"]([^'"]+)['"]\s*\)/g)) out.push({ spec: m[1], typeOnly: false });
  return out.filter((i) => i.spec.startsWith('.'));
}

function resolveImport(fromFile, spec) {
  const base = resolve(ROOT, dirname(fromFile), spec);
  for (const candidate of [base, `${base}.ts`, `${base.replace(/\.js$/, '')}.ts`, join(base, 'index.ts')]) {
    if (existsSync(candidate) && statSync(candidate).isFile()) return relative(ROOT, candidate).split('\\').join('/');
  }
  return null;
}

/** A module that exports a route sub-app (the resource routers the route map mounts). */
export function exportsRouter(source) {
  return /^export\s+const\s+\w+\s*=\s*(newRouter\b|new\s+(OpenAPIHono|Hono)\b)/m.test(source);
}

function violations() {
  const files = [...walk(join(ROOT, 'src')), ...walk(join(ROOT, 'durable-objects'))].map((p) => relative(ROOT, p).split('\\').join('/'));
  const sources = new Map(files.map((f) => [f, readFileSync(join(ROOT, f), 'utf8')]));
  const routers = new Set(files.filter((f) => exportsRouter(sources.get(f))));
  const found = new Map();
  const add = (from, to, why) => found.set(`${from} -> ${to}`, why);
  for (const from of files) {
    const a = classify(from);
    if (!a) continue;
    for (const { spec, typeOnly } of importsOf(sources.get(from))) {
      const to = resolveImport(from, spec);
      if (!to || to === from) continue;
      const b = classify(to);
      if (a.shared) {
        if (!typeOnly && b && !b.shared) add(from, to, 'a shared leaf imports runtime code from a layer');
        continue;
      }
      if (!b || b.shared) continue;
      if (RANK[b.layer] > RANK[a.layer]) add(from, to, `${a.layer} imports ${b.layer} (upward)`);
      else if (a.area && b.area && a.area !== b.area) add(from, to, `area ${a.area} imports area ${b.area}`);
      else if (routers.has(from) && routers.has(to)) add(from, to, 'a router imports another router');
    }
  }
  return found;
}

describe('layers point down', () => {
  const found = violations();

  it('finds every source file in a layer (the rules cover the whole tree)', () => {
    const files = [...walk(join(ROOT, 'src')), ...walk(join(ROOT, 'durable-objects'))].map((p) => relative(ROOT, p).split('\\').join('/'));
    expect(files.length).toBeGreaterThan(50);
    expect(files.filter((f) => classify(f) === null)).toEqual([]);
  });

  it('has no import that points up, across areas, or from a router to a router (beyond the known list)', () => {
    const unexpected = [...found.entries()].filter(([pair]) => !KNOWN_VIOLATIONS.includes(pair)).map(([pair, why]) => `${pair}  (${why})`);
    expect(unexpected).toEqual([]);
  });

  it('lists only violations that still exist (the known list only shrinks)', () => {
    expect(KNOWN_VIOLATIONS.filter((pair) => !found.has(pair))).toEqual([]);
  });
});

describe('the layer rules themselves', () => {
  it('reads type imports, multi-line imports, re-exports and dynamic imports', () => {
    const src = [
      "import type { A } from '../auth/a';",
      'import {\n  b,\n  c,\n} from "./b";',
      "export { d } from '../db/d';",
      "const e = await import('./e');",
      "import 'hono';",
    ].join('\n');
    expect(importsOf(src)).toEqual([
      { spec: '../auth/a', typeOnly: true },
      { spec: './b', typeOnly: false },
      { spec: '../db/d', typeOnly: false },
      { spec: './e', typeOnly: false },
    ]);
  });

  it('puts Durable Objects in their area and the leaves outside every layer', () => {
    expect(classify('durable-objects/org-allocator.ts')).toEqual({ layer: 'area', area: 'console' });
    expect(classify('durable-objects/overseer-link.ts')).toEqual({ layer: 'area', area: 'dvr' });
    expect(classify('src/metrics/routes.ts')).toEqual({ layer: 'area', area: 'metrics' });
    expect(classify('src/http/metrics/record.ts')).toEqual({ layer: 'http' });
    expect(classify('src/env.ts')).toEqual({ shared: true });
  });

  it('recognises a module that exports a route sub-app', () => {
    expect(exportsRouter('export const orgRoutes = newRouter()\n  .openapi(')).toBe(true);
    expect(exportsRouter('export const launcherPageRoutes = new Hono<AppEnv>().get(')).toBe(true);
    expect(exportsRouter('export function newRouter() {\n  return new OpenAPIHono();')).toBe(false);
  });
});
