// A stand-in for Steam on 127.0.0.1, for `npm start` (no machine here reaches the real one) and the
// browser tests: the OpenID provider (`/openid/login`: with `signInPage` it shows a sign-in page
// labelled as the local demo's stand-in, with a Sign in and a Cancel button; without it, as the
// tests want, it approves at once; either way the browser goes back with an assertion, and
// check_authentication says is_valid:true), the Web API (GetPlayerSummaries, GetOwnedGames), the
// store's appdetails and the art host. The Worker is pointed at it through its [vars]
// (STEAM_OPENID_URL, STEAM_API_BASE, STEAM_STORE_API_BASE, STEAM_ART_ORIGINS: `double.vars`), never
// through wrangler.toml. Answers have Steam's shapes (test/fixtures/steam).
//
//   const steam = await startSteamDouble({ owned: [570, 620], signInPage: true });
//   ... steam.url, steam.vars, steam.calls; await steam.stop();
import { createServer } from 'node:http';
import { randomBytes } from 'node:crypto';
import { coverPng } from './png.mjs';

export const STEAM_DOUBLE_ID = '76561197960287930';

/** Store pages the double knows; any other appid is "no such app". */
const APPS = {
  620: { name: 'Portal 2', genres: ['Action', 'Adventure'], date: '18 Apr, 2011', metacritic: 95 },
  1245620: { name: 'ELDEN RING', genres: ['Action', 'RPG'], date: '24 Feb, 2022', metacritic: 94 },
  570: { name: 'Dota 2', genres: ['Action', 'Strategy', 'Free To Play'], date: '9 Jul, 2013', metacritic: 90 },
  1593500: { name: 'Steam Big Picture', genres: ['Utilities'], date: '1 Jan, 2023' },
};

