/**
 * Real-format store files written into a temp folder: a Steam installation with two library
 * folders (libraryfolders.vdf + appmanifest_*.acf, as Steam writes them), an Epic Games Launcher
 * manifest (.item JSON), a GOG game folder (goggame-<id>.info) and a DRM-free folder.
 *
 *   const lib = makeLibrary();   // { root, steamRoot, libraryB, epicManifests, gogRoot, drmFree, paths... }
 */
import { chmodSync, mkdirSync, mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

/** KeyValues string escaping, as Steam writes paths (C:\\Program Files ...). */
const kvq = (s) => `"${String(s).replace(/\\/g, '\\\\').replace(/"/g, '\\"')}"`;

export function libraryFoldersVdf(paths) {
  const lines = ['"libraryfolders"', '{'];
  paths.forEach((p, i) => {
    lines.push(`\t"${i}"`, '\t{', `\t\t"path"\t\t${kvq(p)}`, '\t\t"label"\t\t""', '\t\t"contentid"\t\t"4812305113524785401"', '\t\t"totalsize"\t\t"0"', '\t\t"apps"', '\t\t{', '\t\t}', '\t}');
  });
  lines.push('}');
  return lines.join('\n') + '\n';
}

export function appManifestAcf({ appid, name, installdir, size = 1024, flags = 4 }) {
  return `"AppState"
{
\t"appid"\t\t"${appid}"
\t"universe"\t\t"1"
\t"LauncherPath"\t\t"C:\\\\Program Files (x86)\\\\Steam\\\\steam.exe"
\t"name"\t\t${kvq(name)}
\t"StateFlags"\t\t"${flags}"
\t"installdir"\t\t${kvq(installdir)}
\t"LastUpdated"\t\t"1732060800"
\t"SizeOnDisk"\t\t"${size}"
\t"StagingSize"\t\t"0"
\t"buildid"\t\t"16381735"
\t"LastOwner"\t\t"76561197960287930"
\t"AutoUpdateBehavior"\t\t"0"
\t"AllowOtherDownloadsWhileRunning"\t\t"0"
\t"ScheduledAutoUpdate"\t\t"0"
\t"InstalledDepots"
\t{
\t\t"${Number(appid) + 1}"
\t\t{
\t\t\t"manifest"\t\t"7920335815640125227"
\t\t\t"size"\t\t"${size}"
\t\t}
\t}
\t"UserConfig"
\t{
\t\t"language"\t\t"english"
\t}
}
`;
}

export function writeExecutable(path, content) {
  mkdirSync(join(path, '..'), { recursive: true });
  writeFileSync(path, content);
  chmodSync(path, 0o755);
}

export function steamApp(library, { appid, name, installdir, exe, content = `#!/bin/sh\necho ${name}\n`, flags = 4 }) {
  const apps = join(library, 'steamapps');
  mkdirSync(join(apps, 'common', installdir), { recursive: true });
  writeFileSync(join(apps, `appmanifest_${appid}.acf`), appManifestAcf({ appid, name, installdir, size: content.length, flags }));
  if (exe) writeExecutable(join(apps, 'common', installdir, exe), content);
  return { manifest: join(apps, `appmanifest_${appid}.acf`), installPath: join(apps, 'common', installdir), exe: exe ? join(apps, 'common', installdir, exe) : null };
}

export function makeLibrary() {
  const root = mkdtempSync(join(tmpdir(), 'edgeplane-node-lib-'));
  const steamRoot = join(root, 'Steam');
  const libraryB = join(root, 'SteamLibrary');
  mkdirSync(join(steamRoot, 'steamapps'), { recursive: true });
  mkdirSync(join(libraryB, 'steamapps'), { recursive: true });
  writeFileSync(join(steamRoot, 'steamapps', 'libraryfolders.vdf'), libraryFoldersVdf([steamRoot, libraryB]));

  const cs2 = steamApp(steamRoot, { appid: '730', name: 'Counter-Strike 2', installdir: 'Counter-Strike Global Offensive', exe: 'game/bin/linuxsteamrt64/cs2', content: '#!/bin/sh\n# cs2 main binary\n' + 'x'.repeat(4096) });
  // A crash handler next to it must not be mistaken for the game.
  writeExecutable(join(cs2.installPath, 'game/bin/linuxsteamrt64/crashhandler'), '#!/bin/sh\n' + 'y'.repeat(9000));
  const dota = steamApp(libraryB, { appid: '570', name: 'Dota 2', installdir: 'dota 2 beta', exe: 'game/bin/linuxsteamrt64/dota2' });
  // Downloading, not fully installed (StateFlags 1026 = update started + update required): not reported.
  const bg3 = steamApp(libraryB, { appid: '1086940', name: "Baldur's Gate 3", installdir: "Baldurs Gate 3", exe: 'bin/bg3', flags: 1026 });

  const epicManifests = join(root, 'Epic', 'Manifests');
  const epicGame = join(root, 'Epic Games', 'Fortress');
  mkdirSync(epicManifests, { recursive: true });
  writeExecutable(join(epicGame, 'Binaries', 'Win64', 'Fortress.exe'), 'MZ fortress');
  const epicItem = {
    FormatVersion: 0,
    bIsIncompleteInstall: false,
    LaunchCommand: '',
    LaunchExecutable: 'Binaries/Win64/Fortress.exe',
    ManifestLocation: join(root, 'Epic', '.egstore'),
    bIsApplication: true,
    bIsExecutable: true,
    bIsManaged: false,
    bNeedsValidation: false,
    bRequiresAuth: true,
    bCanRunOffline: true,
    AppName: 'Fortress',
    BaseURLs: [],
    BuildLabel: 'Live',
    CatalogItemId: '4fe75bbc5a674f4f9b356b5c90567da5',
    CatalogNamespace: 'fn',
    AppCategories: ['public', 'games', 'applications'],
    DisplayName: 'Fortress Night',
    InstallLocation: epicGame,
    InstallSize: 1234,
    MainGameAppName: 'Fortress',
    AppVersionString: '++Fortnite+Release-33.10-CL-38773622-Windows',
  };
  writeFileSync(join(epicManifests, '6B2E3A0D4F9C4C3B8B1A2E1F0D9C8B7A.item'), JSON.stringify(epicItem, null, '\t'));
  // DLC and an incomplete install: skipped.
  writeFileSync(join(epicManifests, 'DLC00000000000000000000000000001.item'), JSON.stringify({ ...epicItem, AppName: 'FortressDLC', CatalogItemId: 'dlc1', MainGameAppName: 'Fortress' }));
  writeFileSync(join(epicManifests, 'INCOMPLETE0000000000000000000001.item'), JSON.stringify({ ...epicItem, AppName: 'Half', CatalogItemId: 'half', MainGameAppName: 'Half', bIsIncompleteInstall: true }));
  writeFileSync(join(epicManifests, 'BROKEN000000000000000000000000001.item'), '{"AppName": ');

  const gogRoot = join(root, 'GOG Games');
  const witcher = join(gogRoot, 'The Witcher 3 Wild Hunt');
  writeExecutable(join(witcher, 'bin', 'x64', 'witcher3.exe'), 'MZ witcher');
  writeFileSync(
    join(witcher, 'goggame-1207664663.info'),
    JSON.stringify({
      buildId: '58364280016149786',
      clientId: '49212376423458893',
      gameId: '1207664663',
      rootGameId: '1207664663',
      language: 'English',
      languages: ['en-US'],
      name: 'The Witcher 3: Wild Hunt',
      playTasks: [
        { category: 'launcher', isPrimary: true, languages: ['en-US'], name: 'The Witcher 3: Wild Hunt', path: 'bin\\x64\\witcher3.exe'.replace(/\\/g, '/'), type: 'FileTask' },
        { category: 'document', name: 'Manual', path: 'manual.pdf', type: 'FileTask' },
      ],
      version: 1,
    }),
  );

  const drmFree = join(root, 'DRM-free', 'Retro Arcade');
  writeExecutable(join(drmFree, 'arcade.sh'), '#!/bin/sh\necho arcade\n');

  return { root, steamRoot, libraryB, cs2, dota, bg3, epicManifests, epicGame, gogRoot, witcher, drmFree };
}

export function librariesOf(lib) {
  return {
    steam: [lib.steamRoot],
    epic_manifests: [lib.epicManifests],
    gog: [lib.gogRoot],
    drm_free: [{ path: lib.drmFree, executable: 'arcade.sh', platform: 'arcade', external_id: 'arcade-group-2024' }],
  };
}
