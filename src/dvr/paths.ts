/**
 * DVR path schemas: what a driver, a username and a subscription id may look like in a URL. A
 * driver and a username become R2 prefixes and Durable Object names, so each is one safe segment.
 *
 *   request: { params: SourceParams }   // /{driver}/{username}
 */
import { z } from '@hono/zod-openapi';
import { IntId } from '../http/openapi';

/** Driver and username: one path segment each (they become R2 prefixes and DO names). */
export const SEGMENT = /^(?!\.{1,2}$)[\p{L}\p{N}_.\-]{1,64}$/u;
export const Segment = z.string().min(1).regex(SEGMENT, 'must be 1–64 letters, digits, "_", "-" or "."');

export const SourceParams = z.object({
  driver: Segment.openapi({ param: { name: 'driver', in: 'path' }, example: 'chaturbate' }),
  username: Segment.openapi({ param: { name: 'username', in: 'path' }, example: 'alice' }),
});

export const SubIdParams = z.object({ sub_id: IntId.openapi({ param: { name: 'sub_id', in: 'path' }, example: '12' }) });

export const UserIdParams = z.object({ id: IntId.openapi({ param: { name: 'id', in: 'path' }, example: '7' }) });
