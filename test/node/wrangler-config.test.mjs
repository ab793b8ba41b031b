/**
 * wrangler.toml: the staging environment repeats every binding, var and required secret of the top
 * level (wrangler inherits none of them), with its own resources, so a new var cannot silently be
 * missing in staging; and its `run_worker_first` is the list declared in src/http/paths.ts (TOML
 * cannot import it), so the Worker and the middleware agree on which paths are API.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { parse } from 'smol-toml';
import { describe, expect, it } from 'vitest';
import { RUN_WORKER_FIRST } from '../../src/http/paths.ts';
import { ROOT } from '../../tools/stack.mjs';

const config = parse(readFileSync(join(ROOT, 'wrangler.toml'), 'utf8'));
const staging = config.env?.staging;

const bindingNames = (section) => ({
  d1: (section.d1_databases ?? []).map((d) => d.binding).sort(),
  r2: (section.r2_buckets ?? []).map((b) => b.binding).sort(),
  durableObjects: (section.durable_objects?.bindings ?? []).map((b) => `${b.name}:${b.class_name}`).sort(),
  ratelimits: (section.ratelimits ?? []).map((r) => r.name).sort(),
  queueProducers: (section.queues?.producers ?? []).map((q) => q.binding).sort(),
  queueConsumers: (section.queues?.consumers ?? []).length,
  analytics: (section.analytics_engine_datasets ?? []).map((a) => a.binding).sort(),
});

describe('wrangler.toml environments', () => {
  it('has a staging environment', () => {
    expect(staging).toBeTypeOf('object');
  });

  it('gives staging every binding the top level has', () => {
    expect(bindingNames(staging)).toEqual(bindingNames(config));
  });

  it('gives staging every var and every required secret the top level has', () => {
    expect(Object.keys(staging.vars ?? {}).sort()).toEqual(Object.keys(config.vars ?? {}).sort());
    expect([...(staging.secrets?.required ?? [])].sort()).toEqual([...(config.secrets?.required ?? [])].sort());
  });

  it('keeps staging data apart from production', () => {
    expect(staging.d1_databases[0].database_name).not.toBe(config.d1_databases[0].database_name);
    expect(staging.r2_buckets[0].bucket_name).not.toBe(config.r2_buckets[0].bucket_name);
    expect(staging.ratelimits[0].namespace_id).not.toBe(config.ratelimits[0].namespace_id);
    expect(staging.vars.JWT_AUDIENCE).not.toBe(config.vars.JWT_AUDIENCE);
  });
});

describe('wrangler.toml assets', () => {
  it('sends exactly the paths declared in src/http/paths.ts to the Worker first', () => {
    expect(config.assets.run_worker_first).toEqual([...RUN_WORKER_FIRST]);
  });

  it('minifies the bundle (issue 17: the upload stays small), in staging too', () => {
    expect(config.minify).toBe(true);
    expect(staging.minify ?? config.minify).toBe(true);
  });
});
