/** Placeholder router: filled in by its issue. */
import { newRouter } from '../http/openapi';

export const gamesRouter = newRouter();
