/**
 * A user's settings blob (`user_settings`), as the login answer and `GET /users/{id}/settings`
 * show it: always a JSON object (`{}` when none is stored or the stored text is not an object).
 *
 *   const settings = await settingsOf(d, userId);
 */
import type { Db } from '../../db/client';
import { settingsJsonOf } from './queries';

export async function settingsOf(d: Db, userId: number): Promise<Record<string, unknown>> {
  const text = await settingsJsonOf(d, userId);
  if (text === undefined) return {};
  try {
    const parsed: unknown = JSON.parse(text);
    return parsed && typeof parsed === 'object' && !Array.isArray(parsed) ? (parsed as Record<string, unknown>) : {};
  } catch {
    return {};
  }
}
