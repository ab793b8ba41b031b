/**
 * `GET /api/workers` (contract §3.9), mounted at `/api/workers`: the overseer's task list, trimmed to the documented keys.
 * Admin only. 503 `not connected to overseer` while the link is down; 502 `overseer error: <msg>`
 * when the list request fails or times out.
 */
import { createRoute } from '@hono/zod-openapi';
import { requireAdmin, requireUser } from '../auth/middleware';
import { BadGateway, ServiceUnavailable } from '../http/errors';
import { errors, json, newRouter, z } from '../http/openapi';
import { overseerLink } from './overseer';
import { presentTask } from './protocol';

const TaskInfoSchema = z
  .object({
    task_id: z.string(),
    action: z.string(),
    params: z.record(z.string(), z.string()).optional(),
    state: z.string(),
    worker_state: z.string(),
    current_pid: z.number().int().optional(),
    restart_count: z.number().int(),
    created_at: z.string(),
    last_started_at: z.string().optional(),
    last_exited_at: z.string().optional(),
    last_exit_code: z.number().int().optional(),
    error_message: z.string().optional(),
  })
  .openapi('TaskInfo');

export const workerRoutes = newRouter().openapi(
  createRoute({
    method: 'get',
    path: '/',
    operationId: 'listDvrWorkers',
    tags: ['dvr system'],
    security: [{ bearer: [] }],
    summary: "The overseer's tasks",
    middleware: [requireUser, requireAdmin],
    responses: { 200: json(z.array(TaskInfoSchema), 'Tasks'), ...errors(401, 403, 502, 503) },
  }),
  async (c) => {
    const l = overseerLink(c.env);
    if (!(await l.wake())) throw new ServiceUnavailable('not connected to overseer', 'overseer_disconnected');
    let tasks;
    try {
      tasks = await l.listTasks();
    } catch (e) {
      const msg = e instanceof Error ? e.message.replace(/^overseer: /, '') : String(e);
      if (/not connected/.test(msg)) throw new ServiceUnavailable('not connected to overseer', 'overseer_disconnected');
      throw new BadGateway(`overseer error: ${msg}`, 'overseer_error');
    }
    return c.json(tasks.map(presentTask) as z.infer<typeof TaskInfoSchema>[], 200);
  },
);
