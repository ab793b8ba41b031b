/**
 * `GET /api/workers` (contract §3.9), mounted at `/api/workers`: every overseer's task list, trimmed to
 * the documented keys (plus `overseer`, which one runs it, when there are several).
 * Admin only. 503 `not connected to overseer` while the link is down; 502 `overseer error: <msg>`
 * when the list request fails or times out.
 */
import { createRoute } from '@hono/zod-openapi';
import { requireAdmin, requireUser } from '../auth/middleware';
import { BadGateway, ServiceUnavailable } from '../http/errors';
import { errors, json, newRouter, z } from '../http/openapi';
import { answerByDigest, IfNoneMatchHeaders, notModified } from './conditional';
import { overseerLinks } from './overseer';
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
    /** With several overseers: the one running it (its id in diagnostics). */
    overseer: z.string().optional(),
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
    request: { headers: IfNoneMatchHeaders },
    responses: { 200: json(z.array(TaskInfoSchema), 'Tasks'), ...notModified, ...errors(401, 403, 502, 503) },
  }),
  async (c) => {
    // Each overseer's tasks, tagged with its id; one that is down or fails is left out unless all are.
    const answers = await Promise.all(
      overseerLinks(c.env).map(async ({ id, link }) => {
        if (!(await link.wake())) return { id, down: true as const };
        try {
          return { id, tasks: await link.listTasks() };
        } catch (e) {
          const msg = e instanceof Error ? e.message.replace(/^overseer: /, '') : String(e);
          return /not connected/.test(msg) ? { id, down: true as const } : { id, error: msg };
        }
      }),
    );
    const ok = answers.filter((a) => 'tasks' in a);
    if (ok.length === 0) {
      const failed = answers.find((a) => 'error' in a);
      if (failed && 'error' in failed) throw new BadGateway(`overseer error: ${failed.error}`, 'overseer_error');
      throw new ServiceUnavailable('not connected to overseer', 'overseer_disconnected');
    }
    // With several overseers each task says which one runs it; one overseer's list stays the contract's.
    const tag = answers.length > 1;
    const tasks = ok.flatMap((a) => (a.tasks ?? []).map((t) => (tag ? { ...presentTask(t), overseer: a.id } : presentTask(t))));
    // Asked of the overseer on every call: the tag spares the transfer and the page's repaint only.
    return answerByDigest(c, 'workers', tasks as z.infer<typeof TaskInfoSchema>[]);
  },
);
