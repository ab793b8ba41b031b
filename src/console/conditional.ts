/**
 * Conditional GETs of the console's cacheable answers (game covers, the public chart): whether an
 * `If-None-Match` header names the answer's ETag. RFC 9110 weak comparison (`W/"x"` matches `"x"`),
 * `*` matches anything, and only the first tags count: a header is a client's, not a list to walk.
 *
 *   if (matchesEtag(c.req.header('If-None-Match'), etag)) return c.body(null, 304);
 */
const MAX_TAGS = 16;

const bare = (tag: string) => tag.trim().replace(/^W\//, '');

export function matchesEtag(header: string | undefined, etag: string): boolean {
  if (!header) return false;
  const wanted = bare(etag);
  return header
    .split(',', MAX_TAGS)
    .some((t) => t.trim() === '*' || bare(t) === wanted);
}
