// Accessibility (issue 19): axe-core's WCAG 2.0/2.1 A and AA rules over every dashboard route as an
// admin at 1280×800, light and dark (no serious or critical violation; support/axe.mjs). The other
// sizes and accounts are in the other a11y/*.spec.mjs files (split so the browser lanes balance).
import { sweepSpec } from './sweep.mjs';

sweepSpec('admin', [[1280, 800]]);
