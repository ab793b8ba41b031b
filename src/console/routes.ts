/**
 * The console routers, mounted at `/` by src/app.ts (the launcher expects root paths).
 */
import { appsRouter } from './apps';
import { auditRouter } from './audit-log';
import { chartsRouter } from './charts/router';
import { coversRouter } from './covers';
import { gamesRouter } from './games';
import { libraryRouter } from './library';
import { nodesRouter } from './nodes';
import { orgSessionsRouter } from './org-sessions';
import { orgsRouter } from './orgs';
import { ownershipRouter } from './ownership/router';
import { playRouter } from './play';
import { usersRouter } from './users';
import { metricsRouter } from '../metrics/router';

export const consoleRouters = [
  orgsRouter,
  usersRouter,
  gamesRouter,
  coversRouter,
  appsRouter,
  libraryRouter,
  ownershipRouter,
  chartsRouter,
  nodesRouter,
  playRouter,
  orgSessionsRouter,
  auditRouter,
  metricsRouter,
];
