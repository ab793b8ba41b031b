/**
 * The one reading of `If-None-Match` (RFC 9110 §13.1.2) both products use: the console's covers and
 * public chart, and the DVR's conditional lists and digest-tagged answers (`src/dvr/conditional.ts`,
 * which keeps its own SQL guard built from the tags read here).
 *
 *   if (matchesEtag(c.req.header('If-None-Match'), etag)) return c.body(null, 304);
 *   const tags = ifNoneMatchTags(header);   // 'any' for `*`, else the opaque tags (no quotes, no W/)
 *
 * Weak comparison, as the RFC asks of If-None-Match: `W/"x"` matches `"x"` and the other way round.
 * `*` matches any current answer. Only the first tags count (a header is a client's, not a list to
 * walk: a dashboard sends one); a malformed member is ignored, never an error.
 */

/** Tags looked at per header, unless the caller needs fewer (the DVR's SQL guard). */
export const MAX_IF_NONE_MATCH_TAGS = 16;

const ENTITY_TAG = /^(?:W\/)?"([^"]*)"$/;

/** `any` for a `*` member, else the opaque tags (between the quotes) of the well-formed members. */
export function ifNoneMatchTags(header: string | undefined | null, max = MAX_IF_NONE_MATCH_TAGS): 'any' | string[] {
  if (!header) return [];
  const out: string[] = [];
  for (const raw of header.split(',').slice(0, max)) {
    const member = raw.trim();
    if (member === '*') return 'any';
    const opaque = ENTITY_TAG.exec(member)?.[1];
    if (opaque !== undefined) out.push(opaque);
  }
  return out;
}

/** The header names `etag` (a quoted entity tag, strong or weak) or is `*`. */
export function matchesEtag(header: string | undefined | null, etag: string, max = MAX_IF_NONE_MATCH_TAGS): boolean {
  const tags = ifNoneMatchTags(header, max);
  if (tags === 'any') return true;
  const wanted = ENTITY_TAG.exec(etag.trim())?.[1];
  return wanted !== undefined && tags.includes(wanted);
}
