// A stand-in for Steam on 127.0.0.1 for the browser tests: the OpenID provider (its login page
// approves at once and sends the browser back with a positive assertion; check_authentication says
// is_valid:true), the Web API (GetPlayerSummaries, GetOwnedGames), the store's appdetails and the
// art host. The Worker is pointed at it through its [vars] (STEAM_OPENID_URL, STEAM_API_BASE,
// STEAM_STORE_API_BASE, STEAM_ART_ORIGINS). Answers have Steam's shapes (test/fixtures/steam).
//
//   const steam = await startFakeSteam({ owned: [570, 620] });  ... steam.url, steam.calls; await steam.stop();
import { createServer } from 'node:http';
import { randomBytes } from 'node:crypto';
import { coverPng } from '../../../tools/png.mjs';

export const FAKE_STEAM_ID = '76561197960287930';

/** Store pages the fake knows; any other appid is "no such app". */
const APPS = {
  620: { name: 'Portal 2', genres: ['Action', 'Adventure'], date: '18 Apr, 2011', metacritic: 95 },
  1245620: { name: 'ELDEN RING', genres: ['Action', 'RPG'], date: '24 Feb, 2022', metacritic: 94 },
  570: { name: 'Dota 2', genres: ['Action', 'Strategy', 'Free To Play'], date: '9 Jul, 2013', metacritic: 90 },
  1593500: { name: 'Steam Big Picture', genres: ['Utilities'], date: '1 Jan, 2023' },
};

export async function startFakeSteam({ owned = [570, 1593500, 620, 1245620], persona = 'Rabscuttle' } = {}) {
  const calls = [];
  const server = createServer((req, res) => {
    const url = new URL(req.url, 'http://x');
    calls.push(`${req.method} ${url.pathname}`);
    const base = `http://127.0.0.1:${server.address().port}`;
    const json = (body, status = 200) => {
      res.writeHead(status, { 'Content-Type': 'application/json; charset=utf-8' });
      res.end(JSON.stringify(body));
    };
    if (url.pathname === '/openid/login' && req.method === 'GET') {
      const returnTo = url.searchParams.get('openid.return_to');
      if (!returnTo) return json({ error: 'no return_to' }, 400);
      const stamp = new Date().toISOString().replace(/\.\d{3}Z$/, 'Z');
      const claimed = `${base}/openid/id/${FAKE_STEAM_ID}`;
      const back = new URL(returnTo);
      for (const [k, v] of Object.entries({
        'openid.ns': 'http://specs.openid.net/auth/2.0',
        'openid.mode': 'id_res',
        'openid.op_endpoint': `${base}/openid/login`,
        'openid.claimed_id': claimed,
        'openid.identity': claimed,
        'openid.return_to': returnTo,
        'openid.response_nonce': `${stamp}${randomBytes(6).toString('hex')}`,
        'openid.assoc_handle': '1234567890',
        'openid.signed': 'signed,op_endpoint,claimed_id,identity,return_to,response_nonce,assoc_handle',
        'openid.sig': randomBytes(20).toString('base64'),
      })) back.searchParams.set(k, v);
      res.writeHead(302, { Location: back.href });
      return res.end();
    }
    if (url.pathname === '/openid/login' && req.method === 'POST') {
      req.resume();
      res.writeHead(200, { 'Content-Type': 'text/plain' });
      return res.end('ns:http://specs.openid.net/auth/2.0\nis_valid:true\n');
    }
    if (url.pathname === '/ISteamUser/GetPlayerSummaries/v2/') {
      return json({ response: { players: [{ steamid: FAKE_STEAM_ID, communityvisibilitystate: 3, personaname: persona, profileurl: `${base}/id/rabscuttle/`, avatarmedium: `${base}/art/avatar_medium.png` }] } });
    }
    if (url.pathname === '/IPlayerService/GetOwnedGames/v1/') {
      return json({ response: { game_count: owned.length, games: owned.map((appid, i) => ({ appid, playtime_forever: 60 * (i + 1) })) } });
    }
    if (url.pathname === '/api/appdetails') {
      const appid = url.searchParams.get('appids');
      const app = APPS[appid];
      if (!app) return json({ [appid]: { success: false } });
      return json({
        [appid]: {
          success: true,
          data: {
            type: 'game',
            name: app.name,
            steam_appid: Number(appid),
            short_description: `${app.name}: a store description.`,
            header_image: `${base}/art/${appid}/header.png?t=1700000000`,
            capsule_imagev5: `${base}/art/${appid}/capsule_184x69.png?t=1700000000`,
            platforms: { windows: true, mac: false, linux: true },
            genres: app.genres.map((description, i) => ({ id: String(i + 1), description })),
            release_date: { coming_soon: false, date: app.date },
            ...(app.metacritic ? { metacritic: { score: app.metacritic, url: `https://www.metacritic.com/game/${appid}` } } : {}),
          },
        },
      });
    }
    if (url.pathname.startsWith('/art/')) {
      res.writeHead(200, { 'Content-Type': 'image/png' });
      return res.end(coverPng(url.pathname));
    }
    json({ error: 'not found' }, 404);
  });
  await new Promise((resolve) => server.listen(0, '127.0.0.1', resolve));
  const url = `http://127.0.0.1:${server.address().port}`;
  return {
    url,
    calls,
    /** The Worker [vars] that point every Steam endpoint here. */
    vars: { STEAM_OPENID_URL: `${url}/openid/login`, STEAM_API_BASE: url, STEAM_STORE_API_BASE: url, STEAM_ART_ORIGINS: url, STEAM_API_KEY: 'e2e-steam-key' },
    stop: () => new Promise((resolve) => server.close(() => resolve())),
  };
}
