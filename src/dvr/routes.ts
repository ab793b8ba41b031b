/**
 * The DVR routers. `apiRouters` mount at `/api` (dvr-api §3); `mediaRouter` serves `/media/...`
 * and `/thumbnails/...` at the root (dvr-api §4). The first one only keeps the overseer link
 * dialled: every DVR request wakes it (in the background) so a dropped link comes back without
 * waiting for the next alarm or cron.
 */
import { newRouter } from '../http/openapi';
import { adminRouter } from './admin';
import { configRouter } from './config';
import { wakeLink } from './lifecycle';
import { mediaRouter } from './media';
import { ingestRouter } from './recordings/ingest';
import { recordingsRouter } from './recordings/routes';
import { sourcesRouter } from './sources';
import { subscriptionsRouter } from './subscriptions';
import { dvrUsersRouter } from './users';
import { workersRouter } from './workers';

const wakeRouter = newRouter();
wakeRouter.use('*', async (c, next) => {
  wakeLink(c);
  await next();
});

export const apiRouters = [wakeRouter, subscriptionsRouter, sourcesRouter, adminRouter, configRouter, dvrUsersRouter, workersRouter, ingestRouter, recordingsRouter];
export { mediaRouter };
