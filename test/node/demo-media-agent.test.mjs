// `npm start`'s media agent (tools/dev-media-agent.mjs through tools/stack.mjs `mediaAgent: true`):
// on a fresh local stack the development overseer's simulated recorder writes real segments for the
// seeded subscriptions, the real agent (agents/media) — enrolled as a recorder host through the admin
// API — uploads them, and the API lists them as stored in R2 (with a thumbnail when ffmpeg is here).
// The host is enrolled once: a later start reuses it while the API lists it as enrolled, and enrols
// a new one only when it was revoked. The kill-mid-upload and playback journey of the same agent is
// the browser test test/e2e/recordings.spec.mjs.
// The same stack has `npm start`'s Steam double (`steamDouble: true`, tools/steam-double.mjs): the
// demo member links Steam the way a browser does (start, the double's labelled sign-in page, its
// form, our callback, back on the library page), then verifies and sees the owned games imported.
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ensureMediaHost, HOST_NAME } from '../../tools/dev-media-agent.mjs';
import { freePort, startStack } from '../../tools/stack.mjs';

const FFMPEG = spawnSync('ffmpeg', ['-version']).status === 0 && spawnSync('ffprobe', ['-version']).status === 0;
let dir, stack, token;

// A GET is retried once when undici reused a keep-alive socket wrangler had just closed ("other side
// closed", seen on a loaded machine after the pause of an enrolment).
const get = (path) => {
  const go = () => fetch(`${stack.url}${path}`, { headers: { Authorization: `Bearer ${token}` } });
  return go().catch((e) => (e?.cause?.code === 'UND_ERR_SOCKET' ? go() : Promise.reject(e)));
};
const getJson = async (path) => (await get(path)).json();
const hosts = async () => (await getJson('/api/admin/ingest/hosts')).hosts;
const stateDir = () => join(stack.persistTo, 'demo-media-agent');
const savedCredential = () => JSON.parse(readFileSync(join(stateDir(), 'credential.json'), 'utf8'));

async function until(what, fn, ms = 90_000) {
  const end = Date.now() + ms;
  for (;;) {
    const v = await fn();
    if (v) return v;
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 1000));
  }
}

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'edgeplane-demo-media-'));
  stack = await startStack({ port: await freePort(), persistTo: join(dir, 'state'), quiet: true, nodeAgent: false, mediaAgent: true, steamDouble: true });
  const login = await fetch(`${stack.url}/auth/login`, { method: 'POST', headers: { 'Content-Type': 'application/json' }, body: JSON.stringify(stack.credentials.admin) });
  token = (await login.json()).token;
}, 400_000);
afterAll(async () => {
  await stack?.stop();
  if (dir) rmSync(dir, { recursive: true, force: true });
});

describe('npm start with the media agent', () => {
  it('gets a seeded subscription’s recording into R2, listed by the API, from a fresh stack', async () => {
    expect(stack.mediaAgent).toMatchObject({ reused: false, ffmpeg: FFMPEG });
    const stored = await until('a stored recording of chaturbate/alice', async () => {
      const { files } = await getJson('/api/sources/chaturbate/alice/files');
      return files.find((f) => f.status === 'stored' && f.pipeline === 'r2');
    });
    // With ffmpeg the agent remuxes to faststart MP4 (browsers seek it) and makes the thumbnail.
    expect(stored.filename).toMatch(FFMPEG ? /\.mp4$/ : /\.(mp4|ts)$/);
    const media = await get(`/media/subscriptions/chaturbate/alice${stored.path.replace('/chaturbate/alice', '')}`);
    expect(media.status).toBe(200);
    expect(Number(media.headers.get('content-length'))).toBeGreaterThan(0);
    await media.body?.cancel();
    if (FFMPEG) {
      const thumb = await until('the source thumbnail', async () => {
        const r = await get('/thumbnails/chaturbate/alice.jpg');
        if (r.status === 200) return r;
        await r.body?.cancel();
        return null;
      });
      expect(thumb.headers.get('content-type')).toBe('image/jpeg');
      await thumb.body?.cancel();
    }
  });

  it('enrols the demo recorder host once: a later start reuses it, a revoked one is replaced', async () => {
    const first = savedCredential();
    expect(first.host_id).toBe(stack.mediaAgent.hostId);
    expect((await hosts()).filter((h) => h.state === 'enrolled').map((h) => h.name)).toEqual([HOST_NAME]);

    // A second `npm start` on the same state: the same host and credential, no new enrolment.
    expect(await ensureMediaHost({ url: stack.url, adminToken: token, stateDir: stateDir() })).toEqual({ hostId: first.host_id, reused: true });
    expect(savedCredential().credential).toBe(first.credential);
    expect(await hosts()).toHaveLength(1);

    // The admin revoked it: the next start enrols a new host (its name is taken by the revoked one).
    expect((await fetch(`${stack.url}/api/admin/ingest/hosts/${first.host_id}`, { method: 'DELETE', headers: { Authorization: `Bearer ${token}` } })).status).toBeLessThan(300);
    const again = await ensureMediaHost({ url: stack.url, adminToken: token, stateDir: stateDir() });
    expect(again.reused).toBe(false);
    expect(again.hostId).not.toBe(first.host_id);
    expect(savedCredential()).toMatchObject({ host_id: again.hostId });
    expect(savedCredential().credential).not.toBe(first.credential);
    const after = await hosts();
    expect(after.find((h) => h.id === first.host_id)?.state).toBe('revoked');
    expect(after.find((h) => h.id === again.hostId)).toMatchObject({ state: 'enrolled', name: expect.stringMatching(new RegExp(`^${HOST_NAME}-`)) });
  });
});

