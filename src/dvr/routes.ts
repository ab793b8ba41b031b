/**
 * The DVR routers. `apiRouters` mount at `/api` (dvr-api §3); `mediaRouter` serves `/media/...`
 * and `/thumbnails/...` at the root (dvr-api §4). Only the routes that need the overseer link wake
 * it (a start, a stop, /api/health, /api/workers, diagnostics); a dropped link is otherwise re-dialled
 * by its own alarm and the cron, so an anonymous 404 never touches the one global object.
 */
import { adminRouter } from './admin';
import { configRouter } from './config';
import { mediaRouter } from './media';
import { ingestRouter } from './recordings/ingest';
import { recordingsRouter } from './recordings/routes';
import { sourcesRouter } from './sources';
import { subscriptionsRouter } from './subscriptions';
import { dvrUsersRouter } from './users';
import { workersRouter } from './workers';

export const apiRouters = [subscriptionsRouter, sourcesRouter, adminRouter, configRouter, dvrUsersRouter, workersRouter, ingestRouter, recordingsRouter];
export { mediaRouter };
