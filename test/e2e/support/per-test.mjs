// Setup file of every browser spec (vitest.e2e.config.mts `setupFiles`): the browser contexts a
// test opened are closed when it ends (support/browser.mjs `newContext`), so a file's finished
// tests leave no page polling the stack or running the launcher's loops behind the next ones.
import { afterEach, beforeEach } from 'vitest';
import { closeTestContexts, collectTestContexts } from './browser.mjs';

beforeEach(() => collectTestContexts());
afterEach(() => closeTestContexts());
