/**
 * The fleet scenario of issue 17 target 6 at its stated size: three fake overseers and 3,000 active
 * sources (fleet-suite.ts). Its own vitest project (`npx vitest run --project fleet-3000`), in every
 * run but after the other projects (sequence.groupOrder), because its 90 s failover budget counts
 * the real time of ~1,000 starts in one local workerd: ~110 s alone on the 2-core machine.
 * Starts run 20 at a time (start_concurrency), as an operator would configure a fleet this size;
 * at 100, local workerd answers the link's starts slower than the 20 s start timeout (docs/dvr.md).
 */
import { fleetSuite } from './fleet-suite';

fleetSuite({ sources: 3000, startConcurrency: 20 });
