// The browser specs run two files at a time on the one shared stack (vitest.e2e.config.mts). The
// few that arrange the same shared things — the seeded member's games, seats and queue line in the
// default org, and its node — take a named lock for their whole file, so they never overlap each
// other (they still overlap every other spec). The lock is a directory made atomically in the
// stack's own temporary state directory: it lives as long as the run.
//
//   const release = await exclusive(stack, 'default-org-member');   // in beforeAll
//   await release();                                                   // in afterAll
import { mkdirSync, rmSync } from 'node:fs';
import { join } from 'node:path';

export async function exclusive(stack, name, { timeoutMs = 900_000 } = {}) {
  const dir = join(stack.persistTo, `lock-${name}`);
  const until = Date.now() + timeoutMs;
  for (;;) {
    try {
      mkdirSync(dir);
      return async () => rmSync(dir, { recursive: true, force: true });
    } catch (e) {
      if (e.code !== 'EEXIST') throw e;
      if (Date.now() > until) throw new Error(`waited ${timeoutMs / 1000} s for the lock ${name}`);
      await new Promise((r) => setTimeout(r, 250));
    }
  }
}