describe('npm start’s Steam double', () => {
  /** One browser-like step: no redirect following, the `steam_link` cookie carried by hand. */
  const step = (url, { bearer, cookie } = {}) =>
    fetch(url, { redirect: 'manual', headers: { Accept: 'text/html', ...(bearer ? { Authorization: `Bearer ${bearer}` } : {}), ...(cookie ? { Cookie: cookie } : {}) } });
  /** Submits the sign-in page's form with one of its buttons, as a browser does (GET, hidden inputs + the button). */
  function submit(html, pageUrl, button) {
    const form = /<form method="get" action="([^"]+)">([\s\S]*?)<\/form>/.exec(html);
    const to = new URL(form[1], pageUrl);
    const unescape = (v) => v.replace(/&quot;/g, '"').replace(/&#39;/g, "'").replace(/&lt;/g, '<').replace(/&gt;/g, '>').replace(/&amp;/g, '&');
    for (const [, k, v] of form[2].matchAll(/<input type="hidden" name="([^"]*)" value="([^"]*)">/g)) to.searchParams.set(unescape(k), unescape(v));
    const b = new RegExp(`name="demo_answer" value="([a-z]+)" id="${button}"`).exec(form[2]);
    to.searchParams.set('demo_answer', b[1]);
    return to.href;
  }
  /** From Link Steam to the library page the callback sends the browser to, pressing `button` at the double. */
  async function linkSteam(player, button) {
    const start = await step(`${stack.url}/auth/link/steam/start`, { bearer: player.token });
    expect(start.status).toBe(302);
    const cookie = start.headers.get('set-cookie').split(';')[0];
    const signIn = start.headers.get('location');
    expect(signIn.startsWith(`${stack.steam.url}/openid/login?`)).toBe(true);
    const page = await step(signIn);
    expect(page.status).toBe(200);
    const html = await page.text();
    const back = await step(submit(html, signIn, button));
    expect(back.status).toBe(302);
    const done = await step(back.headers.get('location'), { cookie });
    expect(done.status).toBe(303);
    return { html, landing: new URL(done.headers.get('location'), stack.url) };
  }

  it('links the demo member through the labelled stand-in sign-in page, and Verify imports the owned games', async () => {
    const player = await (await fetch(`${stack.url}/auth/login`, { method: 'POST', headers: { 'Content-Type': 'application/json' }, body: JSON.stringify(stack.credentials.player) })).json();
    const asPlayer = { Authorization: `Bearer ${player.token}` };

    // Cancel at the double: back on the library page, not linked.
    const cancelled = await linkSteam(player, 'cancel');
    expect(cancelled.landing.searchParams.get('steam_link')).toBe('failed');
    expect(cancelled.landing.hash).toBe('#/library');
    expect(await (await fetch(`${stack.url}/ownership/steam`, { headers: asPlayer })).json()).toMatchObject({ linked: false });

    const { html, landing } = await linkSteam(player, 'sign-in');
    // The page says what it is: the local demo's stand-in, which account signing in links.
    expect(html).toContain('this page stands in for Steam’s sign-in');
    expect(html).toContain(`<b id="persona">${stack.steam.persona}</b>`);
    expect(landing.searchParams.get('steam_link')).toBe('linked');
    expect(landing.hash).toBe('#/library');
    const account = await (await fetch(`${stack.url}/ownership/steam`, { headers: asPlayer })).json();
    expect(account).toMatchObject({ linked: true, persona_name: stack.steam.persona });

    const verify = await fetch(`${stack.url}/ownership/verify/steam`, { method: 'POST', headers: { ...asPlayer, 'Content-Type': 'application/json' }, body: '{}' });
    expect(verify.status).toBe(200);
    const summary = await verify.json();
    expect(summary.steam_game_count).toBe(stack.steam.owned.length);
    expect(summary.matched + summary.added_to_catalog).toBe(stack.steam.owned.length);
    expect(summary.verified).toHaveLength(stack.steam.owned.length);
    // The games the catalog lacked are filled in from the double's store page and art in the background.
    const portal = await until('Portal 2 named and covered in the member’s library', async () => {
      const entries = await (await fetch(`${stack.url}/users/${player.user_id}/library`, { headers: asPlayer })).json();
      return entries.find((e) => e.game.name === 'Portal 2' && e.game.cover_url);
    });
    expect(portal).toMatchObject({ owned: true, proofs: [expect.objectContaining({ kind: 'steam', status: 'verified' })] });
  });
});
