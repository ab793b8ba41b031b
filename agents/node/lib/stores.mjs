/**
 * Installed games, discovered from the stores' own files (never from a list someone typed):
 *
 * - Steam: every library in `steamapps/libraryfolders.vdf` (the root's own library included), and
 *   in each one every `steamapps/appmanifest_<appid>.acf` (appid, name, installdir, SizeOnDisk,
 *   StateFlags). Only fully installed apps count (StateFlags has bit 4, StateFullyInstalled, and
 *   none of uninstalled 1, files missing 32, uninstalling 2048) whose `common/<installdir>` exists.
 *   Both files are Valve KeyValues, read with vdf-parser (strings kept as strings).
 * - Epic Games Launcher: `Manifests/*.item` JSON (CatalogItemId, AppName, InstallLocation,
 *   LaunchExecutable); incomplete installs and DLC (MainGameAppName ≠ AppName) are skipped.
 * - GOG: `goggame-<gameId>.info` JSON in each game folder under the configured roots; the primary
 *   FileTask is the executable; DLC (rootGameId ≠ gameId) is skipped.
 * - DRM-free: folders the operator lists, with the executable and either a catalog game id or a
 *   store id.
 *
 * Every file is validated (zod); a malformed one is skipped with a warning, never fatal. Nothing
 * here talks to the network: mapping store ids to catalog games is the control plane's job.
 *
 *   const found = await discover(cfg.libraries, { executables: cfg.executables, warn });
 *   // [{ store: 'steam', key: 'steam:730', refs: [{platform:'steam', external_id:'730'}], name, install_path, executable, manifest }]
 */
import { existsSync } from 'node:fs';
import { readdir, readFile, stat } from 'node:fs/promises';
import { homedir } from 'node:os';
import { basename, dirname, extname, isAbsolute, join, resolve } from 'node:path';
import vdf from 'vdf-parser';
import { z } from 'zod';

const isWindows = process.platform === 'win32';

/** The usual places of each store on this platform (used when the config names none). */
export function defaultLibraries() {
  if (isWindows) {
    const pf86 = process.env['ProgramFiles(x86)'] ?? 'C:\\Program Files (x86)';
    const data = process.env.ProgramData ?? 'C:\\ProgramData';
    return {
      steam: [join(pf86, 'Steam')],
      epic_manifests: [join(data, 'Epic', 'EpicGamesLauncher', 'Data', 'Manifests')],
      gog: [join(pf86, 'GOG Galaxy', 'Games')],
    };
  }
  const home = homedir();
  return {
    steam: [join(home, '.local', 'share', 'Steam'), join(home, '.steam', 'steam'), join(home, '.var', 'app', 'com.valvesoftware.Steam', '.local', 'share', 'Steam')],
    epic_manifests: [],
    gog: [join(home, 'GOG Games')],
  };
}

// ─────────────── Valve KeyValues ───────────────

