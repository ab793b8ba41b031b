/**
 * Which catalog fields an admin set by hand. `games.manual_fields` is a JSON array of field names;
 * enrichment writes a field only while it is absent, checked inside the same UPDATE (so an admin's
 * edit that lands while a store fetch is in flight still wins).
 *
 *   d.update(games).set({ name, manualFields: withManual(['name']) })         // an admin edit
 *   sql`UPDATE games SET name = ${n} WHERE id = ${id} AND ${notManualFor(id, 'name')}` // enrichment (./queries.ts)
 */
export const ENRICHED_FIELDS = ['name', 'description', 'cover', 'ratings'] as const;
export type EnrichedField = (typeof ENRICHED_FIELDS)[number];

/** The admin-facing body keys that make a field manual. */
export function manualFieldsOf(body: Record<string, unknown>): EnrichedField[] {
  const out = new Set<EnrichedField>();
  if (body.name !== undefined) out.add('name');
  if (body.description !== undefined) out.add('description');
  if (body.cover_url !== undefined) out.add('cover');
  if (body.ratings !== undefined) out.add('ratings');
  return [...out];
}

// The SQL halves live with the area's statements; re-exported for the catalog routers.
export { withManual } from './queries';