const escapeHtml = (s) => String(s).replace(/[&<>"']/g, (ch) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' })[ch]);

/** The sign-in page: says plainly that it is the local demo's stand-in, and what signing in links. */
function signInHtml({ params, persona, owned, returnTo }) {
  const hidden = [...params].filter(([k]) => k.startsWith('openid.')).map(([k, v]) => `<input type="hidden" name="${escapeHtml(k)}" value="${escapeHtml(v)}">`).join('');
  const games = owned.map((id) => APPS[id]?.name ?? `app ${id}`);
  let site = '';
  try {
    site = new URL(returnTo).host;
  } catch {}
  return `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">
<title>Sign in — local demo Steam (stand-in)</title>
<style>
:root { color-scheme: light dark; --bg: #f4f5f7; --card: #fff; --fg: #1b1f24; --muted: #57606a; --accent: #1a5fb4; --warn-bg: #fff4ce; --warn-fg: #5c4400; }
@media (prefers-color-scheme: dark) { :root { --bg: #15181c; --card: #1f242a; --fg: #e6e8eb; --muted: #a4acb6; --accent: #78aeed; --warn-bg: #3d3200; --warn-fg: #ffe79a; } }
body { margin: 0; font: 16px/1.5 system-ui, sans-serif; background: var(--bg); color: var(--fg); }
main { max-width: 32rem; margin: 2rem auto; padding: 0 1rem; }
.card { background: var(--card); border-radius: 10px; padding: 1.5rem; box-shadow: 0 1px 3px rgb(0 0 0 / .2); }
.demo { background: var(--warn-bg); color: var(--warn-fg); border-radius: 6px; padding: .75rem 1rem; margin: 0 0 1rem; }
h1 { font-size: 1.4rem; margin: 0 0 .5rem; }
.muted { color: var(--muted); }
.row { display: flex; gap: .75rem; flex-wrap: wrap; margin-top: 1.25rem; }
button { font: inherit; padding: .6rem 1.2rem; border-radius: 6px; border: 1px solid var(--muted); background: transparent; color: var(--fg); cursor: pointer; }
button.primary { background: var(--accent); border-color: var(--accent); color: #fff; }
@media (prefers-color-scheme: dark) { button.primary { color: #10151b; } }
button:focus-visible { outline: 3px solid var(--accent); outline-offset: 2px; }
</style></head>
<body><main><div class="card">
<p class="demo" id="stand-in" role="note"><strong>Local demo:</strong> this page stands in for Steam’s sign-in, which the demo cannot reach. No Steam account or password is used.</p>
<h1>Sign in to Steam</h1>
<p>${site ? `<b>${escapeHtml(site)}</b> asks` : 'A site asks'} to confirm your Steam account.</p>
<p>Signing in links the demo account <b id="persona">${escapeHtml(persona)}</b> <span class="muted">(SteamID ${STEAM_DOUBLE_ID})</span>, which owns ${owned.length} game${owned.length === 1 ? '' : 's'}: ${escapeHtml(games.join(', '))}.</p>
<form method="get" action="/openid/login">${hidden}
<div class="row">
<button class="primary" type="submit" name="demo_answer" value="approve" id="sign-in" autofocus>Sign in as ${escapeHtml(persona)}</button>
<button type="submit" name="demo_answer" value="cancel" id="cancel">Cancel</button>
</div></form>
</div></main></body></html>`;
}

/**
 * @param {{ owned?: number[], persona?: string, signInPage?: boolean, port?: number }} [o]
 * `signInPage` (`npm start`): the login shows the labelled sign-in page first. `port`: 0 (any free).
 */
export async function startSteamDouble({ owned = [570, 1593500, 620, 1245620], persona = 'Rabscuttle', signInPage = false, port = 0 } = {}) {
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
      const answer = url.searchParams.get('demo_answer');
      if (signInPage && !answer) {
        res.writeHead(200, { 'Content-Type': 'text/html; charset=utf-8', 'Cache-Control': 'no-store' });
        return res.end(signInHtml({ params: url.searchParams, persona, owned, returnTo }));
      }
      const back = new URL(returnTo);
      if (answer === 'cancel') {
        back.searchParams.set('openid.ns', 'http://specs.openid.net/auth/2.0');
        back.searchParams.set('openid.mode', 'cancel');
      } else {
        const stamp = new Date().toISOString().replace(/\.\d{3}Z$/, 'Z');
        const claimed = `${base}/openid/id/${STEAM_DOUBLE_ID}`;
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
      }
      res.writeHead(302, { Location: back.href });
      return res.end();
    }
    if (url.pathname === '/openid/login' && req.method === 'POST') {
      req.resume();
      res.writeHead(200, { 'Content-Type': 'text/plain' });
      return res.end('ns:http://specs.openid.net/auth/2.0\nis_valid:true\n');
    }
    if (url.pathname === '/ISteamUser/GetPlayerSummaries/v2/') {
      return json({ response: { players: [{ steamid: STEAM_DOUBLE_ID, communityvisibilitystate: 3, personaname: persona, profileurl: `${base}/id/rabscuttle/`, avatarmedium: `${base}/art/avatar_medium.png` }] } });
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
    // The sign-in page's browser asks for one; a 404 there is console noise in the demo.
    if (url.pathname === '/favicon.ico') {
      res.writeHead(204);
      return res.end();
    }
    if (url.pathname.startsWith('/art/')) {
      res.writeHead(200, { 'Content-Type': 'image/png' });
      return res.end(coverPng(url.pathname));
    }
    json({ error: 'not found' }, 404);
  });
  await new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, '127.0.0.1', resolve);
  });
  const url = `http://127.0.0.1:${server.address().port}`;
  return {
    url,
    calls,
    persona,
    owned,
    /** The Worker [vars] that point every Steam endpoint here (the key is a placeholder the double ignores). */
    vars: { STEAM_OPENID_URL: `${url}/openid/login`, STEAM_API_BASE: url, STEAM_STORE_API_BASE: url, STEAM_ART_ORIGINS: url, STEAM_API_KEY: 'local-steam-double-key' },
    stop: () => new Promise((resolve) => server.close(() => resolve())),
  };
}
