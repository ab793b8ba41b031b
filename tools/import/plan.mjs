// An import plan: every row the legacy system has, by natural key, with the SQL that creates it or
// the reason it is refused. Resolving it against the target's existing keys gives the report (dry
// run) and the SQL file (apply); a second run finds every key present and changes nothing.
//
//   const plan = new Plan();
//   plan.add({ kind: 'users', key: digest, label: 'alice', sql: insert(...), needs: [] });
//   plan.refuse('users', 'bob', 'collides with "Bob" after case folding');
//   const result = plan.resolve(existingKeys);   // { create, unchanged, refused, sql }

export class Plan {
  items = [];
  /** Keys whose SELECT gives the target's existing rows, one `k` column per row, by kind. */
  keyQueries = {};

  keys(kind, sql) {
    this.keyQueries[kind] = sql;
  }

  /** @param {{kind: string, key: string, label: string, sql: string | string[], needs?: Array<[string, string]>}} item */
  add(item) {
    this.items.push({ needs: [], ...item, sql: [item.sql].flat() });
  }

  refuse(kind, label, reason) {
    this.items.push({ kind, key: null, label, refused: reason, needs: [], sql: [] });
  }

  /** A note that is neither a change nor a refusal: what the importer deliberately leaves behind. */
  note(kind, label, reason) {
    this.items.push({ kind, key: null, label, skipped: reason, needs: [], sql: [] });
  }

  /** @param {Record<string, Set<string>>} existing */
  resolve(existing) {
    const create = [];
    const unchanged = [];
    const refused = [];
    const skipped = [];
    const creating = new Map(Object.keys(this.keyQueries).map((k) => [k, new Set()]));
    const have = (kind, key) => existing[kind]?.has(key) || creating.get(kind)?.has(key);
    for (const item of this.items) {
      if (item.refused) refused.push(item);
      else if (item.skipped) skipped.push(item);
      else if (existing[item.kind]?.has(item.key) || creating.get(item.kind)?.has(item.key)) unchanged.push(item);
      else {
        const missing = item.needs.find(([kind, key]) => !have(kind, key));
        if (missing) refused.push({ ...item, refused: `needs ${missing[0]} ${missing[1]}, which is not imported` });
        else {
          create.push(item);
          if (!creating.has(item.kind)) creating.set(item.kind, new Set());
          creating.get(item.kind).add(item.key);
        }
      }
    }
    return { create, unchanged, refused, skipped, sql: create.flatMap((i) => i.sql) };
  }
}

/** The report a person reads before `--apply`: counts per kind, then every refusal with its reason. */
export function report({ create, unchanged, refused, skipped }, { applied, source, target }) {
  const kinds = [...new Set([...create, ...unchanged, ...refused, ...skipped].map((i) => i.kind))];
  const count = (list, kind) => list.filter((i) => i.kind === kind).length;
  const lines = [`${applied ? 'Imported' : 'Dry run (nothing written; add --apply to import)'}: ${source} → ${target}`, ''];
  lines.push(`  ${'kind'.padEnd(20)} ${'create'.padStart(7)} ${'unchanged'.padStart(10)} ${'refused'.padStart(8)}`);
  for (const kind of kinds) lines.push(`  ${kind.padEnd(20)} ${String(count(create, kind)).padStart(7)} ${String(count(unchanged, kind)).padStart(10)} ${String(count(refused, kind)).padStart(8)}`);
  if (refused.length) {
    lines.push('', 'Refused (not imported):');
    for (const r of refused) lines.push(`  - ${r.kind} ${r.label}: ${r.refused}`);
  }
  if (skipped.length) {
    lines.push('', 'Left behind on purpose:');
    for (const s of skipped) lines.push(`  - ${s.kind} ${s.label}: ${s.skipped}`);
  }
  return lines.join('\n');
}
