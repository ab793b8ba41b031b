/**
 * Resumable multipart ingest into R2 (issue 16): the statements and the R2 calls behind the ingest
 * routes. The checksum is a *part tree*: `sha256 = SHA-256(d1 ‖ d2 ‖ … ‖ dN)`, where `di` is the raw
 * 32-byte SHA-256 of part i (parts of `part_size` bytes, the last one shorter). The server hashes
 * every part before it goes to R2 and refuses a part whose digest differs
 * from the one the agent sent; at completion it recomputes the tree from the digests it measured
 * itself and refuses the object (aborting the R2 upload, so no object appears) unless it equals the
 * checksum declared at creation. The object counts only once the catalog row is `stored`.
 *
 *   const up = await openUpload(env, host, { recordingId, kind: 'segment', key, size, partSize, sha256 });
 *   await putPart(env, up, 1, request.body, lengthHeader, partSha);
 *   const done = await completeUpload(env, up);   // idempotent
 */
import { db } from '../../db/client';
import { ApiError, BadGateway, BadRequest, Conflict } from '../../http/errors';
import { nowIso, randomToken } from '../../world';
import {
  insertUploadStatement,
  markStored,
  markUploadingStatement,
  moveUploadState,
  openUploadsOf,
  partsOf,
  reassignUpload,
  setUploadStateStatement,
  touchHostStatement,
  uploadById,
  upsertPart,
  type Upload,
} from './queries';

export const MIN_PART_SIZE = 5 * 1024 * 1024;
/** Parts are held in memory while verified (128 MB per isolate): 32 MiB leaves room for a few at once. */
export const MAX_PART_SIZE = 32 * 1024 * 1024;
export const MAX_THUMBNAIL_BYTES = 2 * 1024 * 1024;

export type { Upload };
export type UploadKind = 'segment' | 'thumbnail';

const hex = (buf: ArrayBuffer | Uint8Array) => [...new Uint8Array(buf)].map((b) => b.toString(16).padStart(2, '0')).join('');
const unhex = (s: string) => Uint8Array.from(s.match(/../g) ?? [], (b) => parseInt(b, 16));

/** The part tree of a list of hex part digests (see the module header). */
export async function treeHash(partDigests: readonly string[]): Promise<string> {
  const all = new Uint8Array(partDigests.length * 32);
  partDigests.forEach((d, i) => all.set(unhex(d), i * 32));
  return hex(await crypto.subtle.digest('SHA-256', all));
}

export const partCount = (size: number, partSize: number) => Math.max(1, Math.ceil(size / partSize));
export function expectedPartSize(u: Pick<Upload, 'size' | 'partSize'>, n: number): number {
  const count = partCount(u.size, u.partSize);
  return n < count ? u.partSize : u.size - (count - 1) * u.partSize;
}

export interface OpenRequest {
  recordingId: number;
  kind: UploadKind;
  key: string;
  size: number;
  partSize: number;
  sha256: string;
}

/**
 * The open upload for this recording and kind: the same one when the agent asks again with the same
 * content (it lost its state — resume, never restart), a fresh one otherwise (the older one is
 * aborted in R2, so it leaves nothing behind).
 */
export async function openUpload(env: Pick<Env, 'DB' | 'BUCKET'>, hostId: number, req: OpenRequest): Promise<{ upload: Upload; resumed: boolean }> {
  const d = db(env);
  const open = await openUploadsOf(d, req.recordingId, req.kind);
  const same = open.find((u) => u.sha256 === req.sha256 && u.size === req.size && u.partSize === req.partSize && u.r2Key === req.key);
  if (same) {
    if (same.hostId !== hostId) await reassignUpload(d, same.id, hostId);
    return { upload: { ...same, hostId }, resumed: true };
  }
  for (const stale of open) await abortUpload(env, stale);
  const mp = await env.BUCKET.createMultipartUpload(req.key, {
    httpMetadata: { contentType: contentTypeOf(req.key) },
    customMetadata: { sha256tree: req.sha256 },
  });
  const upload: Upload = {
    id: `up_${randomToken(18)}`,
    recordingId: req.recordingId,
    hostId,
    kind: req.kind,
    r2Key: req.key,
    r2UploadId: mp.uploadId,
    size: req.size,
    partSize: req.partSize,
    sha256: req.sha256,
    state: 'open',
    createdAt: nowIso(),
    updatedAt: nowIso(),
  };
  const writes = [insertUploadStatement(d, upload), touchHostStatement(d, hostId)] as const;
  if (req.kind === 'segment') await d.batch([...writes, markUploadingStatement(d, req.recordingId, hostId)]);
  else await d.batch(writes);
  return { upload, resumed: false };
}

function contentTypeOf(key: string): string {
  if (key.endsWith('.jpg')) return 'image/jpeg';
  if (key.endsWith('.mp4')) return 'video/mp4';
  if (key.endsWith('.mkv')) return 'video/x-matroska';
  return 'video/mp2t';
}

