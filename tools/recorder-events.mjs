// sticky-recorder's event lines (issue 16), shared by the development overseer and the test fake:
// one JSON object per line, every value a string, keys sorted, `time` RFC 3339. The overseer
// forwards each line as the `data` of an `output` push.
//
//   recorderLine('SEGMENT FINISH', { file, segment: '0', recording: '0', duration: '00:00:12', size: '1.2MB', trigger: 'split' })
//   segmentLifecycle({ dir: '/data/recordings/chaturbate/alice', session: '2026-11-22_03-04-05', segments: 2 })
//   segmentLifecycle({ dir, session, single: true })   // single-file mode

/** One recorder line: `event` and `time` added, values stringified, keys sorted. */
export function recorderLine(event, fields = {}, time = new Date()) {
  const obj = { ...fields, event, time: new Date(time).toISOString().replace(/\.\d+Z$/, 'Z') };
  const sorted = {};
  for (const k of Object.keys(obj).sort()) sorted[k] = String(obj[k]);
  return JSON.stringify(sorted);
}

const hms = (s) => [Math.floor(s / 3600), Math.floor((s % 3600) / 60), Math.floor(s % 60)].map((n) => String(n).padStart(2, '0')).join(':');

/** The recorder's size notation: `512B`, `64.0KB`, `1.2MB`, `1.0GB` (binary multiples). */
export function sizeString(bytes) {
  if (bytes < 1024) return `${bytes}B`;
  const units = ['KB', 'MB', 'GB', 'TB'];
  let v = bytes / 1024;
  let i = 0;
  while (v >= 1024 && i < units.length - 1) {
    v /= 1024;
    i += 1;
  }
  return `${v.toFixed(1)}${units[i]}`;
}

/**
 * The lines of one whole recording session: SESSION START, RECORDING START, then per segment
 * SEGMENT START, a HEARTBEAT and SEGMENT FINISH, then RECORDING END and SESSION END. `files[i]`
 * may give each segment's path and size; otherwise `{dir}/{session}/{session}_0000i.ts`.
 * `single: true` is single-file mode (`segment_length` "0"): one `{dir}/{session}/{session}.ts`, no
 * heartbeat and no `target_duration`, SEGMENT START and FINISH together once the file is closed.
 */
export function segmentLifecycle({ dir, source = 'unknown', driver = 'chaturbate', session, segments = 1, seconds = 12, bytes = 1_200_000, files, single = false, at = Date.now() }) {
  const lines = [];
  let t = at;
  const line = (event, fields) => lines.push(recorderLine(event, fields, (t += 1000)));
  line('SESSION START', { source, driver, resolution: '720p/30fps' });
  line('RECORDING START', { recording: '0', resolution: '720p/30fps' });
  if (single) {
    const file = files?.[0]?.path ?? `${dir}/${session}/${session}.ts`;
    const size = files?.[0]?.size ?? bytes;
    t += seconds * 1000; // the whole recording is written before the recorder reports the file
    line('SEGMENT START', { file, segment: '0', recording: '0' });
    line('SEGMENT FINISH', { file, segment: '0', recording: '0', duration: hms(seconds), size: sizeString(size), trigger: 'stream_end' });
    segments = 1;
  } else {
    for (let i = 0; i < segments; i++) {
      const file = files?.[i]?.path ?? `${dir}/${session}/${session}_${String(i).padStart(5, '0')}.ts`;
      const size = files?.[i]?.size ?? bytes;
      line('SEGMENT START', { file, segment: String(i), recording: '0', target_duration: '5m' });
      line('HEARTBEAT', { file, bytes_written: String(size), segment_duration: hms(seconds / 2), session_duration: hms(seconds / 2), recording: '0', segment: String(i) });
      line('SEGMENT FINISH', { file, segment: String(i), recording: '0', duration: hms(seconds), size: sizeString(size), trigger: i === segments - 1 ? 'stream_end' : 'split' });
    }
  }
  line('RECORDING END', { recording: '0', segments: String(segments), duration: hms(seconds * segments), trigger: 'stream_end' });
  line('SESSION END', { source, recordings: '1', duration: hms(seconds * segments) });
  return lines;
}
