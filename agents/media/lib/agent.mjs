// The media agent (issue 16): finds finished recording segments on a recorder host and uploads
// them to R2 through the control plane's ingest API, resumably, then deletes the local copy once
// the server confirmed the stored object (or keeps it for `keepHours`).
//
// Finished means either (a) a SEGMENT FINISH line for the file in the recorder events file (JSON
// lines, as sticky-recorder prints them; the agent remembers how far it read), or (b) the safety
// net: the file's size and mtime unchanged for `stableSeconds` across two scans.
//
// Crash safety: the state file (`{stateDir}/state.json`, written atomically) records per file its
// part-tree checksum, the upload id and the phase. The server is the truth for which parts it holds,
// so a restart asks it and sends only the missing parts; a completion already done answers
// "stored" again. Nothing is deleted before that confirmation.
//
//   const agent = createAgent({ server, credential, dir: '/data/recordings', stateDir: '/var/lib/media-agent' });
//   await agent.runOnce();           // one pass: events, scan, uploads, deletions
//   await agent.run(signal);         // forever, every scanSeconds, until `signal` aborts
//
// Stopping (SIGTERM/SIGINT → `signal`): no new remux or upload starts; the upload under way stops
// after the part in flight (a remux in progress is killed) and is left as a crash would leave it —
// recorded in the state file, resumed from the parts the server holds at the next start — and the
// pass returns, so the process exits within about one part's transfer.
import { mkdir, readFile, readdir, rename, rm, stat, writeFile, open } from 'node:fs/promises';
import { createHash } from 'node:crypto';
import { dirname, join, relative, sep } from 'node:path';
import { bandwidthLimiter, makeThumbnail, partTree, readPart, remuxFaststart } from './files.mjs';
import { IngestError, ingestClient } from './ingest-client.mjs';

const VIDEO = /\.(ts|mp4|mkv)$/i;
export const DEFAULTS = {
  stableSeconds: 120,
  scanSeconds: 10,
  concurrency: 2,
  bandwidth: 0,
  partSize: 8 * 1024 * 1024,
  keepHours: 0,
  ffmpeg: 'ffmpeg',
  ffprobe: 'ffprobe',
  thumbnails: true,
  remux: false,
  recorderRoot: '/data/recordings',
  sources: null, // ['chaturbate/alice', …]: only these sources' files (null: every source)
};

/** Thrown at a stop checkpoint: the file is left to resume at the next start, not failed. */
class Stopping extends Error {}
const halt = (signal) => {
  if (signal?.aborted) throw new Stopping('stopping');
};

