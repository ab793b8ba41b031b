import { describe, expect, it } from 'vitest';
import { call, json } from '../../support/http';

describe('OpenAPI document', () => {
  it('documents every play and node route with its schemas', async () => {
    const doc = await json<{ paths: Record<string, Record<string, unknown>>; components: { schemas: Record<string, unknown> } }>(await call('GET', '/openapi.json'));
    const expected: Array<[string, string]> = [
      ['/sessions', 'post'],
      ['/sessions/{session_id}', 'get'],
      ['/sessions/{session_id}', 'delete'],
      ['/play/{game_id}', 'post'],
      ['/games/{game_id}/availability', 'get'],
      ['/orgs/{org_id}/nodes', 'post'],
      ['/orgs/{org_id}/nodes', 'get'],
      ['/orgs/{org_id}/nodes/{node_id}', 'get'],
      ['/orgs/{org_id}/nodes/{node_id}', 'patch'],
      ['/orgs/{org_id}/nodes/{node_id}', 'delete'],
      ['/orgs/{org_id}/nodes/{node_id}/drain', 'post'],
      ['/orgs/{org_id}/nodes/{node_id}/activate', 'post'],
      ['/orgs/{org_id}/nodes/{node_id}/token', 'post'],
      ['/orgs/{org_id}/nodes/{node_id}/token', 'delete'],
      ['/nodes/heartbeat', 'post'],
      ['/nodes/sessions', 'get'],
      ['/nodes/sessions/{session_id}/status', 'post'],
    ];
    for (const [path, method] of expected) expect(doc.paths[path]?.[method], `${method} ${path}`).toBeTruthy();
    for (const name of ['SessionOut', 'CreateSession', 'ClusterNode', 'NodeHeartbeat', 'Availability', 'PlayLocalOut']) {
      expect(doc.components.schemas[name], name).toBeTruthy();
    }
  });

  it('gives every play and node operation an id, tags, its security and a 4xx answer', async () => {
    type Op = { operationId?: string; tags?: string[]; security?: Array<Record<string, unknown>>; responses: Record<string, unknown> };
    const doc = await json<{ paths: Record<string, Record<string, Op>>; components: { securitySchemes: Record<string, { type: string; scheme: string }> } }>(
      await call('GET', '/openapi.json'),
    );
    const ours = Object.entries(doc.paths).filter(([path]) =>
      /^\/(sessions|play|nodes)(\/|$)|^\/games\/\{game_id\}\/availability$|^\/orgs\/\{org_id\}\/(sessions|queue|nodes)(\/|$)/.test(path),
    );
    const ops = ours.flatMap(([path, methods]) => Object.entries(methods).map(([method, op]) => ({ where: `${method} ${path}`, path, op })));
    expect(ops.length).toBe(24);
    for (const { where, path, op } of ops) {
      expect(path, where).not.toMatch(/\/$/);
      expect(op.operationId, where).toMatch(/^[a-z][A-Za-z]+$/);
      expect(op.tags?.length, where).toBeGreaterThan(0);
      expect(Object.keys(op.responses).some((s) => /^4\d\d$/.test(s)), where).toBe(true);
      const schemes = (op.security ?? []).flatMap((s) => Object.keys(s));
      if (path === '/nodes/enrol') expect(op.security, where).toEqual([]);
      else if (path.startsWith('/nodes/')) expect(schemes, where).toEqual(['nodeToken']);
      else expect(schemes, where).toEqual(['bearer']);
    }
    expect(new Set(ops.map((o) => o.op.operationId)).size).toBe(ops.length);
    expect(doc.components.securitySchemes.nodeToken).toMatchObject({ type: 'http', scheme: 'bearer' });
  });
});
