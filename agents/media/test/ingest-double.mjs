// A small local HTTP double of the control plane's ingest API (src/dvr/recordings/ingest.ts), for
// the media agent's tests: same routes, same JSON shapes, same part-tree checksum and the same
// refusals (part digest, length, declared tree, duplicate completion idempotent). It differs in
// one way: any part size is accepted (the Worker requires >= 5 MiB), so tests stay small. The
// Worker side of the contract is tested in workerd by test/dvr/recordings-ingest.test.ts.
//
//   const api = await startIngestDouble({ credential: 'epm_test' });
//   api.url; api.objects.get('recordings/chaturbate/alice/x.ts'); api.log; await api.close();
import { createHash, randomBytes } from 'node:crypto';
import { createServer } from 'node:http';

export async function startIngestDouble({ credential = `epm_${'t'.repeat(43)}`, code = 'c'.repeat(22) } = {}) {
  const uploads = new Map();
  const objects = new Map(); // key → Buffer (stored only after a verified completion)
  const log = []; // {method, path, status, part?, body? (the JSON of an upload request)}
  const faults = { completeStatus: 0, dropPart: null };
  const err = (res, status, error, codeName, details) => send(res, status, { error, code: codeName, ...(details ? { details } : {}) });
  const send = (res, status, body) => {
    res.writeHead(status, { 'Content-Type': 'application/json', Connection: 'close' });
    res.end(JSON.stringify(body));
  };
  const view = (u) => ({
    upload_id: u.id,
    state: u.state,
    key: u.key,
    size: u.size,
    part_size: u.part_size,
    part_count: Math.max(1, Math.ceil(u.size / u.part_size)),
    parts: [...u.parts.entries()].sort(([a], [b]) => a - b).map(([n, p]) => ({ part_number: n, size: p.bytes.length, sha256: p.sha256 })),
  });

  const server = createServer(async (req, res) => {
    const url = new URL(req.url, 'http://x');
    const entry = { method: req.method, path: url.pathname, status: 0 };
    log.push(entry);
    const chunks = [];
    try {
      for await (const c of req) chunks.push(c);
    } catch {
      entry.status = -1; // the client went away mid-body
      return;
    }
    const body = Buffer.concat(chunks);
    const reply = (status, b) => ((entry.status = status), send(res, status, b));
    const fail = (status, e, c, d) => ((entry.status = status), err(res, status, e, c, d));
    if (url.pathname === '/api/ingest/enroll' && req.method === 'POST') {
      return JSON.parse(body.toString()).code === code ? reply(200, { host_id: 1, name: 'double', credential }) : fail(401, 'enrolment code invalid, used or expired', 'invalid_enrolment_code');
    }
    if (req.headers.authorization !== `Bearer ${credential}`) return fail(401, 'invalid ingest credential', 'invalid_ingest_credential');
    if (url.pathname === '/api/ingest/uploads' && req.method === 'POST') {
      const r = JSON.parse(body.toString());
      // As the Worker: a remuxed .mp4 names the recorder's .ts it was made from, and nothing else.
      if (r.remuxed_from !== undefined && r.remuxed_from.replace(/\.ts$/i, '.mp4') !== r.path) return fail(400, 'remuxed_from must be the .ts this .mp4 was made from', 'invalid_path');
      entry.body = r;
      const key = r.kind === 'thumbnail' ? `thumbnails/${r.driver}/${r.username}/${r.path.replace(/\.[^./]*$/, '')}.jpg` : `recordings/${r.driver}/${r.username}/${r.path}`;
      const stored = objects.get(key);
      if (stored && stored.sha256 === r.sha256) return reply(200, { state: 'stored', key, bytes: stored.bytes.length, sha256: r.sha256, playback_url: `/media/subscriptions/${r.driver}/${r.username}/${r.path}` });
      const same = [...uploads.values()].find((u) => u.key === key && u.state === 'open' && u.sha256 === r.sha256 && u.size === r.size && u.part_size === r.part_size);
      if (same) return reply(200, view(same));
      const u = { id: `up_${randomBytes(18).toString('base64url')}`, key, size: r.size, part_size: r.part_size, sha256: r.sha256, state: 'open', parts: new Map(), driver: r.driver, username: r.username, path: r.path };
      uploads.set(u.id, u);
      return reply(201, view(u));
    }
    const m = /^\/api\/ingest\/uploads\/([^/]+)(?:\/(parts)\/(\d+)|\/(complete))?$/.exec(url.pathname);
    const u = m && uploads.get(m[1]);
    if (!u) return fail(404, 'upload not found', 'upload_not_found');
    if (req.method === 'GET' && !m[2] && !m[4]) return reply(200, view(u));
    if (req.method === 'PUT' && m[2]) {
      const n = Number(m[3]);
      entry.part = n;
      const count = Math.max(1, Math.ceil(u.size / u.part_size));
      const expected = n < count ? u.part_size : u.size - (count - 1) * u.part_size;
      if (body.length !== expected) return fail(400, `part ${n} incomplete`, 'part_incomplete');
      const digest = createHash('sha256').update(body).digest('hex');
      if (digest !== req.headers['x-part-sha256']) return fail(400, `part ${n} checksum mismatch`, 'checksum_mismatch');
      u.parts.set(n, { bytes: body, sha256: digest });
      return reply(200, { part_number: n, size: body.length, sha256: digest });
    }
    if (req.method === 'POST' && m[4]) {
      const done = { state: 'stored', key: u.key, bytes: u.size, sha256: u.sha256, playback_url: `/media/subscriptions/${u.driver}/${u.username}/${u.path}` };
      if (u.state === 'completed') return reply(200, done);
      if (faults.completeStatus) return fail(faults.completeStatus, 'storage refused the completion', 'upstream_failed');
      const count = Math.max(1, Math.ceil(u.size / u.part_size));
      const missing = [];
      for (let i = 1; i <= count; i++) if (!u.parts.has(i)) missing.push(i);
      if (missing.length) return fail(409, `${missing.length} part(s) missing`, 'parts_missing', { missing });
      const ordered = [...u.parts.entries()].sort(([a], [b]) => a - b);
      const tree = createHash('sha256').update(Buffer.concat(ordered.map(([, p]) => Buffer.from(p.sha256, 'hex')))).digest('hex');
      if (tree !== u.sha256) {
        u.state = 'aborted';
        return fail(400, 'checksum mismatch', 'checksum_mismatch');
      }
      u.state = 'completed';
      objects.set(u.key, { bytes: Buffer.concat(ordered.map(([, p]) => p.bytes)), sha256: u.sha256 });
      return reply(200, done);
    }
    return fail(404, 'not found', 'not_found');
  });
  await new Promise((r) => server.listen(0, '127.0.0.1', r));
  return {
    url: `http://127.0.0.1:${server.address().port}`,
    credential,
    code,
    objects,
    uploads,
    log,
    faults,
    close: () => new Promise((r) => (server.closeAllConnections?.(), server.close(r))),
  };
}
