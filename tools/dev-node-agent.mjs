// The local demo's node agent: the REAL agent (agents/node/cli.mjs run) against a demo library of
// real-format store files written here, for the seeded node. Not deployed. Used by `npm start` and
// the browser tests through tools/stack.mjs:
//
//   const child = await startDemoAgent({ url, persistTo, credentials, vars, env, stdio });
//
// What it writes under <persistTo> (idempotent: existing files are left alone, so their mtimes and
// the agent's proof cache survive restarts):
//   demo-library/Steam/...            a Steam installation with two library folders
//                                     (libraryfolders.vdf, appmanifest_*.acf, small executables)
//                                     holding the seeded catalog's Steam games
//   demo-library/DRM-free/retro-arcade  a DRM-free folder mapped by store id (arcade:arcade-group-2024)
//   demo-node-agent/config.json       the agent's settings (demo launch hook, the libraries above)
//   demo-node-agent/node-token        the seeded node's token (0600)
//
// Run it by hand against a running `npm start`:
//   node agents/node/cli.mjs run --config-dir .wrangler/state/demo-node-agent
import { spawn } from 'node:child_process';
import { chmodSync, existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '..');

/** The seeded catalog's Steam games (tools/seed/catalog.sql), split over two library folders. */
const STEAM_APPS = [
  { lib: 0, appid: '730', name: 'Counter-Strike 2', installdir: 'Counter-Strike Global Offensive', exe: 'game/bin/linuxsteamrt64/cs2' },
  { lib: 0, appid: '570', name: 'Dota 2', installdir: 'dota 2 beta', exe: 'game/bin/linuxsteamrt64/dota2' },
  { lib: 0, appid: '1593500', name: 'Steam Big Picture', installdir: 'Steam Big Picture', exe: 'bigpicture' },
  { lib: 1, appid: '252490', name: 'Rust', installdir: 'Rust', exe: 'RustClient' },
  { lib: 1, appid: '1086940', name: "Baldur's Gate 3", installdir: "Baldurs Gate 3", exe: 'bin/bg3' },
  { lib: 1, appid: '553850', name: 'HELLDIVERS 2', installdir: 'Helldivers 2', exe: 'bin/helldivers2' },
];

const kvq = (s) => `"${String(s).replace(/\\/g, '\\\\').replace(/"/g, '\\"')}"`;

function writeOnce(path, content, mode) {
  if (existsSync(path)) return;
  mkdirSync(dirname(path), { recursive: true });
  writeFileSync(path, content);
  if (mode) chmodSync(path, mode);
}

/** Writes the demo library (only what is missing); returns the agent's `libraries` setting. */
export function writeDemoLibrary(dir) {
  const steam = join(dir, 'Steam');
  const libs = [steam, join(dir, 'SteamLibrary')];
  writeOnce(
    join(steam, 'steamapps', 'libraryfolders.vdf'),
    ['"libraryfolders"', '{', ...libs.flatMap((p, i) => [`\t"${i}"`, '\t{', `\t\t"path"\t\t${kvq(p)}`, '\t\t"label"\t\t""', '\t\t"apps"', '\t\t{', '\t\t}', '\t}']), '}', ''].join('\n'),
  );
  for (const a of STEAM_APPS) {
    const apps = join(libs[a.lib], 'steamapps');
    const body = `#!/bin/sh\n# demo stand-in for ${a.name}\nexec sleep 86400\n`;
    writeOnce(join(apps, 'common', a.installdir, a.exe), body, 0o755);
    writeOnce(
      join(apps, `appmanifest_${a.appid}.acf`),
      `"AppState"\n{\n\t"appid"\t\t"${a.appid}"\n\t"universe"\t\t"1"\n\t"name"\t\t${kvq(a.name)}\n\t"StateFlags"\t\t"4"\n\t"installdir"\t\t${kvq(a.installdir)}\n\t"SizeOnDisk"\t\t"${body.length}"\n\t"buildid"\t\t"1"\n}\n`,
    );
  }
  const arcade = join(dir, 'DRM-free', 'retro-arcade');
  writeOnce(join(arcade, 'arcade.sh'), '#!/bin/sh\n# demo stand-in for the retro arcade\nexec sleep 86400\n', 0o755);
  return {
    steam: [steam],
    epic_manifests: [],
    gog: [],
    drm_free: [{ path: arcade, executable: 'arcade.sh', platform: 'arcade', external_id: 'arcade-group-2024' }],
  };
}

function issuerOf(vars) {
  if (vars?.JWT_ISSUER) return vars.JWT_ISSUER;
  const m = /^JWT_ISSUER\s*=\s*"([^"]*)"/m.exec(readFileSync(join(ROOT, 'wrangler.toml'), 'utf8'));
  return m?.[1] ?? 'edgeplane';
}

/**
 * Writes the demo library and the agent's config for the seeded node, then starts the real agent.
 * Returns the child process, or null when the seed has no node (accounts made elsewhere).
 */
export async function startDemoAgent({ url, persistTo, credentials, vars = {}, env = process.env, stdio = ['ignore', 'inherit', 'inherit'] }) {
  if (!credentials?.node?.token || !credentials.node.id || !credentials.admin) return null;
  // The node's org: the seed registers it in the default org.
  const login = await fetch(`${url}/auth/login`, { method: 'POST', headers: { 'Content-Type': 'application/json' }, body: JSON.stringify(credentials.admin) }).then((r) => r.json());
  const orgs = await fetch(`${url}/orgs`, { headers: { Authorization: `Bearer ${login.token}` } }).then((r) => r.json());
  const org = Array.isArray(orgs) ? orgs.find((o) => o.slug === 'default') : null;
  if (!org) return null;

  const libraries = writeDemoLibrary(join(persistTo, 'demo-library'));
  const dir = join(persistTo, 'demo-node-agent');
  mkdirSync(dir, { recursive: true });
  const hook = join(ROOT, 'tools', 'demo-launch-hook.mjs');
  const config = {
    api: url,
    node_id: credentials.node.id,
    org_id: org.id,
    node_name: 'living-room-rig',
    jwks_url: `${url}/.well-known/jwks.json`,
    session_token: { issuer: issuerOf(vars), audience: 'couchsuite-stream', typ: 'play-session+jwt' },
    launch_hook: `"${process.execPath}" "${hook}"`,
    stop_grace_seconds: 3,
    libraries,
    rescan_seconds: 60,
    max_backoff_seconds: 30,
  };
  // Rewritten every start: the URL and port change between runs.
  writeFileSync(join(dir, 'config.json'), JSON.stringify(config, null, 2) + '\n');
  const tokenFile = join(dir, 'node-token');
  // The agent may have rolled its token over since the seed: keep the file's token if it is newer.
  if (!existsSync(tokenFile)) writeFileSync(tokenFile, credentials.node.token + '\n', { mode: 0o600 });
  return spawn(process.execPath, [join(ROOT, 'agents', 'node', 'cli.mjs'), 'run', '--config-dir', dir], {
    cwd: ROOT,
    env: { ...env, EDGEPLANE_NODE_CONFIG_DIR: dir },
    stdio,
  });
}
