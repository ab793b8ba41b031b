// Accessibility (issue 19): axe-core's WCAG 2.0/2.1 A and AA rules over every route a member can
// open (and the admin page refused to them), light and dark, 1280×800 and 360×740 (with the phone
// menu open, and no clipped table at that width). The admin's sweep is in admin-*.spec.mjs.
import { SIZES, sweepSpec } from './sweep.mjs';

sweepSpec('member', SIZES);
