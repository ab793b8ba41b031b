/**
 * Steam account linking by OpenID 2.0 (Steam is the OP; we are the relying party).
 *
 * 1. `signState` binds the flow to (user, org) with a random nonce and a 10-minute expiry, HMAC-signed
 *    with a key derived from JWT_SECRET; `authUrl` builds the `checkid_setup` redirect.
 * 2. `verifyAssertion` checks every field of the positive assertion locally (namespace, mode, OP
 *    endpoint, claimed_id = identity = a SteamID64 URL, return_to bound to our state, fresh
 *    response_nonce, the signed-field list) and only then asks Steam (`check_authentication`)
 *    whether the signature is its own. The caller then consumes the nonces (`consumeNonce`), so
 *    an assertion is accepted once.
 *
 *   const { state, nonce } = await signState(env, { userId, orgId });
 *   const url = authUrl(op, origin, state).url;          // redirect the browser there
 *   const steamId = await verifyAssertion(params, { returnTo: allowedReturnTo(origin, state, []), op, claimedIdPrefix });
 *   if (!(await consumeNonce(env, params['openid.response_nonce']!))) throw replayed;
 */
import { db } from '../../db/client';
import { recordNonce } from './queries';
import { BadGateway, BadRequest } from '../../http/errors';
import { base64url, fromBase64url, nowIso, randomToken, world } from '../../world';

const NS = 'http://specs.openid.net/auth/2.0';
const IDENTIFIER_SELECT = 'http://specs.openid.net/auth/2.0/identifier_select';
const STEAM_ID64 = /^7656119[0-9]{10}$/;
const REQUIRED_SIGNED = ['op_endpoint', 'claimed_id', 'identity', 'return_to', 'response_nonce', 'assoc_handle'];
export const STATE_TTL_MS = 10 * 60 * 1000;
/** How old a response_nonce may be (Steam stamps it when the user approves). */
const NONCE_MAX_AGE_MS = 5 * 60 * 1000;
const NONCE_MAX_SKEW_MS = 60 * 1000;
export const CALLBACK_PATH = '/auth/link/steam/callback';

export interface LinkState {
  u: number;
  o: number;
  n: string;
  e: number;
}

const enc = new TextEncoder();

async function stateKey(env: Pick<Env, 'JWT_SECRET'>): Promise<CryptoKey> {
  // Domain-separated from the JWT key: a state can never pass as a token or the reverse.
  const material = await crypto.subtle.digest('SHA-256', enc.encode(`steam-openid-state\u0000${env.JWT_SECRET}`));
  return crypto.subtle.importKey('raw', material, { name: 'HMAC', hash: 'SHA-256' }, false, ['sign', 'verify']);
}

export async function signState(env: Pick<Env, 'JWT_SECRET'>, who: { userId: number; orgId: number }): Promise<{ state: string; nonce: string; expiresAt: number }> {
  const payload: LinkState = { u: who.userId, o: who.orgId, n: randomToken(16), e: world.now() + STATE_TTL_MS };
  const body = base64url(enc.encode(JSON.stringify(payload)));
  const sig = new Uint8Array(await crypto.subtle.sign('HMAC', await stateKey(env), enc.encode(body)));
  return { state: `${body}.${base64url(sig)}`, nonce: payload.n, expiresAt: payload.e };
}

/** The state's contents if its signature holds and it has not expired; otherwise a 400. */
export async function readState(env: Pick<Env, 'JWT_SECRET'>, state: string): Promise<LinkState> {
  const bad = new BadRequest('invalid or expired link state: start linking again', 'invalid_state');
  const m = /^([A-Za-z0-9_-]{1,400})\.([A-Za-z0-9_-]{43})$/.exec(state);
  if (!m) throw bad;
  let ok = false;
  try {
    ok = await crypto.subtle.verify('HMAC', await stateKey(env), fromBase64url(m[2]!), enc.encode(m[1]!));
  } catch {
    ok = false;
  }
  if (!ok) throw bad;
  let parsed: LinkState;
  try {
    parsed = JSON.parse(new TextDecoder().decode(fromBase64url(m[1]!))) as LinkState;
  } catch {
    throw bad;
  }
  if (typeof parsed.e !== 'number' || parsed.e < world.now()) throw bad;
  return parsed;
}

export function callbackUrl(origin: string, state: string): string {
  return `${origin}${CALLBACK_PATH}?state=${encodeURIComponent(state)}`;
}

export function authUrl(op: string, origin: string, state: string): { url: string; returnTo: string } {
  const returnTo = callbackUrl(origin, state);
  const q = new URLSearchParams({
    'openid.ns': NS,
    'openid.mode': 'checkid_setup',
    'openid.return_to': returnTo,
    'openid.realm': origin,
    'openid.identity': IDENTIFIER_SELECT,
    'openid.claimed_id': IDENTIFIER_SELECT,
  });
  return { url: `${op}?${q}`, returnTo };
}

