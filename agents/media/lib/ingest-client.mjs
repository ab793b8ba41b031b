// The control plane's ingest API as the media agent uses it (docs/dvr.md, "Recordings reach R2").
// Every call throws an IngestError carrying the HTTP status and the `{error, code}` body.
//
//   const api = ingestClient({ server: 'https://dvr.example', credential: 'epm_…' });
//   const up = await api.createUpload({ driver, username, path, kind: 'segment', size, part_size, sha256 });
//   await api.putPart(up.upload_id, 1, bytes, digestHex);
//   const stored = await api.complete(up.upload_id);

export class IngestError extends Error {
  constructor(status, body) {
    super(`${status} ${body?.code ?? ''} ${body?.error ?? ''}`.trim());
    this.status = status;
    this.code = body?.code;
    this.details = body?.details;
  }
}

export function ingestClient({ server, credential, fetchImpl = fetch }) {
  const base = server.replace(/\/+$/, '');
  async function call(method, path, { json, body, headers = {} } = {}) {
    const init = { method, headers: { ...headers } };
    if (credential) init.headers.Authorization = `Bearer ${credential}`;
    if (json !== undefined) {
      init.headers['Content-Type'] = 'application/json';
      init.body = JSON.stringify(json);
    } else if (body !== undefined) {
      init.headers['Content-Type'] = 'application/octet-stream';
      init.body = body;
    }
    const res = await fetchImpl(`${base}${path}`, init);
    const text = await res.text();
    let parsed = null;
    try {
      parsed = text ? JSON.parse(text) : null;
    } catch {
      parsed = { error: text.slice(0, 200), code: 'not_json' };
    }
    if (!res.ok) throw new IngestError(res.status, parsed);
    return { status: res.status, body: parsed };
  }
  return {
    enroll: async (code) => (await call('POST', '/api/ingest/enroll', { json: { code } })).body,
    createUpload: async (req) => (await call('POST', '/api/ingest/uploads', { json: req })).body,
    getUpload: async (id) => (await call('GET', `/api/ingest/uploads/${id}`)).body,
    putPart: async (id, n, bytes, sha256) => (await call('PUT', `/api/ingest/uploads/${id}/parts/${n}`, { body: bytes, headers: { 'X-Part-Sha256': sha256 } })).body,
    complete: async (id) => (await call('POST', `/api/ingest/uploads/${id}/complete`)).body,
  };
}
