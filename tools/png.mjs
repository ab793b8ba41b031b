// A tiny PNG encoder for the demo's game covers: our own generated art (gradients and shapes
// seeded by the game's slug), so the demo ships no third-party images.
import { deflateSync } from 'node:zlib';

const CRC_TABLE = Array.from({ length: 256 }, (_, n) => {
  let c = n;
  for (let k = 0; k < 8; k++) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1;
  return c >>> 0;
});

function crc32(buf) {
  let c = 0xffffffff;
  for (const b of buf) c = CRC_TABLE[(c ^ b) & 0xff] ^ (c >>> 8);
  return (c ^ 0xffffffff) >>> 0;
}

function chunk(type, data) {
  const len = Buffer.alloc(4);
  len.writeUInt32BE(data.length);
  const body = Buffer.concat([Buffer.from(type, 'ascii'), data]);
  const crc = Buffer.alloc(4);
  crc.writeUInt32BE(crc32(body));
  return Buffer.concat([len, body, crc]);
}

/** Encodes RGB pixels (`pixel(x, y) → [r, g, b]`) as a PNG buffer. */
export function encodePng(width, height, pixel) {
  const raw = Buffer.alloc((width * 3 + 1) * height);
  let o = 0;
  for (let y = 0; y < height; y++) {
    raw[o++] = 0; // filter: none
    for (let x = 0; x < width; x++) {
      const [r, g, b] = pixel(x, y);
      raw[o++] = r;
      raw[o++] = g;
      raw[o++] = b;
    }
  }
  const ihdr = Buffer.alloc(13);
  ihdr.writeUInt32BE(width, 0);
  ihdr.writeUInt32BE(height, 4);
  ihdr[8] = 8; // bit depth
  ihdr[9] = 2; // colour type: RGB
  return Buffer.concat([
    Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]),
    chunk('IHDR', ihdr),
    chunk('IDAT', deflateSync(raw, { level: 9 })),
    chunk('IEND', Buffer.alloc(0)),
  ]);
}

function hash(s) {
  let h = 2166136261;
  for (const ch of s) h = Math.imul(h ^ ch.charCodeAt(0), 16777619) >>> 0;
  return h;
}

function hsl(h, s, l) {
  const a = s * Math.min(l, 1 - l);
  const f = (n) => {
    const k = (n + h / 30) % 12;
    return Math.round(255 * (l - a * Math.max(-1, Math.min(k - 3, 9 - k, 1))));
  };
  return [f(0), f(8), f(4)];
}

/** A 3:4 cover: a two-hue gradient, a large ring and diagonal bands, all derived from `seed`. */
export function coverPng(seed, width = 300, height = 400) {
  const h = hash(seed);
  const hue1 = h % 360;
  const hue2 = (hue1 + 40 + ((h >>> 9) % 120)) % 360;
  const top = hsl(hue1, 0.55, 0.32);
  const bottom = hsl(hue2, 0.6, 0.16);
  const accent = hsl((hue1 + 180) % 360, 0.7, 0.62);
  const cx = width * (0.3 + ((h >>> 3) % 40) / 100);
  const cy = height * (0.3 + ((h >>> 5) % 30) / 100);
  const radius = width * 0.28;
  const band = 18 + ((h >>> 11) % 14);
  return encodePng(width, height, (x, y) => {
    const t = y / height;
    let px = top.map((c, i) => Math.round(c * (1 - t) + bottom[i] * t));
    const d = Math.hypot(x - cx, y - cy);
    if (Math.abs(d - radius) < 7) px = accent;
    else if (d < radius - 7 && ((x + y) / band) % 2 < 1) px = px.map((c) => Math.min(255, c + 22));
    return px;
  });
}
