// File helpers of the media agent: the part-tree checksum the server verifies, reading one part,
// a bandwidth limiter, and ffmpeg (thumbnail at 10 %, optional .ts → .mp4 faststart remux, which a
// stop signal kills).
//
//   const { sha256, digests } = await partTree('/data/recordings/chaturbate/alice/x.ts', 8 * 1024 * 1024);
//   const limiter = bandwidthLimiter(2 * 1024 * 1024);  await limiter.take(bytes.length);
import { createHash } from 'node:crypto';
import { spawn } from 'node:child_process';
import { open } from 'node:fs/promises';

/** SHA-256 over the concatenated raw SHA-256 digests of the parts (the server's definition). */
export async function partTree(path, partSize) {
  const fh = await open(path, 'r');
  try {
    const { size } = await fh.stat();
    const digests = [];
    const buf = Buffer.alloc(Math.min(partSize, Math.max(size, 1)));
    for (let offset = 0; offset < size || digests.length === 0; offset += partSize) {
      const len = Math.min(partSize, size - offset);
      const h = createHash('sha256');
      let read = 0;
      while (read < len) {
        const n = Math.min(buf.length, len - read);
        const { bytesRead } = await fh.read(buf, 0, n, offset + read);
        if (bytesRead === 0) throw new Error(`${path} shrank while hashing`);
        h.update(buf.subarray(0, bytesRead));
        read += bytesRead;
      }
      digests.push(h.digest('hex'));
      if (size === 0) break;
    }
    const sha256 = createHash('sha256').update(Buffer.concat(digests.map((d) => Buffer.from(d, 'hex')))).digest('hex');
    return { size, sha256, digests };
  } finally {
    await fh.close();
  }
}

export async function readPart(path, partSize, n, size) {
  const offset = (n - 1) * partSize;
  const len = Math.min(partSize, size - offset);
  const fh = await open(path, 'r');
  try {
    const buf = Buffer.alloc(len);
    const { bytesRead } = await fh.read(buf, 0, len, offset);
    if (bytesRead !== len) throw new Error(`${path}: short read of part ${n}`);
    return buf;
  } finally {
    await fh.close();
  }
}

/** A token bucket shared by every upload: at most `bytesPerSecond` on average (0 = unlimited). */
export function bandwidthLimiter(bytesPerSecond, clock = { now: () => Date.now(), sleep: (ms) => new Promise((r) => setTimeout(r, ms)) }) {
  let next = clock.now();
  return {
    async take(bytes) {
      if (!bytesPerSecond) return;
      const start = Math.max(next, clock.now());
      next = start + (bytes / bytesPerSecond) * 1000;
      const wait = start - clock.now();
      if (wait > 0) await clock.sleep(wait);
    },
  };
}

/**
 * Runs a program; resolves with {code, stdout, stderr}; `code` is null when it could not start, and
 * `stopped` is true when `signal` ended it (the program is killed: SIGTERM).
 */
export function run(cmd, args, { signal } = {}) {
  return new Promise((resolve) => {
    let stdout = '';
    let stderr = '';
    let child;
    if (signal?.aborted) return resolve({ code: null, stdout, stderr, stopped: true });
    try {
      child = spawn(cmd, args, { stdio: ['ignore', 'pipe', 'pipe'], signal });
    } catch (e) {
      return resolve({ code: null, stdout, stderr: String(e) });
    }
    child.stdout.on('data', (d) => (stdout += d));
    child.stderr.on('data', (d) => (stderr += d));
    let failed = null;
    child.on('error', (e) => {
      failed = e;
      // An abort also closes the child ('close' follows); a failure to start never does.
      if (e.name !== 'AbortError') resolve({ code: null, stdout, stderr: String(e) });
    });
    child.on('close', (code) => resolve({ code, stdout, stderr, ...(failed?.name === 'AbortError' || signal?.aborted ? { stopped: true } : {}) }));
  });
}

/** A JPEG 320 px wide of the frame at 10 % of the video; null (and why) when ffmpeg is missing or fails. */
export async function makeThumbnail(ffmpeg, ffprobe, input, output) {
  const probe = await run(ffprobe, ['-v', 'error', '-show_entries', 'format=duration', '-of', 'default=nw=1:nk=1', input]);
  if (probe.code === null) return { ok: false, why: `${ffprobe} not available` };
  const duration = Number(probe.stdout.trim());
  const at = Number.isFinite(duration) && duration > 0 ? (duration * 0.1).toFixed(3) : '0';
  const r = await run(ffmpeg, ['-y', '-v', 'error', '-ss', at, '-i', input, '-frames:v', '1', '-vf', 'scale=320:-2', '-q:v', '4', output]);
  if (r.code === null) return { ok: false, why: `${ffmpeg} not available` };
  if (r.code !== 0) return { ok: false, why: `ffmpeg exited ${r.code}: ${r.stderr.trim().slice(0, 200)}` };
  return { ok: true };
}

/** `.ts` → `.mp4` with the moov atom up front, so browsers seek without downloading everything. */
export async function remuxFaststart(ffmpeg, input, output, { signal } = {}) {
  // `-f mp4`: the output is written under a temporary name whose extension says nothing.
  const r = await run(ffmpeg, ['-y', '-v', 'error', '-i', input, '-c', 'copy', '-movflags', '+faststart', '-f', 'mp4', output], { signal });
  if (r.stopped) return { ok: false, why: 'stopped', stopped: true };
  if (r.code === null) return { ok: false, why: `${ffmpeg} not available` };
  if (r.code !== 0) return { ok: false, why: `ffmpeg exited ${r.code}: ${r.stderr.trim().slice(0, 200)}` };
  return { ok: true };
}