function reject(why: string): BadRequest {
  return new BadRequest(`Steam assertion rejected: ${why}`, 'invalid_assertion');
}

/**
 * Local checks of an `id_res` assertion. `returnTo`: the exact URLs the assertion may have been
 * issued for — our callback on the origin that is serving, plus any configured client URLs, each
 * carrying exactly this `state`. An assertion Steam issued to any other site is refused: that site
 * could otherwise replay a visitor's assertion under its own state and claim their library.
 */
export function checkAssertionLocally(
  p: Record<string, string>,
  expect: { returnTo: string[]; op: string; claimedIdPrefix: string },
): string {
  if (p['openid.ns'] !== NS) throw reject('wrong openid.ns');
  if (p['openid.mode'] !== 'id_res') throw reject(p['openid.mode'] === 'cancel' ? 'the user cancelled at Steam' : 'openid.mode is not id_res');
  if (p['openid.op_endpoint'] !== expect.op) throw reject('not issued by Steam');
  const claimed = p['openid.claimed_id'] ?? '';
  const steamId = claimed.startsWith(expect.claimedIdPrefix) ? claimed.slice(expect.claimedIdPrefix.length) : '';
  if (!STEAM_ID64.test(steamId) || p['openid.identity'] !== claimed) throw reject('claimed_id is not a Steam id');
  if (!expect.returnTo.includes(p['openid.return_to'] ?? '')) throw reject('return_to is not this server’s callback for this link state');
  const nonce = p['openid.response_nonce'] ?? '';
  const stamp = /^(\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}Z)\S{0,200}$/.exec(nonce);
  if (!stamp) throw reject('malformed response_nonce');
  const age = world.now() - Date.parse(stamp[1]!);
  if (!(age <= NONCE_MAX_AGE_MS && age >= -NONCE_MAX_SKEW_MS)) throw reject('response_nonce is stale');
  if (!p['openid.assoc_handle'] || !p['openid.sig']) throw reject('unsigned');
  const signed = (p['openid.signed'] ?? '').split(',');
  for (const f of REQUIRED_SIGNED) if (!signed.includes(f)) throw reject(`${f} is not signed`);
  for (const f of signed) if (p[`openid.${f}`] === undefined) throw reject(`signed field ${f} is missing`);
  return steamId;
}

/** Steam's own word on the signature (`check_authentication`, OpenID 2.0 §11.4.2). */
export async function confirmWithSteam(p: Record<string, string>, op: string): Promise<void> {
  const form = new URLSearchParams();
  for (const [k, v] of Object.entries(p)) if (k.startsWith('openid.')) form.set(k, v);
  form.set('openid.mode', 'check_authentication');
  let res: Response;
  try {
    res = await world.fetch(op, {
      method: 'POST',
      headers: { 'Content-Type': 'application/x-www-form-urlencoded', Accept: 'text/plain' },
      body: form.toString(),
    });
  } catch {
    throw new BadGateway('Steam could not be reached to confirm the login; try again', 'steam_unreachable');
  }
  if (!res.ok) throw new BadGateway(`Steam answered HTTP ${res.status} while confirming the login; try again`, 'steam_failed');
  const fields = new Map<string, string>();
  for (const line of (await res.text()).split('\n')) {
    const i = line.indexOf(':');
    if (i > 0) fields.set(line.slice(0, i).trim(), line.slice(i + 1).trim());
  }
  if (fields.get('is_valid') !== 'true') throw reject('Steam did not confirm the signature');
}

export async function verifyAssertion(p: Record<string, string>, expect: { returnTo: string[]; op: string; claimedIdPrefix: string }): Promise<string> {
  const steamId = checkAssertionLocally(p, expect);
  await confirmWithSteam(p, expect.op);
  return steamId;
}

/** Every return_to an assertion for `state` may carry: our callback here, and configured client URLs. */
export function allowedReturnTo(origin: string, state: string, extra: string[]): string[] {
  return [callbackUrl(origin, state), ...extra.map((base) => `${base}?state=${encodeURIComponent(state)}`)];
}

/**
 * Records a nonce; false when it was already used (a replay). Atomic: one INSERT. Rows older than a
 * day are pruned on the way: response nonces older than 5 minutes and states older than 10 are
 * refused by the checks above anyway, so the table only needs to remember the recent past.
 */
export async function consumeNonce(env: Pick<Env, 'DB'>, nonce: string): Promise<boolean> {
  const cutoff = new Date(world.now() - 24 * 3600 * 1000).toISOString();
  return recordNonce(db(env), nonce, nowIso(), cutoff);
}
