/**
 * The one Hono environment every router shares: the generated `Env` bindings (`wrangler types`)
 * plus the per-request variables set by the shared middleware.
 */
import type { Logger } from './http/log';

/** The authenticated caller, as read from D1 on every request (never from token claims alone). */
export interface AuthUser {
  id: number;
  role: 'admin' | 'user';
  /** The refresh session the access token was minted from (its `sid` claim). */
  refreshSessionId: string;
}

export interface AppEnv {
  Bindings: Env;
  Variables: {
    requestId: string;
    log: Logger;
    user: AuthUser;
    /** Set by `requireCallerDeferred`: the verified token's claims, awaiting the D1 check that
     * `callerCheck` (auth/middleware.ts) puts in the handler's first batch. */
    deferredCaller: { userId: number; refreshSessionId: string };
    /** Why `optionalUser` left the request anonymous, so a later refusal can say "token expired". */
    authFailure: 'missing' | 'invalid' | 'expired';
  };
}
