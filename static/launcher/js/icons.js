// The launcher's own icons, drawn here as inline SVG (the prototype's icon set was not licensed
// for shipping, and no third-party marks are used: platforms are neutral shapes plus a word).
// Strokes use currentColor, so CSS decides the colour.
//
//   el.append(icon('gamepad', 'controller'));   // <svg role="img" aria-label="controller">

const P = {
  globe:
    '<circle cx="24" cy="24" r="19"/><ellipse cx="24" cy="24" rx="8" ry="19"/><path d="M5 24h38M8 14h32M8 34h32M24 5v38"/>',
  couch:
    '<path d="M10 22v-8a4 4 0 0 1 4-4h20a4 4 0 0 1 4 4v8"/><path d="M24 10v14"/><rect x="4" y="20" width="7" height="14" rx="3.5"/><rect x="37" y="20" width="7" height="14" rx="3.5"/><path d="M11 26h26M11 32h26M8 34v5M40 34v5"/>',
  gamepad:
    '<path d="M15 13h18c6 0 9 4 10.5 11l1.5 8c1 5-4 8-8 4l-4-4H15l-4 4c-4 4-9 1-8-4l1.5-8C6 17 9 13 15 13z"/><path d="M14 20v8M10 24h8"/><circle cx="32" cy="21" r="1.6" class="fill"/><circle cx="36" cy="25" r="1.6" class="fill"/><circle cx="28" cy="25" r="1.6" class="fill"/><circle cx="32" cy="29" r="1.6" class="fill"/>',
  arcade:
    '<rect x="6" y="28" width="36" height="12" rx="3"/><path d="M17 28V16"/><circle cx="17" cy="12" r="5" class="fill"/><circle cx="29" cy="34" r="2" class="fill"/><circle cx="36" cy="34" r="2" class="fill"/>',
  remote:
    '<rect x="16" y="4" width="16" height="40" rx="5"/><circle cx="24" cy="13" r="3.5"/><path d="M21 23h6M21 29h6M21 35h6"/>',
  tv: '<rect x="6" y="14" width="36" height="24" rx="3"/><path d="M17 4l7 10 7-10M14 42h20"/><path d="M12 20v12h18V20z"/><circle cx="36" cy="22" r="1.6" class="fill"/><circle cx="36" cy="29" r="1.6" class="fill"/>',
  user: '<circle cx="24" cy="24" r="19"/><circle cx="24" cy="19" r="6.5" class="fill"/><path d="M12 37c3-6 7-8 12-8s9 2 12 8" class="fill"/>',
  avatar: '<circle cx="24" cy="18" r="8" class="fill"/><path d="M9 42c2-9 8-13 15-13s13 4 15 13z" class="fill"/>',
  plus: '<path d="M24 9v30M9 24h30"/>',
  wifi: '<path d="M5 18a28 28 0 0 1 38 0M11 25a19 19 0 0 1 26 0M17 32a10 10 0 0 1 14 0"/><circle cx="24" cy="38" r="2.6" class="fill"/>',
  'wifi-degraded':
    '<path d="M5 18a28 28 0 0 1 38 0M11 25a19 19 0 0 1 26 0" class="faint"/><path d="M17 32a10 10 0 0 1 14 0"/><circle cx="24" cy="38" r="2.6" class="fill"/><path d="M40 28v8M40 41v.5"/>',
  'wifi-offline':
    '<path d="M5 18a28 28 0 0 1 38 0M11 25a19 19 0 0 1 26 0M17 32a10 10 0 0 1 14 0" class="faint"/><circle cx="24" cy="38" r="2.6" class="fill"/><path d="M8 6l32 36"/>',
  gear: '<circle cx="24" cy="24" r="6"/><path d="M24 4v6M24 38v6M4 24h6M38 24h6M9.9 9.9l4.2 4.2M33.9 33.9l4.2 4.2M9.9 38.1l4.2-4.2M33.9 14.1l4.2-4.2"/><circle cx="24" cy="24" r="13"/>',
  check: '<path d="M9 25l9 9 21-21"/>',
  cloud: '<path d="M14 36h20a8 8 0 0 0 1-16 11 11 0 0 0-21-2 8 8 0 0 0 0 18z"/>',
  download: '<path d="M24 6v24M14 21l10 10 10-10M8 40h32"/>',
  lock: '<rect x="10" y="21" width="28" height="20" rx="3"/><path d="M16 21v-6a8 8 0 0 1 16 0v6"/>',
  star: '<path d="M24 5l5.6 12.4 13.4 1.4-10 9 2.8 13.2L24 34.3 12.2 41l2.8-13.2-10-9 13.4-1.4z" class="fill"/>',
  store: '<path d="M8 18h32l-3 22H11z"/><path d="M17 18a7 7 0 0 1 14 0"/>',
  disc: '<circle cx="24" cy="24" r="18"/><circle cx="24" cy="24" r="4"/>',
  monitor: '<rect x="5" y="8" width="38" height="24" rx="2"/><path d="M18 40h12M24 32v8"/>',
  play: '<path d="M16 10l22 14-22 14z" class="fill"/>',
  stop: '<rect x="12" y="12" width="24" height="24" rx="2" class="fill"/>',
  retry: '<path d="M38 24a14 14 0 1 1-4-10"/><path d="M36 6v9h-9"/>',
  keyboard: '<rect x="4" y="12" width="40" height="24" rx="3"/><path d="M11 19h2M18 19h2M25 19h2M32 19h5M11 25h2M18 25h2M25 25h2M32 25h5M14 31h20"/>',
  phone: '<rect x="14" y="4" width="20" height="40" rx="4"/><path d="M21 38h6"/>',
  backspace: '<path d="M17 10h23a3 3 0 0 1 3 3v22a3 3 0 0 1-3 3H17L5 24z"/><path d="M23 18l12 12M35 18L23 30"/>',
  shift: '<path d="M24 6L7 24h9v16h16V24h9z"/>',
};

const NS = 'http://www.w3.org/2000/svg';

export function icon(name, label) {
  const svg = document.createElementNS(NS, 'svg');
  svg.setAttribute('viewBox', '0 0 48 48');
  svg.setAttribute('class', `icon icon-${name}`);
  if (label) {
    svg.setAttribute('role', 'img');
    svg.setAttribute('aria-label', label);
  } else svg.setAttribute('aria-hidden', 'true');
  // Parsing our own constant markup (never data) keeps the shapes readable above.
  const doc = new DOMParser().parseFromString(`<svg xmlns="${NS}">${P[name] ?? P.disc}</svg>`, 'image/svg+xml');
  for (const child of Array.from(doc.documentElement.childNodes)) svg.append(document.importNode(child, true));
  return svg;
}

/** A neutral glyph per ownership source / store: never the store's logo. */
export function platformIcon(platform) {
  const p = String(platform ?? '').toLowerCase();
  if (p === 'steam' || p === 'epic' || p === 'gog' || p === 'ea') return 'store';
  if (p === 'xbox' || p === 'microsoft' || p === 'windows') return 'monitor';
  if (p === 'arcade') return 'arcade';
  if (p === 'manual') return 'disc';
  return 'gamepad';
}
