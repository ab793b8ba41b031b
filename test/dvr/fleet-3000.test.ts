/**
 * The fleet scenario of issue 17 target 6 at its stated size: three fake overseers and 3,000 active
 * sources (fleet-suite.ts). It takes minutes of workerd time on a 2-core machine, so it is its own
 * vitest project (`fleet-3000`, in the default run and CI) instead of slowing the `fleet` project.
 * Starts run 100 at a time (start_concurrency), as an operator would configure a fleet this size.
 */
import { fleetSuite } from './fleet-suite';

fleetSuite({ sources: 3000, startConcurrency: 100 });