/** KeyValues escapes (\\ \" \n \t) that the parser leaves in place. */
function unescapeKv(s) {
  return s.replace(/\\(["\\nt])/g, (_, c) => (c === 'n' ? '\n' : c === 't' ? '\t' : c));
}

function deepUnescape(v) {
  if (typeof v === 'string') return unescapeKv(v);
  if (Array.isArray(v)) return v.map(deepUnescape);
  if (v && typeof v === 'object') return Object.fromEntries(Object.entries(v).map(([k, x]) => [k, deepUnescape(x)]));
  return v;
}

/** Parses Valve KeyValues text; keys are matched case-insensitively (Steam is not consistent). */
export function parseKeyValues(text) {
  const parsed = vdf.parse(text, { types: false, arrayify: false });
  if (!parsed || typeof parsed !== 'object') throw new Error('not KeyValues');
  return lowerKeys(deepUnescape(parsed));
}

function lowerKeys(v) {
  if (!v || typeof v !== 'object' || Array.isArray(v)) return v;
  return Object.fromEntries(Object.entries(v).map(([k, x]) => [k.toLowerCase(), lowerKeys(x)]));
}

const Digits = z.string().regex(/^[0-9]{1,20}$/);
const AppState = z.object({
  appid: Digits,
  name: z.string().max(512).default(''),
  installdir: z
    .string()
    .min(1)
    .max(512)
    .refine((d) => !d.includes('..') && !isAbsolute(d), 'must stay inside steamapps/common'),
  sizeondisk: Digits.optional(),
  stateflags: Digits,
});

const STATE_UNINSTALLED = 1;
const STATE_FULLY_INSTALLED = 4;
const STATE_FILES_MISSING = 32;
const STATE_UNINSTALLING = 2048;

export function fullyInstalled(flags) {
  return (flags & STATE_FULLY_INSTALLED) !== 0 && (flags & (STATE_UNINSTALLED | STATE_FILES_MISSING | STATE_UNINSTALLING)) === 0;
}

/** Library folders of a Steam root: the root itself plus every `path` in libraryfolders.vdf. */
export async function steamLibraries(root, warn) {
  const libs = [root];
  for (const file of [join(root, 'steamapps', 'libraryfolders.vdf'), join(root, 'config', 'libraryfolders.vdf')]) {
    if (!existsSync(file)) continue;
    try {
      const kv = parseKeyValues(await readFile(file, 'utf8'));
      const folders = kv.libraryfolders ?? {};
      for (const [key, entry] of Object.entries(folders)) {
        if (!/^[0-9]+$/.test(key)) continue; // contentstatsid, timenextstatsreport ...
        // Current format: an object with "path"; before 2021: the path itself.
        const path = typeof entry === 'string' ? entry : typeof entry?.path === 'string' ? entry.path : null;
        if (path && isAbsolute(path)) libs.push(path);
        else warn?.(`${file}: library ${key} has no absolute path`);
      }
    } catch (e) {
      warn?.(`${file}: unreadable (${e.message})`);
    }
    break;
  }
  const seen = new Set();
  return libs.filter((l) => {
    const k = isWindows ? resolve(l).toLowerCase() : resolve(l);
    if (seen.has(k)) return false;
    seen.add(k);
    return true;
  });
}

/** A store file parsed and validated, or null (with one warning) when it is unreadable or malformed. */
async function readValidated(file, schema, parse, warn) {
  try {
    const parsed = schema.safeParse(parse(await readFile(file, 'utf8')));
    if (!parsed.success) throw new Error(parsed.error.issues.map((i) => `${i.path.join('.')}: ${i.message}`).join('; '));
    return parsed.data;
  } catch (e) {
    warn?.(`${file}: skipped (${e.message})`);
    return null;
  }
}

async function listDir(dir) {
  try {
    return await readdir(dir, { withFileTypes: true });
  } catch {
    return [];
  }
}

async function isDir(p) {
  try {
    return (await stat(p)).isDirectory();
  } catch {
    return false;
  }
}

async function steamGames(roots, opts) {
  const out = [];
  const seenApps = new Set();
  for (const root of roots) {
    if (!(await isDir(root))) continue;
    for (const lib of await steamLibraries(root, opts.warn)) {
      const apps = join(lib, 'steamapps');
      for (const ent of await listDir(apps)) {
        if (!ent.isFile() || !/^appmanifest_[0-9]+\.acf$/i.test(ent.name)) continue;
        const file = join(apps, ent.name);
        const state = await readValidated(file, AppState, (t) => parseKeyValues(t).appstate, opts.warn);
        if (!state || !fullyInstalled(Number(state.stateflags))) continue;
        if (seenApps.has(state.appid)) continue;
        const installPath = join(apps, 'common', state.installdir);
        if (!(await isDir(installPath))) continue;
        seenApps.add(state.appid);
        const key = `steam:${state.appid}`;
        out.push({
          store: 'steam',
          key,
          refs: [{ platform: 'steam', external_id: state.appid }],
          name: state.name,
          install_path: installPath,
          size_on_disk: state.sizeondisk ? Number(state.sizeondisk) : null,
          executable: await mainExecutable(installPath, { override: opts.executables?.[key], hints: [state.installdir, state.name] }),
          manifest: file,
        });
      }
    }
  }
  return out;
}

// ─────────────── Epic ───────────────

const EpicItem = z.object({
  AppName: z.string().min(1).max(200),
  CatalogItemId: z.string().min(1).max(200).optional(),
  DisplayName: z.string().max(512).optional(),
  InstallLocation: z.string().min(1).max(1024),
  LaunchExecutable: z.string().max(1024).optional(),
  MainGameAppName: z.string().max(200).optional(),
  bIsIncompleteInstall: z.boolean().optional(),
});

async function epicGames(dirs, opts) {
  const out = [];
  for (const dir of dirs) {
    for (const ent of await listDir(dir)) {
      if (!ent.isFile() || extname(ent.name).toLowerCase() !== '.item') continue;
      const file = join(dir, ent.name);
      const item = await readValidated(file, EpicItem, JSON.parse, opts.warn);
      if (!item || item.bIsIncompleteInstall) continue;
      if (item.MainGameAppName && item.MainGameAppName !== item.AppName) continue; // DLC
      if (!isAbsolute(item.InstallLocation) || !(await isDir(item.InstallLocation))) continue;
      const refs = [];
      if (item.CatalogItemId) refs.push({ platform: 'epic', external_id: item.CatalogItemId });
      refs.push({ platform: 'epic', external_id: item.AppName });
      const key = `epic:${item.AppName}`;
      const launch = item.LaunchExecutable && !item.LaunchExecutable.includes('..') ? item.LaunchExecutable : null;
      out.push({
        store: 'epic',
        key,
        refs,
        name: item.DisplayName ?? item.AppName,
        install_path: item.InstallLocation,
        size_on_disk: null,
        executable: await mainExecutable(item.InstallLocation, { override: opts.executables?.[key] ?? launch, hints: [item.AppName, item.DisplayName ?? ''] }),
        manifest: file,
      });
    }
  }
  return out;
}

// ─────────────── GOG ───────────────

const GogInfo = z.object({
  gameId: z.string().regex(/^[0-9]{1,20}$/),
  rootGameId: z.string().regex(/^[0-9]{1,20}$/).optional(),
  name: z.string().max(512).default(''),
  playTasks: z
    .array(z.object({ isPrimary: z.boolean().optional(), type: z.string().optional(), path: z.string().max(1024).optional() }).passthrough())
    .default([]),
});

async function gogInfoFiles(dir, depth) {
  const files = [];
  for (const ent of await listDir(dir)) {
    const p = join(dir, ent.name);
    if (ent.isFile() && /^goggame-[0-9]+\.info$/i.test(ent.name)) files.push(p);
    else if (ent.isDirectory() && depth > 0) files.push(...(await gogInfoFiles(p, depth - 1)));
  }
  return files;
}

async function gogGames(roots, opts) {
  const out = [];
  const seen = new Set();
  for (const root of roots) {
    for (const file of await gogInfoFiles(root, 2)) {
      const info = await readValidated(file, GogInfo, JSON.parse, opts.warn);
      if (!info) continue;
      if (info.rootGameId && info.rootGameId !== info.gameId) continue; // DLC
      if (seen.has(info.gameId)) continue;
      seen.add(info.gameId);
      const dir = dirname(file);
      const primary = info.playTasks.find((t) => t.isPrimary && (t.type ?? 'FileTask') === 'FileTask' && t.path) ?? info.playTasks.find((t) => t.type === 'FileTask' && t.path);
      const key = `gog:${info.gameId}`;
      const launch = primary?.path && !primary.path.includes('..') ? primary.path : null;
      out.push({
        store: 'gog',
        key,
        refs: [{ platform: 'gog', external_id: info.gameId }],
        name: info.name,
        install_path: dir,
        size_on_disk: null,
        executable: await mainExecutable(dir, { override: opts.executables?.[key] ?? launch, hints: [info.name, basename(dir)] }),
        manifest: file,
      });
    }
  }
  return out;
}

// ─────────────── DRM-free ───────────────

async function drmFreeGames(entries) {
  const out = [];
  for (const e of entries) {
    if (!(await isDir(e.path))) continue;
    const exe = isAbsolute(e.executable) ? e.executable : join(e.path, e.executable);
    const refs = 'game_id' in e ? [] : [{ platform: e.platform, external_id: e.external_id }];
    out.push({
      store: 'drm-free',
      key: 'game_id' in e ? `game:${e.game_id}` : `${e.platform}:${e.external_id}`,
      refs,
      game_id: 'game_id' in e ? e.game_id : undefined,
      name: basename(e.path),
      install_path: e.path,
      size_on_disk: null,
      executable: existsSync(exe) ? exe : null,
      manifest: null,
    });
  }
  return out;
}

// ─────────────── the main executable ───────────────

const NOT_MAIN = /(unins|uninstall|crash|report|setup|redist|vcredist|directx|dxsetup|dotnet|installer|helper|updater|easyanticheat|battleye|be_service|cefprocess|ue4prereq|prereq)/i;
const MAX_ENTRIES = 5000;

function normal(s) {
  return s.toLowerCase().replace(/[^a-z0-9]/g, '');
}

/**
 * The game's main executable: the configured or store-declared one when it exists; otherwise the
 * best candidate within four levels of the install folder (`.exe` files, or on Linux/macOS
 * executable files), preferring names that match the folder or game name, then the largest.
 * Bounded walk, so a huge install folder costs at most a few thousand stat calls.
 */
export async function mainExecutable(installPath, { override, hints = [] } = {}) {
  if (override) {
    const p = isAbsolute(override) ? override : join(installPath, override);
    if (await isFile(p)) return p;
  }
  const wanted = hints.map(normal).filter((h) => h.length >= 3);
  const candidates = [];
  let visited = 0;
  const walk = async (dir, depth) => {
    for (const ent of await listDir(dir)) {
      if (++visited > MAX_ENTRIES) return;
      const p = join(dir, ent.name);
      if (ent.isDirectory()) {
        if (depth < 4 && !/^(\.|_commonredist$|redist$|directx$|support$)/i.test(ent.name)) await walk(p, depth + 1);
        continue;
      }
      if (!ent.isFile() || NOT_MAIN.test(ent.name)) continue;
      const ext = extname(ent.name).toLowerCase();
      let st;
      try {
        st = await stat(p);
      } catch {
        continue;
      }
      const runnable = ext === '.exe' || (!isWindows && (st.mode & 0o111) !== 0 && ['', '.x86_64', '.x86', '.sh', '.bin', '.appimage'].includes(ext));
      if (!runnable) continue;
      const stem = normal(basename(ent.name, ext));
      const named = wanted.some((h) => stem.length >= 2 && (h.includes(stem) || stem.includes(h)));
      candidates.push({ p, score: (named ? 2 : 0) + (ext === '.sh' ? -1 : 0), size: st.size, depth });
    }
  };
  await walk(installPath, 0);
  candidates.sort((a, b) => b.score - a.score || b.size - a.size || a.depth - b.depth || (a.p < b.p ? -1 : 1));
  return candidates[0]?.p ?? null;
}

async function isFile(p) {
  try {
    return (await stat(p)).isFile();
  } catch {
    return false;
  }
}

/**
 * Everything installed, from every configured store. `libraries` fields left out use the
 * platform's usual places; an empty list switches a store off.
 */
export async function discover(libraries = {}, opts = {}) {
  const defaults = defaultLibraries();
  const pick = (k) => libraries[k] ?? defaults[k];
  const [steam, epic, gog, drmFree] = await Promise.all([
    steamGames(pick('steam'), opts),
    epicGames(pick('epic_manifests'), opts),
    gogGames(pick('gog'), opts),
    drmFreeGames(libraries.drm_free ?? []),
  ]);
  return [...steam, ...epic, ...gog, ...drmFree];
}

/** Folders whose changes mean the install set may have changed (watched by the agent). */
export async function watchTargets(libraries = {}) {
  const defaults = defaultLibraries();
  const targets = [];
  for (const root of libraries.steam ?? defaults.steam) {
    if (!(await isDir(root))) continue;
    for (const lib of await steamLibraries(root)) targets.push(join(lib, 'steamapps'));
  }
  targets.push(...(libraries.epic_manifests ?? defaults.epic_manifests), ...(libraries.gog ?? defaults.gog));
  for (const e of libraries.drm_free ?? []) targets.push(e.path);
  const out = [];
  for (const t of targets) if (await isDir(t)) out.push(t);
  return out;
}
