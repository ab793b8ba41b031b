/**
 * The DVR's `User` object (contract §3.3, §3.8): what `/api/me`, `/api/auth/login` and `/api/users`
 * answer with.
 */
import { z } from '@hono/zod-openapi';

export const UserSchema = z
  .object({
    id: z.number().int(),
    username: z.string(),
    role: z.enum(['admin', 'user']),
    created_at: z.string(),
    updated_at: z.string(),
  })
  .openapi('User');