export function createAgent(options) {
  const o = { ...DEFAULTS, ...options };
  const log = o.log ?? ((msg, fields = {}) => console.log(JSON.stringify({ ts: new Date().toISOString(), msg, ...fields })));
  const api = o.api ?? ingestClient({ server: o.server, credential: o.credential });
  const limiter = bandwidthLimiter(o.bandwidth);
  const statePath = join(o.stateDir, 'state.json');
  let state = null;
  const seen = new Map(); // path → {size, mtimeMs} from the previous scan (the stability check)
  const finished = new Set(); // paths a SEGMENT FINISH named

  async function load() {
    if (state) return state;
    await mkdir(o.stateDir, { recursive: true });
    try {
      state = JSON.parse(await readFile(statePath, 'utf8'));
    } catch {
      state = { eventsOffset: 0, files: {} };
    }
    for (const [path, f] of Object.entries(state.files)) if (f.finished) finished.add(path);
    return state;
  }

  // One save at a time: uploads run `concurrency` at once and each saves its progress; two writers
  // of the one temp file made the second rename fail, and a file already uploaded was logged
  // "upload failed; will retry". Each save writes the state as it is when its turn comes.
  let saving = Promise.resolve();
  function save() {
    const turn = saving.then(async () => {
      const tmp = `${statePath}.${process.pid}.tmp`;
      await writeFile(tmp, JSON.stringify(state));
      await rename(tmp, statePath);
    });
    saving = turn.catch(() => {});
    return turn;
  }

  /** The recorder's path for a file → ours (the recordings directory may be mounted elsewhere). */
  function localPath(file) {
    const norm = file.replaceAll('\\', '/');
    const root = o.recorderRoot.replace(/\/+$/, '');
    if (norm.startsWith(`${root}/`)) return join(o.dir, ...norm.slice(root.length + 1).split('/'));
    return file;
  }

  async function readEvents() {
    if (!o.eventsFile) return;
    let fh;
    try {
      fh = await open(o.eventsFile, 'r');
    } catch {
      return;
    }
    try {
      const { size } = await fh.stat();
      if (size < state.eventsOffset) state.eventsOffset = 0; // rotated
      if (size === state.eventsOffset) return;
      const buf = Buffer.alloc(size - state.eventsOffset);
      await fh.read(buf, 0, buf.length, state.eventsOffset);
      const text = buf.toString('utf8');
      const complete = text.lastIndexOf('\n') + 1; // a half-written last line waits for the next pass
      for (const line of text.slice(0, complete).split('\n')) {
        let ev;
        try {
          ev = JSON.parse(line);
        } catch {
          continue;
        }
        // The overseer's `output` frame or the recorder's own line.
        if (ev && ev.type === 'output' && typeof ev.data === 'string') {
          try {
            ev = JSON.parse(ev.data);
          } catch {
            continue;
          }
        }
        if (ev?.event === 'SEGMENT FINISH' && typeof ev.file === 'string') {
          const p = localPath(ev.file);
          if (!wanted(p)) continue;
          finished.add(p);
          state.files[p] = { ...(state.files[p] ?? {}), finished: true };
        }
      }
      state.eventsOffset += Buffer.byteLength(text.slice(0, complete));
      await save();
    } finally {
      await fh.close();
    }
  }

  async function walk(dir, out = []) {
    let entries;
    try {
      entries = await readdir(dir, { withFileTypes: true });
    } catch {
      return out;
    }
    for (const e of entries) {
      const p = join(dir, e.name);
      if (e.isDirectory()) await walk(p, out);
      else if (e.isFile() && VIDEO.test(e.name) && !e.name.startsWith('.')) out.push(p);
    }
    return out;
  }

  /** Files ready to upload: named by SEGMENT FINISH, or unchanged for stableSeconds (safety net). */
  async function ready() {
    const now = Date.now();
    const out = [];
    for (const p of await walk(o.dir)) {
      if (!wanted(p)) continue;
      const f = state.files[p];
      if (f?.phase === 'done' || f?.phase === 'kept') continue;
      let st;
      try {
        st = await stat(p);
      } catch {
        continue;
      }
      const prev = seen.get(p);
      seen.set(p, { size: st.size, mtimeMs: st.mtimeMs });
      const stable = prev && prev.size === st.size && prev.mtimeMs === st.mtimeMs && now - st.mtimeMs >= o.stableSeconds * 1000;
      if (finished.has(p) || stable || f?.uploadId) out.push(p);
    }
    return out;
  }

  function sourceOf(path) {
    const parts = relative(o.dir, path).split(sep);
    if (parts.length < 3 || parts.some((x) => x === '..')) return null;
    return { driver: parts[0], username: parts[1], rel: parts.slice(2).join('/') };
  }

  /** Is this file one of the configured sources' (all of them without `sources`)? */
  function wanted(path) {
    if (!o.sources) return true;
    const t = sourceOf(path);
    return Boolean(t && o.sources.includes(`${t.driver}/${t.username}`));
  }

  async function uploadFile(path, target, kind, key, remuxedFrom, signal) {
    const st = await stat(path);
    let f = state.files[key] ?? {};
    if (kind === 'thumbnail' || !(f.sha256 && f.size === st.size && f.mtimeMs === st.mtimeMs && f.partSize === o.partSize)) {
      const tree = await partTree(path, o.partSize);
      f = { ...f, sha256: tree.sha256, digests: tree.digests, size: st.size, mtimeMs: st.mtimeMs, partSize: o.partSize };
      if (kind === 'segment') {
        state.files[key] = f;
        await save();
      }
    }
    const req = { driver: target.driver, username: target.username, path: target.rel, kind, size: f.size, part_size: o.partSize, sha256: f.sha256 };
    // The server then turns the recorder's `.ts` catalog row into this `.mp4` one.
    if (remuxedFrom) req.remuxed_from = remuxedFrom;
    const up = await api.createUpload(req);
    if (up.state === 'stored') return up;
    if (kind === 'segment' && f.uploadId !== up.upload_id) {
      f.uploadId = up.upload_id;
      state.files[key] = f;
      await save();
    }
    const have = new Set(up.parts.map((p) => p.part_number));
    if (have.size > 0) log('resuming upload', { file: path, upload_id: up.upload_id, parts_held: have.size, part_count: up.part_count });
    for (let n = 1; n <= up.part_count; n++) {
      if (have.has(n)) continue;
      halt(signal);
      const bytes = await readPart(path, up.part_size, n, f.size);
      await limiter.take(bytes.length);
      halt(signal);
      await api.putPart(up.upload_id, n, bytes, f.digests[n - 1]);
    }
    return api.complete(up.upload_id);
  }

  async function thumbnail(path, target) {
    if (!o.thumbnails) return;
    const out = join(o.stateDir, `thumb-${process.pid}-${Math.random().toString(36).slice(2)}.jpg`);
    try {
      const made = await makeThumbnail(o.ffmpeg, o.ffprobe, path, out);
      if (!made.ok) {
        log('thumbnail skipped', { file: path, why: made.why });
        return;
      }
      const stored = await uploadFile(out, target, 'thumbnail', out);
      log('thumbnail stored', { file: path, key: stored.key });
    } catch (e) {
      log('thumbnail failed', { file: path, error: String(e?.message ?? e) });
    } finally {
      await rm(out, { force: true });
    }
  }

  async function processFile(path, signal) {
    const target = sourceOf(path);
    if (!target) {
      log('skipped: not under {dir}/{driver}/{username}/', { file: path });
      return;
    }
    let upload = path;
    let uploadTarget = target;
    let remuxedFrom;
    halt(signal);
    if (o.remux && /\.ts$/i.test(path)) {
      const mp4 = await remuxed(path, signal);
      halt(signal);
      if (mp4) {
        upload = mp4;
        uploadTarget = { ...target, rel: target.rel.replace(/\.ts$/i, '.mp4') };
        remuxedFrom = target.rel;
      }
    }
    try {
      const stored = await uploadFile(upload, uploadTarget, 'segment', path, remuxedFrom, signal);
      log('stored', { file: upload, key: stored.key, bytes: stored.bytes });
    } catch (e) {
      if (e instanceof IngestError && e.code === 'recording_deleted') {
        state.files[path] = { ...(state.files[path] ?? {}), phase: 'kept' };
        await save();
        log('server deleted this recording (retention); keeping the local file', { file: path });
        return;
      }
      throw e;
    }
    await thumbnail(upload, uploadTarget);
    // The remuxed copy is ours (state directory) and stored now; the recorder's file may be kept.
    if (upload !== path) await rm(upload, { force: true });
    const { remuxed: _made, ...f } = state.files[path] ?? {};
    // Only now, with the server's confirmation in hand, may the local copy go.
    if (o.keepHours > 0) {
      state.files[path] = { ...f, phase: 'kept', deleteAfter: Date.now() + o.keepHours * 3600_000 };
      await save();
      return;
    }
    await rm(path, { force: true });
    state.files[path] = { phase: 'done' };
    await save();
    log('deleted local copy', { file: path });
  }

  /**
   * The `.mp4` (faststart) of a `.ts`, made once in the state directory — never in the recorder's
   * tree — and reused after a crash, so a resumed upload sends the very bytes it started with.
   * Null (and a log line) when ffmpeg is missing or fails: the `.ts` is uploaded as it is.
   */
  async function remuxed(path, signal) {
    const f = state.files[path] ?? {};
    if (f.remuxed) {
      try {
        await stat(f.remuxed);
        return f.remuxed;
      } catch {
        // Gone (state directory cleaned): make it again.
      }
    }
    const mp4 = join(o.stateDir, 'remux', `${createHash('sha256').update(path).digest('hex').slice(0, 32)}.mp4`);
    await mkdir(dirname(mp4), { recursive: true });
    const r = await remuxFaststart(o.ffmpeg, path, `${mp4}.part`, { signal });
    if (!r.ok) {
      await rm(`${mp4}.part`, { force: true });
      // Killed by the stop: made again at the next start (never the `.ts` uploaded instead).
      if (r.stopped) throw new Stopping('stopping');
      log('remux skipped', { file: path, why: r.why });
      return null;
    }
    await rename(`${mp4}.part`, mp4);
    state.files[path] = { ...(state.files[path] ?? {}), remuxed: mp4 };
    await save();
    return mp4;
  }

  async function sweepKept() {
    const now = Date.now();
    for (const [path, f] of Object.entries(state.files)) {
      if (f.phase === 'kept' && f.deleteAfter && f.deleteAfter <= now) {
        await rm(path, { force: true });
        state.files[path] = { phase: 'done' };
        await save();
        log('deleted local copy after keep period', { file: path });
      }
    }
    // Forget finished bookkeeping for files that are gone, so the state file does not grow forever.
    for (const [path, f] of Object.entries(state.files)) {
      if (f.phase === 'done') {
        try {
          await stat(path);
        } catch {
          delete state.files[path];
        }
      }
    }
    await save();
  }

  /** One pass; with `signal` aborted it starts nothing new and ends the file under way early. */
  async function runOnce(signal) {
    await load();
    await readEvents();
    const queue = await ready();
    const failures = [];
    const left = [];
    const workers = Array.from({ length: Math.max(1, o.concurrency) }, async () => {
      while (queue.length > 0 && !signal?.aborted) {
        const p = queue.shift();
        try {
          await processFile(p, signal);
        } catch (e) {
          if (e instanceof Stopping) {
            left.push(p);
            log('stopping: left to resume at the next start', { file: p });
            continue;
          }
          failures.push(p);
          log('upload failed; will retry', { file: p, error: String(e?.message ?? e) });
        }
      }
    });
    await Promise.all(workers);
    if (signal?.aborted) {
      await saving;
      return { failures, stopped: { left, notStarted: queue.length } };
    }
    await sweepKept();
    return { failures };
  }

  async function run(signal) {
    while (!signal?.aborted) {
      await runOnce(signal);
      await new Promise((r) => {
        // A stop during the pass has already fired its 'abort': no listener would hear it.
        if (signal?.aborted) return r();
        const t = setTimeout(r, o.scanSeconds * 1000);
        signal?.addEventListener('abort', () => (clearTimeout(t), r()), { once: true });
      });
    }
    log('stopped');
  }

  return { runOnce, run, state: () => state };
}
