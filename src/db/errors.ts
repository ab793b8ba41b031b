/**
 * D1 reports constraint failures as plain errors (the SQLite message, sometimes on `cause`).
 * Recognising them lets a handler answer 409 instead of 500 without a read-before-write race.
 */

function messageOf(e: unknown): string {
  return e instanceof Error ? `${e.message} ${e.cause instanceof Error ? e.cause.message : ''}` : String(e);
}

export function isUniqueViolation(e: unknown): boolean {
  return /UNIQUE constraint failed/i.test(messageOf(e));
}

export function isForeignKeyViolation(e: unknown): boolean {
  return /FOREIGN KEY constraint failed/i.test(messageOf(e));
}
