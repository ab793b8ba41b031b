// The Worker bundle's `zod` (wrangler.toml `[alias]`): zod itself minus its ~260 KB of error-message
// locales. @hono/zod-openapi hands the whole `z` namespace to `extendZodWithOpenApi(z)`, so the
// bundler must keep every export of the namespace, `z.locales` (40+ languages) included. This module
// is that namespace with `locales` shadowed (a local export wins over `export *`), so the locales
// are never reached (nor `z.core.locales`: zod-core-without-locales.mjs). Messages stay English (zod configures `en` itself); the validators, classes
// and prototypes are zod's own, so `instanceof` and the OpenAPI extension are unchanged.
// Tests and tools resolve the real package; only the deployed bundle goes through here.
import * as z from './zod-without-locales.mjs';

// `z.core` is a namespace too, with its own `locales`: the same shadowing, one level down.
export * as core from './zod-core-without-locales.mjs';

export * from 'zod/v4';
/** Not bundled: the Worker never switches zod's message language. */
export const locales = Object.freeze({});

// Also shadowed, for the bundle budget (issue 17: ≤ 250 KB gzip): zod's ahead-of-time validator
// compiler (`compile`, `withParser`: ~31 KB minified) and `fromJSONSchema` (~12 KB). The Worker
// validates with the schemas themselves and never builds a schema from JSON Schema; calling either
// here throws instead of silently doing something else.
const notBundled = (name) => () => {
  throw new Error(`zod.${name} is not part of the Worker bundle (tools/zod-without-locales.mjs)`);
};
export const compile = notBundled('compile');
export const withParser = notBundled('withParser');
export const fromJSONSchema = notBundled('fromJSONSchema');
export class ZodCompileAsyncError extends Error {}
export class ZodCompileUnsupportedError extends Error {}
/** zod's own sentinel (a registered symbol: the same value zod's parse path compares with). */
export const INVALID = Symbol.for('zod.compile.invalid');
export { z, z as default };
