// A QR code drawn on a <canvas> on this device (no image service, no third-party origin): the
// vendored uqr encoder (a port of Nayuki's reference generator) gives the module matrix, and each
// module is one square of whole pixels, so a phone camera reads it from across the room.
//
//   const canvas = qrCanvas('https://console.example/link?code=BCDF-GHJK', { label: 'sign-in QR code' });

import { encode } from './vendor/uqr.mjs';

/** Modules of the quiet zone around the symbol (the standard asks for 4). */
const QUIET = 4;

/** The module matrix (rows of booleans, quiet zone included) for `text`, at error correction M. */
export function qrMatrix(text) {
  return encode(text, { ecc: 'M', border: QUIET }).data;
}

export function qrCanvas(text, { px = 420, label = 'QR code' } = {}) {
  const matrix = qrMatrix(text);
  const n = matrix.length;
  const scale = Math.max(2, Math.floor(px / n));
  const canvas = document.createElement('canvas');
  canvas.width = n * scale;
  canvas.height = n * scale;
  canvas.className = 'qr';
  canvas.setAttribute('role', 'img');
  canvas.setAttribute('aria-label', label);
  canvas.dataset.modules = String(n);
  canvas.dataset.scale = String(scale);
  const ctx = canvas.getContext('2d');
  if (!ctx) return canvas;
  // Always dark on white, whatever the theme: scanners expect it.
  ctx.fillStyle = '#fff';
  ctx.fillRect(0, 0, canvas.width, canvas.height);
  ctx.fillStyle = '#000';
  matrix.forEach((row, y) => row.forEach((on, x) => on && ctx.fillRect(x * scale, y * scale, scale, scale)));
  return canvas;
}
