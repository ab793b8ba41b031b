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
export { z, z as default };
