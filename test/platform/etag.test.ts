/**
 * `src/http/etag.ts`, the one reading of If-None-Match both products use (the console's covers and
 * chart, the DVR's conditional lists): the weak, strong, list and `*` forms, and what is ignored.
 */
import { describe, expect, it } from 'vitest';
import { ifNoneMatchTags, matchesEtag, MAX_IF_NONE_MATCH_TAGS } from '../../src/http/etag';

describe('If-None-Match (src/http/etag.ts)', () => {
  it('matches a strong tag exactly, and nothing else', () => {
    expect(matchesEtag('"abc"', '"abc"')).toBe(true);
    expect(matchesEtag('"abd"', '"abc"')).toBe(false);
    expect(matchesEtag('"ABC"', '"abc"')).toBe(false);
  });

  it('compares weakly, as RFC 9110 asks of If-None-Match (W/ on either side)', () => {
    expect(matchesEtag('W/"abc"', '"abc"')).toBe(true);
    expect(matchesEtag('"abc"', 'W/"abc"')).toBe(true);
    expect(matchesEtag('W/"abc"', 'W/"abc"')).toBe(true);
  });

  it('matches any member of a list, with or without spaces', () => {
    expect(matchesEtag('"x", W/"abc" ,"y"', '"abc"')).toBe(true);
    expect(matchesEtag('"x","y"', '"abc"')).toBe(false);
    expect(ifNoneMatchTags(' "a" , W/"b",  "c" ')).toEqual(['a', 'b', 'c']);
  });

  it('takes `*` as any answer, alone or in a list', () => {
    expect(matchesEtag('*', '"abc"')).toBe(true);
    expect(matchesEtag('"x", *', '"abc"')).toBe(true);
    expect(ifNoneMatchTags('*')).toBe('any');
  });

  it('ignores an absent header and malformed members instead of failing', () => {
    expect(matchesEtag(undefined, '"abc"')).toBe(false);
    expect(matchesEtag(null, '"abc"')).toBe(false);
    expect(matchesEtag('', '"abc"')).toBe(false);
    // Unquoted, half-quoted and lower-case weak prefixes are not entity tags.
    expect(matchesEtag('abc', '"abc"')).toBe(false);
    expect(matchesEtag('"abc', '"abc"')).toBe(false);
    expect(matchesEtag('w/"abc"', '"abc"')).toBe(false);
    expect(ifNoneMatchTags('abc, "ok", "a"b"')).toEqual(['ok']);
    // An empty opaque tag is well-formed (and only matches an empty one).
    expect(matchesEtag('""', '"abc"')).toBe(false);
  });

  it('looks at the first tags only (a client header, not a list to walk)', () => {
    const filler = Array.from({ length: MAX_IF_NONE_MATCH_TAGS }, (_, i) => `"f${i}"`);
    expect(matchesEtag([...filler, '"abc"'].join(', '), '"abc"')).toBe(false);
    expect(matchesEtag([...filler.slice(1), '"abc"'].join(', '), '"abc"')).toBe(true);
    // The DVR's lists look at fewer (each claimed tag is a term of their SQL guard).
    expect(matchesEtag('"a", "b", "abc"', '"abc"', 2)).toBe(false);
    expect(ifNoneMatchTags('"a", "b", *', 2)).toEqual(['a', 'b']);
  });
});
