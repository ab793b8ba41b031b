// Accessibility (issue 19): axe-core's WCAG 2.0/2.1 A and AA rules over every dashboard route as an
// admin at 360×740, light and dark, with the phone menu open too, and no table clipped or scrolling
// sideways at that width. The other sizes and accounts are in the other a11y/*.spec.mjs files.
import { sweepSpec } from './sweep.mjs';

sweepSpec('admin', [[360, 740]]);
