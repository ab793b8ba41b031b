// `z.core` for the Worker bundle: zod's core minus `locales` (see zod-without-locales.mjs).
export * from 'zod/v4/core';
/** Not bundled: the Worker never switches zod's message language. */
export const locales = Object.freeze({});
