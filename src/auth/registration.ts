/**
 * The open-registration switch: `platform_settings.open_registration` (set by admins at run time)
 * wins over the `OPEN_REGISTRATION` var. Default off: after the first admin, accounts come from
 * admins or invite codes.
 */
import { eq } from 'drizzle-orm';
import { db } from '../db/client';
import { platformSettings } from '../db/schema';

export async function isOpenRegistration(env: Env): Promise<boolean> {
  const row = await db(env).select().from(platformSettings).where(eq(platformSettings.key, 'open_registration')).get();
  return (row?.value ?? env.OPEN_REGISTRATION) === 'true';
}
