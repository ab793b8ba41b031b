// `z.core` for the Worker bundle: zod's core minus `locales` (see zod-without-locales.mjs).
export * from 'zod/v4/core';
/** Not bundled: the Worker never switches zod's message language. */
export const locales = Object.freeze({});

// The ahead-of-time compiler, shadowed here too (see zod-without-locales.mjs).
export { compile, withParser, ZodCompileAsyncError, ZodCompileUnsupportedError, INVALID } from './zod-without-locales.mjs';
const notBundled = () => {
  throw new Error('zod.core.compileFn is not part of the Worker bundle (tools/zod-without-locales.mjs)');
};
export const compileFn = notBundled;
