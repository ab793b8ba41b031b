/**
 * One error taxonomy for both products. Handlers throw these; `onError` (src/app.ts) turns them
 * into `{ "error": "<message>", "code": "<machine_code>", "details"? }` with the right status.
 * `error` is a string because the DVR dashboard shows it as text; `code` is stable for programs.
 *
 *   throw new NotFound('source chaturbate/nobody not found');
 *   throw new Conflict('username already exists', 'username_taken');
 */
import type { ContentfulStatusCode } from 'hono/utils/http-status';

export class ApiError extends Error {
  constructor(
    readonly status: ContentfulStatusCode,
    readonly code: string,
    message: string,
    readonly details?: unknown,
    readonly headers?: Record<string, string>,
  ) {
    super(message);
    this.name = 'ApiError';
  }

  body(): ErrorBody {
    return this.details === undefined
      ? { error: this.message, code: this.code }
      : { error: this.message, code: this.code, details: this.details };
  }
}

export interface ErrorBody {
  error: string;
  code: string;
  details?: unknown;
}

export class BadRequest extends ApiError {
  constructor(message: string, code = 'bad_request', details?: unknown) {
    super(400, code, message, details);
  }
}

export class ValidationFailed extends ApiError {
  constructor(message: string, details?: unknown) {
    super(400, 'validation_failed', message, details);
  }
}

/** 401. Console routes add `WWW-Authenticate: Bearer`; the DVR edge semantics live in auth/. */
export class Unauthorized extends ApiError {
  constructor(message = 'authentication required', code = 'unauthorized', headers?: Record<string, string>) {
    super(401, code, message, undefined, headers);
  }
}

export class Forbidden extends ApiError {
  constructor(message = 'forbidden', code = 'forbidden', headers?: Record<string, string>) {
    super(403, code, message, undefined, headers);
  }
}

export class NotFound extends ApiError {
  constructor(message = 'not found', code = 'not_found') {
    super(404, code, message);
  }
}

export class Conflict extends ApiError {
  constructor(message: string, code = 'conflict') {
    super(409, code, message);
  }
}

export class PayloadTooLarge extends ApiError {
  constructor(message = 'request body too large') {
    super(413, 'payload_too_large', message);
  }
}

export class UnsupportedMediaType extends ApiError {
  constructor(message = 'unsupported media type') {
    super(415, 'unsupported_media_type', message);
  }
}

export class TooManyRequests extends ApiError {
  constructor(message: string, retryAfterSeconds: number, code = 'throttled') {
    super(429, code, message, undefined, { 'Retry-After': String(Math.max(1, Math.ceil(retryAfterSeconds))) });
  }
}

export class BadGateway extends ApiError {
  constructor(message: string, code = 'upstream_failed') {
    super(502, code, message);
  }
}

export class ServiceUnavailable extends ApiError {
  constructor(message: string, code = 'unavailable') {
    super(503, code, message);
  }
}
