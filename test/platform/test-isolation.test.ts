/**
 * The per-file wipe of the Workers tests (test/support/fresh-storage.ts): what one file stored must
 * be gone for the next, including objects that are no longer in memory. A bare `reset()` keeps
 * the storage and the alarm of an evicted object: the first test fails with it in place of
 * `wipeStorage()`.
 */
import { applyD1Migrations, env, evictDurableObject, runInDurableObject } from 'cloudflare:test';
import { afterAll, describe, expect, it } from 'vitest';
import { wipeStorage } from '../support/fresh-storage';

// The tests below wipe D1 too: give the rest of the file (and any later test here) its schema back.
afterAll(() => applyD1Migrations(env.DB, env.TEST_MIGRATIONS));

describe('wipeStorage', () => {
  it('deletes the storage and the alarm of an object evicted since its last use', async () => {
    const stub = () => env.ORG_ALLOCATOR.getByName('isolation-evicted');
    await runInDurableObject(stub(), async (_o, state) => {
      await state.storage.put('seat', 'held');
      await state.storage.setAlarm(Date.now() + 3_600_000);
    });
    await evictDurableObject(stub());

    await wipeStorage();

    const after = await runInDurableObject(stub(), async (_o, state) => ({ seat: await state.storage.get('seat'), alarm: await state.storage.getAlarm() }));
    expect(after).toEqual({ seat: undefined, alarm: null });
  });

  it('deletes what an object emptied by an earlier wipe stored again before it was evicted', async () => {
    // Org 1's allocator in file after file: the wipe wakes only the objects written since the
    // previous wipe (test/support/storage-files.mjs), and this one was written, emptied, then written again.
    const stub = () => env.ORG_ALLOCATOR.getByName('isolation-reused');
    const store = (value: string) =>
      runInDurableObject(stub(), async (_o, state) => {
        await state.storage.put('seat', value);
        await state.storage.setAlarm(Date.now() + 3_600_000);
      });
    await store('first file');
    await evictDurableObject(stub());
    await wipeStorage();
    await store('second file');
    await evictDurableObject(stub());

    await wipeStorage();

    const after = await runInDurableObject(stub(), async (_o, state) => ({ seat: await state.storage.get('seat'), alarm: await state.storage.getAlarm() }));
    expect(after).toEqual({ seat: undefined, alarm: null });
  });

  it('deletes D1 rows and R2 objects, leaving no table behind for the migrations to skip', async () => {
    await applyD1Migrations(env.DB, env.TEST_MIGRATIONS);
    await env.DB.prepare(`INSERT INTO orgs (slug, name) VALUES ('left-over', 'Left over')`).run();
    await env.BUCKET.put('left-over.txt', 'x');

    await wipeStorage();

    const tables = await env.DB.prepare(`SELECT name FROM sqlite_master WHERE type = 'table' AND name = 'orgs'`).all();
    expect(tables.results).toEqual([]);
    expect((await env.BUCKET.list()).objects).toEqual([]);
  });
});
