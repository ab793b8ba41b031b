// Tiny DOM helpers: `h()` builds elements (text is always text, never HTML), `toast()` shows a
// short status message, `cover()` renders a cover image with a drawn fallback, `listItem()` wraps
// a control for a list row.
//
//   h('button', { class: 'tile', dataset: { focus: '' }, onclick: go }, h('span', {}, name))

export function h(tag, attrs = {}, ...children) {
  const el = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs ?? {})) {
    if (v === undefined || v === null || v === false) continue;
    if (k === 'class') el.className = v;
    else if (k === 'dataset') Object.assign(el.dataset, v);
    else if (k.startsWith('on') && typeof v === 'function') el.addEventListener(k.slice(2), v);
    else if (k === 'text') el.textContent = v;
    else if (v === true) el.setAttribute(k, '');
    else el.setAttribute(k, String(v));
  }
  for (const c of children.flat(Infinity)) {
    if (c === null || c === undefined || c === false) continue;
    el.append(c instanceof Node ? c : document.createTextNode(String(c)));
  }
  return el;
}

/**
 * One entry of a `role=list` row (tiles, avatars, org cards): the control keeps its own role
 * (a button stays a button for screen readers) inside a listitem that carries the list semantics.
 */
export function listItem(child) {
  return h('div', { role: 'listitem', class: 'li' }, child);
}

let toastRoot = null;

/** @param {'info'|'error'|'ok'} kind */
export function toast(message, kind = 'info', ms = 4500) {
  toastRoot ??= document.getElementById('toasts');
  if (!toastRoot) return;
  const el = h('div', { class: `toast toast-${kind}`, role: kind === 'error' ? 'alert' : 'status' }, message);
  toastRoot.append(el);
  while (toastRoot.children.length > 4) toastRoot.firstElementChild?.remove();
  setTimeout(() => el.remove(), ms);
}

/** Hue from a name, so covers without art still differ. */
function hueOf(s) {
  let x = 0;
  for (const ch of String(s)) x = (x * 31 + ch.codePointAt(0)) % 360;
  return x;
}

export function cover(url, name, cls = 'cover') {
  // The drawn fallback is always there: it shows while the image loads and if it never does.
  const box = h('span', { class: `${cls} cover-box` });
  const fallback = h('span', { class: 'cover-fallback', 'aria-hidden': 'true' }, initials(name));
  // CSSOM (not a style attribute), so the strict CSP allows it.
  fallback.style.setProperty('--hue', String(hueOf(name)));
  box.append(fallback);
  if (url) {
    const img = h('img', { class: 'cover-img', src: url, alt: '', decoding: 'async', referrerpolicy: 'no-referrer' });
    img.addEventListener('error', () => img.remove(), { once: true });
    box.append(img);
  }
  return box;
}

export function initials(name) {
  const words = String(name ?? '?')
    .replace(/[^\p{L}\p{N} ]/gu, ' ')
    .split(/\s+/)
    .filter(Boolean);
  return (words.length > 1 ? words[0][0] + words[1][0] : (words[0] ?? '?').slice(0, 2)).toLowerCase();
}

export function clear(el) {
  while (el.firstChild) el.firstChild.remove();
  return el;
}