export async function abortUpload(env: Pick<Env, 'DB' | 'BUCKET'>, u: Upload): Promise<void> {
  try {
    await env.BUCKET.resumeMultipartUpload(u.r2Key, u.r2UploadId).abort();
  } catch {
    // Already completed or aborted in R2 (or expired after 7 days): nothing left to free.
  }
  await setUploadStateStatement(db(env), u.id, 'aborted');
}

/**
 * One part, verified then sent to R2. A part that
 * is short (a dropped connection), long, or whose digest differs from `claimed` is not recorded —
 * the agent sends it again; R2 replaces a part uploaded twice under the same number.
 */
export async function putPart(
  env: Pick<Env, 'DB' | 'BUCKET'>,
  u: Upload,
  n: number,
  body: ReadableStream<Uint8Array> | null,
  declaredLength: number | null,
  claimed: string,
): Promise<{ partNumber: number; size: number; sha256: string }> {
  if (u.state !== 'open') throw new Conflict(`upload is ${u.state}`, 'upload_not_open');
  const count = partCount(u.size, u.partSize);
  if (n < 1 || n > count) throw new BadRequest(`part number must be 1–${count}`, 'invalid_part');
  const expected = expectedPartSize(u, n);
  if (declaredLength !== null && declaredLength !== expected) throw new BadRequest(`part ${n} must be ${expected} bytes`, 'invalid_part_size');
  if (!body) throw new BadRequest(`part ${n} must be ${expected} bytes`, 'invalid_part_size');
  // The part is read whole (at most MAX_PART_SIZE) and checked before any byte reaches R2: a short
  // body (a dropped connection) or a wrong digest never becomes an R2 part at all.
  let bytes: ArrayBuffer;
  try {
    bytes = await new Response(body).arrayBuffer();
  } catch {
    throw new BadRequest(`part ${n} incomplete: expected ${expected} bytes`, 'part_incomplete');
  }
  if (bytes.byteLength !== expected) throw new BadRequest(`part ${n} incomplete: expected ${expected} bytes, got ${bytes.byteLength}`, 'part_incomplete');
  const measured = hex(await crypto.subtle.digest('SHA-256', bytes));
  if (measured !== claimed) throw new BadRequest(`part ${n} checksum mismatch`, 'checksum_mismatch', { expected: claimed, measured });
  const part = await env.BUCKET.resumeMultipartUpload(u.r2Key, u.r2UploadId).uploadPart(n, bytes);
  await upsertPart(db(env), { uploadId: u.id, partNumber: n, size: expected, sha256: measured, etag: part.etag });
  return { partNumber: n, size: expected, sha256: measured };
}

export interface Completed {
  state: 'stored';
  key: string;
  bytes: number;
  sha256: string;
}

/**
 * Completes an upload. Idempotent: a completed upload answers the same result again. The claim
 * `open → completing` is a conditional UPDATE, so two racing completions never both call R2. A crash
 * between R2's complete and the catalog write is healed by the next call: the object exists and
 * carries this upload's checksum, so only the catalog write is redone.
 */
export async function completeUpload(env: Pick<Env, 'DB' | 'BUCKET'>, u: Upload): Promise<Completed> {
  const d = db(env);
  const result: Completed = { state: 'stored', key: u.r2Key, bytes: u.size, sha256: u.sha256 };
  if (u.state === 'completed') return result;
  if (u.state === 'aborted') throw new Conflict('upload was aborted; start a new one', 'upload_aborted');
  if (u.state === 'completing') {
    const head = await env.BUCKET.head(u.r2Key);
    if (head?.customMetadata?.sha256tree === u.sha256 && head.size === u.size) {
      await markStored(d, u);
      return result;
    }
    throw new Conflict('completion in progress; retry', 'completion_in_progress');
  }
  const parts = await partsOf(d, u.id);
  const count = partCount(u.size, u.partSize);
  const missing: number[] = [];
  for (let i = 1; i <= count; i++) if (!parts.some((p) => p.partNumber === i)) missing.push(i);
  if (missing.length > 0) throw new ApiError(409, 'parts_missing', `${missing.length} part(s) missing`, { missing: missing.slice(0, 100) });
  const tree = await treeHash(parts.map((p) => p.sha256));
  if (tree !== u.sha256) {
    // The content is not what was declared: no object may appear. Abort frees the parts in R2.
    await abortUpload(env, u);
    throw new BadRequest('checksum mismatch: the parts do not hash to the declared sha256', 'checksum_mismatch', { expected: u.sha256, measured: tree });
  }
  if (!(await moveUploadState(d, u.id, 'open', 'completing'))) {
    const now = await uploadById(d, u.id);
    if (now?.state === 'completed') return result;
    throw new Conflict('completion in progress; retry', 'completion_in_progress');
  }
  try {
    await env.BUCKET.resumeMultipartUpload(u.r2Key, u.r2UploadId).complete(parts.map((p) => ({ partNumber: p.partNumber, etag: p.etag })));
  } catch (e) {
    await moveUploadState(d, u.id, 'completing', 'open');
    throw new BadGateway(`storage refused the completion: ${e instanceof Error ? e.message : String(e)}`);
  }
  await markStored(d, u);
  return result;
}
