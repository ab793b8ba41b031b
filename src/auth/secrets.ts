/**
 * Start-up checks of the identity secrets. A Worker with a bad secret must refuse to serve (503
 * `misconfigured` and one clear log line naming the secret, never its value) rather than run weak
 * or fail half-way through a request:
 * - `JWT_SECRET` under 32 bytes makes every access token forgeable;
 * - an empty `COUCHSUITE_USERNAME_SECRET` silently derives the username keys from nothing;
 * - a missing or invalid `SESSION_SIGNING_KEY` let a play request reserve a seat and then 500.
 * `STEAM_API_KEY` is optional by design (empty in local development): Steam verification answers
 * 502 `steam_not_configured` on its own.
 *
 *   const problems = await secretProblems(env); // [] when every secret is usable
 */
import { sessionSigningKey } from './session-keys';
import { signingKeyProblem } from './tokens';

const verdicts = new Map<string, Promise<string[]>>();

export function secretProblems(env: Pick<Env, 'JWT_SECRET' | 'COUCHSUITE_USERNAME_SECRET' | 'SESSION_SIGNING_KEY'>): Promise<string[]> {
  // Secrets only change with a deploy (a new isolate), so each combination is checked once.
  const key = JSON.stringify([env.JWT_SECRET ?? '', env.COUCHSUITE_USERNAME_SECRET ?? '', env.SESSION_SIGNING_KEY ?? '']);
  let verdict = verdicts.get(key);
  if (!verdict) {
    verdict = check(env);
    verdicts.set(key, verdict);
  }
  return verdict;
}

async function check(env: Pick<Env, 'JWT_SECRET' | 'COUCHSUITE_USERNAME_SECRET' | 'SESSION_SIGNING_KEY'>): Promise<string[]> {
  const problems: string[] = [];
  const jwt = signingKeyProblem(env);
  if (jwt) problems.push(jwt);
  if (!(env.COUCHSUITE_USERNAME_SECRET ?? '').trim()) problems.push('COUCHSUITE_USERNAME_SECRET is empty');
  if (!(env.SESSION_SIGNING_KEY ?? '').trim()) problems.push('SESSION_SIGNING_KEY is missing');
  else {
    try {
      await sessionSigningKey(env);
    } catch {
      problems.push('SESSION_SIGNING_KEY is not a P-256 private JWK');
    }
  }
  return problems;
}
