/**
 * A recorder fleet larger than one overseer (issue 17 target 6) at 240 sources, fast enough for
 * every run: the scenario (exactly one recorder per source, failover within 90 s of a loss, hand-back
 * without recording twice) is `fleetSuite` in fleet-suite.ts; fleet-3000.test.ts runs it at 3,000.
 */
import { fleetSuite } from './fleet-suite';

fleetSuite({ sources: 240 });
