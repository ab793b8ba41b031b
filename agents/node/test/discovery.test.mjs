// Discovery, mapping, proofs and the proof cache, on real-format store files written by the tests.
import { createHash } from 'node:crypto';
import { readFileSync, rmSync, statSync, unlinkSync, utimesSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { buildInstalls } from '../lib/agent.mjs';
import { ProofCache } from '../lib/proofs.mjs';
import { discover, fullyInstalled, parseKeyValues, steamLibraries } from '../lib/stores.mjs';
import { librariesOf, libraryFoldersVdf, makeLibrary, writeExecutable } from './fixtures.mjs';

const sha = (path) => createHash('sha256').update(readFileSync(path)).digest('hex');
const made = [];
function library() {
  const lib = makeLibrary();
  made.push(lib.root);
  return lib;
}
afterEach(() => {
  while (made.length) rmSync(made.pop(), { recursive: true, force: true });
});

/** A catalog as the control plane would resolve it. */
const CATALOG = { 'steam:730': 11, 'steam:570': 12, 'steam:1086940': 13, 'epic:Fortress': 21, 'gog:1207664663': 31, 'arcade:arcade-group-2024': 41 };
const resolve = async (refs) =>
  refs.filter((r) => CATALOG[`${r.platform}:${r.external_id}`]).map((r) => ({ ...r, game_id: CATALOG[`${r.platform}:${r.external_id}`] }));

describe('Valve KeyValues', () => {
  it('reads libraryfolders.vdf with Windows paths escaped as Steam writes them', () => {
    const kv = parseKeyValues(libraryFoldersVdf(['C:\\Program Files (x86)\\Steam', 'D:\\SteamLibrary']));
    expect(kv.libraryfolders['0'].path).toBe('C:\\Program Files (x86)\\Steam');
    expect(kv.libraryfolders['1'].path).toBe('D:\\SteamLibrary');
  });

  it('keeps values as strings (an app named "007" stays "007") and matches keys case-insensitively', () => {
    const kv = parseKeyValues('"AppState"\n{\n\t"AppID"\t\t"0070"\n\t"name"\t\t"007"\n\t"SizeOnDisk"\t\t"18446744073709551615"\n}\n');
    expect(kv.appstate).toEqual({ appid: '0070', name: '007', sizeondisk: '18446744073709551615' });
  });

  it('reads the pre-2021 libraryfolders format (paths as plain values)', async () => {
    const lib = library();
    writeFileSync(
      join(lib.steamRoot, 'steamapps', 'libraryfolders.vdf'),
      `"LibraryFolders"\n{\n\t"TimeNextStatsReport"\t\t"1732060800"\n\t"ContentStatsID"\t\t"-4812305113524785401"\n\t"1"\t\t"${lib.libraryB}"\n}\n`,
    );
    expect(await steamLibraries(lib.steamRoot)).toEqual([lib.steamRoot, lib.libraryB]);
  });

  it('counts an app as installed only with StateFlags FullyInstalled and nothing missing', () => {
    expect(fullyInstalled(4)).toBe(true);
    expect(fullyInstalled(6)).toBe(true); // installed, update queued: still playable
    expect(fullyInstalled(1026)).toBe(false); // downloading
    expect(fullyInstalled(36)).toBe(false); // files missing
    expect(fullyInstalled(1)).toBe(false);
  });
});

describe('discovery from store files', () => {
  it('finds Steam games in both library folders, the Epic and GOG games and the DRM-free folder, and nothing else', async () => {
    const lib = library();
    const found = await discover(librariesOf(lib));
    const byKey = Object.fromEntries(found.map((f) => [f.key, f]));
    expect(Object.keys(byKey).sort()).toEqual(['arcade:arcade-group-2024', 'epic:Fortress', 'gog:1207664663', 'steam:570', 'steam:730']);
    expect(byKey['steam:730']).toMatchObject({ store: 'steam', name: 'Counter-Strike 2', install_path: lib.cs2.installPath, executable: lib.cs2.exe, manifest: lib.cs2.manifest });
    expect(byKey['steam:570']).toMatchObject({ install_path: lib.dota.installPath, executable: lib.dota.exe });
    expect(byKey['epic:Fortress'].refs).toEqual([
      { platform: 'epic', external_id: '4fe75bbc5a674f4f9b356b5c90567da5' },
      { platform: 'epic', external_id: 'Fortress' },
    ]);
    expect(byKey['epic:Fortress'].executable).toBe(join(lib.epicGame, 'Binaries', 'Win64', 'Fortress.exe'));
    expect(byKey['gog:1207664663']).toMatchObject({ store: 'gog', name: 'The Witcher 3: Wild Hunt', install_path: lib.witcher, executable: join(lib.witcher, 'bin', 'x64', 'witcher3.exe') });
    expect(byKey['arcade:arcade-group-2024']).toMatchObject({ store: 'drm-free', executable: join(lib.drmFree, 'arcade.sh') });
  });

  it('skips malformed files with a warning instead of failing', async () => {
    const lib = library();
    writeFileSync(join(lib.libraryB, 'steamapps', 'appmanifest_999.acf'), '"AppState"\n{\n\t"appid"\t\t"999"\n');
    const warnings = [];
    const found = await discover(librariesOf(lib), { warn: (m) => warnings.push(m) });
    expect(found.map((f) => f.key)).not.toContain('steam:999');
    expect(warnings.some((w) => w.includes('BROKEN'))).toBe(true);
  });

  it('refuses an installdir that escapes steamapps/common', async () => {
    const lib = library();
    writeFileSync(join(lib.libraryB, 'steamapps', 'appmanifest_4000.acf'), '"AppState"\n{\n\t"appid"\t\t"4000"\n\t"name"\t\t"Evil"\n\t"StateFlags"\t\t"4"\n\t"installdir"\t\t"../../.."\n}\n');
    const found = await discover(librariesOf(lib), { warn: () => {} });
    expect(found.map((f) => f.key)).not.toContain('steam:4000');
  });
});

describe('mapping and proofs', () => {
  it('reports catalog games only, with install path, launcher, executable and a proof of the executable', async () => {
    const lib = library();
    const found = await discover(librariesOf(lib));
    const found2 = [...found, { store: 'steam', key: 'steam:424242', refs: [{ platform: 'steam', external_id: '424242' }], name: 'Not in catalog', install_path: lib.root, executable: null, manifest: null }];
    const { installs, unmapped } = await buildInstalls(found2, { resolve, proofs: new ProofCache(null) });
    expect(unmapped.map((u) => u.key)).toEqual(['steam:424242']);
    expect(installs.map((i) => i.game_id).sort()).toEqual([11, 12, 21, 31, 41]);
    const cs2 = installs.find((i) => i.game_id === 11);
    const st = statSync(lib.cs2.exe);
    expect(cs2).toEqual({
      game_id: 11,
      install_path: lib.cs2.installPath,
      launcher: 'steam',
      executable: lib.cs2.exe,
      proof: { path: lib.cs2.exe, sha256: sha(lib.cs2.exe), size: st.size, mtime: new Date(st.mtimeMs).toISOString() },
    });
    expect(installs.find((i) => i.game_id === 21).launcher).toBe('epic');
    expect(installs.find((i) => i.game_id === 31).launcher).toBe('gog');
  });

  it('maps an Epic game by AppName when the catalog knows it by that id rather than CatalogItemId', async () => {
    const lib = library();
    const calls = [];
    const { installs } = await buildInstalls(await discover(librariesOf(lib)), {
      resolve: async (refs) => (calls.push(refs), resolve(refs)),
      proofs: new ProofCache(null),
    });
    expect(calls[0]).toContainEqual({ platform: 'epic', external_id: '4fe75bbc5a674f4f9b356b5c90567da5' });
    expect(installs.some((i) => i.game_id === 21)).toBe(true);
  });

  it('hashes each executable once: the next scan comes from the cache, also after a restart', async () => {
    const lib = library();
    const file = join(lib.root, 'proof-cache.json');
    const cache = new ProofCache(file);
    await buildInstalls(await discover(librariesOf(lib)), { resolve, proofs: cache });
    await cache.save();
    expect(cache.hashed).toBe(5);
    await buildInstalls(await discover(librariesOf(lib)), { resolve, proofs: cache });
    expect(cache.hashed).toBe(5);
    const restarted = new ProofCache(file);
    const { installs } = await buildInstalls(await discover(librariesOf(lib)), { resolve, proofs: restarted });
    expect(restarted.hashed).toBe(0);
    expect(installs.find((i) => i.game_id === 11).proof.sha256).toBe(sha(lib.cs2.exe));
  });

  it('a changed executable is re-hashed and its new proof reported', async () => {
    const lib = library();
    const cache = new ProofCache(null);
    const before = (await buildInstalls(await discover(librariesOf(lib)), { resolve, proofs: cache })).installs.find((i) => i.game_id === 12);
    writeExecutable(lib.dota.exe, '#!/bin/sh\necho patched dota, a longer file\n');
    utimesSync(lib.dota.exe, new Date(), new Date(Date.now() + 5000));
    const after = (await buildInstalls(await discover(librariesOf(lib)), { resolve, proofs: cache })).installs.find((i) => i.game_id === 12);
    expect(cache.hashed).toBe(6);
    expect(after.proof.sha256).toBe(sha(lib.dota.exe));
    expect(after.proof.sha256).not.toBe(before.proof.sha256);
    expect(after.proof.size).not.toBe(before.proof.size);
  });

  it('an uninstalled game disappears from the next report and from the cache', async () => {
    const lib = library();
    const file = join(lib.root, 'proof-cache.json');
    const cache = new ProofCache(file);
    await buildInstalls(await discover(librariesOf(lib)), { resolve, proofs: cache });
    await cache.save();
    // Steam removes the manifest and the folder.
    unlinkSync(lib.dota.manifest);
    rmSync(lib.dota.installPath, { recursive: true });
    const { installs } = await buildInstalls(await discover(librariesOf(lib)), { resolve, proofs: cache });
    await cache.save();
    expect(installs.map((i) => i.game_id).sort()).toEqual([11, 21, 31, 41]);
    expect(Object.keys(JSON.parse(readFileSync(file, 'utf8')).entries)).not.toContain(lib.dota.exe);
  });

  it('proves the store manifest when no executable can be identified', async () => {
    const lib = library();
    rmSync(join(lib.dota.installPath, 'game'), { recursive: true });
    const warnings = [];
    const { installs } = await buildInstalls(await discover(librariesOf(lib)), { resolve, proofs: new ProofCache(null), warn: (m) => warnings.push(m) });
    const dota = installs.find((i) => i.game_id === 12);
    expect(dota.executable).toBeNull();
    expect(dota.proof.path).toBe(lib.dota.manifest);
    expect(warnings.some((w) => w.includes('steam:570'))).toBe(true);
  });
});
