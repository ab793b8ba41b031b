// SQL text for the import file. Values are always written as literals through `lit`, never pasted,
// and rows reference each other by natural key (digest, slug, driver/username), never by id, so the
// same file is correct whatever ids the target database has handed out.

export function lit(v) {
  if (v === null || v === undefined) return 'NULL';
  if (typeof v === 'boolean') return v ? '1' : '0';
  if (typeof v === 'number') {
    if (!Number.isFinite(v)) throw new Error(`not a finite number: ${v}`);
    return String(v);
  }
  return `'${String(v).replaceAll("'", "''")}'`;
}

export const userId = (digest) => `(SELECT id FROM users WHERE username_digest = ${lit(digest)})`;
export const orgId = (slug) => `(SELECT id FROM orgs WHERE slug = ${lit(slug)})`;
export const gameId = (slug) => `(SELECT id FROM games WHERE slug = ${lit(slug)})`;
export const nodeId = (orgSlug, name) => `(SELECT id FROM cluster_nodes WHERE org_id = ${orgId(orgSlug)} AND name = ${lit(name)})`;
export const sourceId = (driver, username) => `(SELECT id FROM sources WHERE driver = ${lit(driver)} AND username = ${lit(username)})`;

/** `INSERT ... VALUES` that leaves an existing row (same unique key) untouched. */
export function insert(table, row) {
  const cols = Object.keys(row);
  return `INSERT INTO ${table} (${cols.join(', ')}) VALUES (${cols.map((c) => (typeof row[c] === 'object' && row[c]?.sql ? row[c].sql : lit(row[c]))).join(', ')}) ON CONFLICT DO NOTHING;`;
}

/** A raw SQL expression as a column value (a natural-key subquery). */
export const expr = (sql) => ({ sql });

/** Any legacy timestamp (SQLite `YYYY-MM-DD HH:MM:SS`, ISO without zone, Postgres `+00`) as our ISO UTC form. */
export function isoUtc(value) {
  if (value === null || value === undefined || value === '') return null;
  let s = String(value).trim().replace(' ', 'T');
  if (/[+-]\d{2}$/.test(s)) s += ':00';
  if (!/(Z|[+-]\d{2}:\d{2})$/.test(s)) s += 'Z';
  const d = new Date(s);
  return Number.isNaN(d.getTime()) ? null : d.toISOString();
}
