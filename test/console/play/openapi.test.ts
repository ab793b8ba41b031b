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
});
