/**
 * The fleet scenario of issue 17 target 6 at its stated size: three fake overseers and 3,000 active
 * sources (fleet-suite.ts). It takes many minutes of workerd time on a 2-core machine, so it is its
 * own vitest project, opt-in for now: `FLEET_3000=1 npx vitest run --project fleet-3000`.
 * Starts run 20 at a time (start_concurrency), as an operator would configure a fleet this size.
 */
import { fleetSuite } from './fleet-suite';

fleetSuite({ sources: 3000, startConcurrency: 20 });
