/**
 * The Worker bundle's zod (tools/zod-without-locales.mjs, wired by wrangler.toml `[alias]`) must be
 * zod itself minus the message locales: every other export the very same value, so validation,
 * `instanceof` and the OpenAPI extension behave as in tests (which resolve the real package).
 */
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import * as real from 'zod';
import * as slim from '../../tools/zod-without-locales.mjs';

describe('zod without locales', () => {
  // Shadowed for the bundle budget: the ahead-of-time compiler and fromJSONSchema throw; the
  // sentinel symbol is zod's own registered one.
  const NOT_BUNDLED = ['compile', 'withParser', 'fromJSONSchema', 'ZodCompileAsyncError', 'ZodCompileUnsupportedError', 'compileFn'];

  it('exports every zod value unchanged except the locales and the compiler', () => {
    const skip = new Set(['locales', 'core', 'z', 'default', 'INVALID', ...NOT_BUNDLED]);
    for (const key of Object.keys(real)) {
      if (skip.has(key)) continue;
      expect(slim[key], key).toBe(real[key]);
    }
    for (const key of Object.keys(real.core)) {
      if (key === 'locales' || key === 'INVALID' || NOT_BUNDLED.includes(key)) continue;
      expect(slim.core[key], `core.${key}`).toBe(real.core[key]);
    }
    expect(Object.keys(slim.locales)).toEqual([]);
    expect(Object.keys(slim.core.locales)).toEqual([]);
    expect(slim.z).toBe(slim.default);
    expect(slim.z.object).toBe(real.z.object);
  });

  it('leaves out the compiler loudly, and keeps zod’s sentinel value', () => {
    expect(slim.INVALID).toBe(real.INVALID);
    expect(slim.core.INVALID).toBe(real.core.INVALID);
    for (const name of ['compile', 'withParser', 'fromJSONSchema']) expect(() => slim[name](slim.z.string()), name).toThrow(/not part of the Worker bundle/);
    expect(() => slim.core.compileFn(slim.z.string())).toThrow(/not part of the Worker bundle/);
  });

  it('still answers validation errors in English', () => {
    const result = slim.z.object({ username: slim.z.string() }).safeParse({ username: 5 });
    expect(result.success).toBe(false);
    expect(result.error.issues[0].message).toMatch(/expected string/i);
  });

  it('is what the Worker bundle resolves `zod` to', () => {
    const toml = readFileSync(new URL('../../wrangler.toml', import.meta.url), 'utf8');
    expect(toml).toMatch(/^\[alias\]\n"zod" = "\.\/tools\/zod-without-locales\.mjs"$/m);
  });
});
