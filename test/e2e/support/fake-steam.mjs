// The browser tests' Steam: the same double `npm start` runs (tools/steam-double.mjs), approving
// the OpenID login at once (no sign-in page), under the names the specs use.
//
//   const steam = await startFakeSteam({ owned: [570, 620] });  ... steam.url, steam.calls; await steam.stop();
export { startSteamDouble as startFakeSteam, STEAM_DOUBLE_ID as FAKE_STEAM_ID } from '../../../tools/steam-double.mjs';
