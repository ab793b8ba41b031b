/**
 * The DVR's part of `/openapi.json` (issue 12): every DVR operation (under /api, /media and
 * /thumbnails) names itself with a unique operationId, carries tags, declares its security and
 * documents its 4xx answers, so the published description passes a standard linter.
 */
import { describe, expect, it } from 'vitest';
import { call, json } from '../support/http';

type Operation = { operationId?: string; tags?: string[]; security?: unknown[]; responses: Record<string, unknown> };
type Doc = { paths: Record<string, Record<string, Operation>>; components?: { securitySchemes?: Record<string, unknown> } };

const DVR = /^\/(api|media|thumbnails)\//;

describe('the DVR operations in /openapi.json', () => {
  it('have an operationId unique across the API, tags, declared security and a 4xx answer', async () => {
    const doc = await json<Doc>(await call('GET', '/openapi.json'));
    const ids = Object.values(doc.paths).flatMap((ops) => Object.values(ops).map((o) => o.operationId));
    const dvr = Object.entries(doc.paths)
      .filter(([path]) => DVR.test(path))
      .flatMap(([path, ops]) => Object.entries(ops).map(([method, op]) => ({ at: `${method.toUpperCase()} ${path}`, op })));
    expect(dvr.length).toBeGreaterThan(50);
    const schemes = Object.keys(doc.components?.securitySchemes ?? {});
    for (const { at, op } of dvr) {
      expect(op.operationId, at).toMatch(/^[a-z][A-Za-z]+$/);
      expect(ids.filter((id) => id === op.operationId), at).toHaveLength(1);
      expect(op.tags?.length, at).toBeGreaterThan(0);
      expect(op.security, at).toBeDefined();
      for (const requirement of op.security as Record<string, unknown>[]) for (const name of Object.keys(requirement)) expect(schemes, at).toContain(name);
      // /api/health is public and answers 200 or 503 only: nothing a client sends makes it a 4xx.
      if (at !== 'GET /api/health') expect(Object.keys(op.responses).some((s) => /^4\d\d$/.test(s)), at).toBe(true);
    }
  });

  it('keeps the URLs the dashboard calls', async () => {
    const doc = await json<Doc>(await call('GET', '/openapi.json'));
    for (const path of [
      '/api/auth/login',
      '/api/me',
      '/api/me/change-password',
      '/api/subscriptions',
      '/api/subscriptions/{driver}/{username}/pause',
      '/api/admin/subscriptions/{sub_id}/reset-error',
      '/api/admin/sources/restart-all',
      '/api/admin/users/{id}/subscriptions',
      '/api/admin/diagnostics',
      '/api/config',
      '/api/users/{id}',
      '/api/workers',
      '/api/health',
      '/api/ingest/uploads/{upload_id}/parts/{part_number}',
      '/api/admin/ingest/hosts',
      '/api/admin/retention',
      '/api/sources/{driver}/{username}/pins',
      '/media/subscriptions/{driver}/{username}/{path}',
      '/thumbnails/{driver}/{path}',
    ]) {
      expect(Object.keys(doc.paths), path).toContain(path);
    }
  });
});
