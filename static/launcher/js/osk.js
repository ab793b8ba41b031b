// The on-screen keyboard: text entry with a gamepad alone. It docks at the bottom of the screen
// and opens by itself when a text field gets the focus while no physical keyboard has been used on
// this page (A on a text field opens it again after B closed it). While it is open it owns the
// controller:
//
//   D-pad / stick  move between keys        A  press the key        B  close (back to the field)
//   LB  shift (one letter; twice: caps)     RB  next layout: letters → symbols → digits
//   X   backspace                           Y  space
//
// "enter" moves to the next text field of the form, or submits the form from its last one. A key on
// a physical keyboard closes it and gives the field back, so typing simply continues.
//
//   const osk = createOsk({ root: appEl, keyboardUsed: () => input.keyboardUsed() });
//   osk.maybeOpen(inputEl);  osk.handle('left');  osk.isOpen;

import { h } from './dom.js';
import { icon } from './icons.js';

const LETTERS = [
  ['1', '2', '3', '4', '5', '6', '7', '8', '9', '0'],
  ['q', 'w', 'e', 'r', 't', 'y', 'u', 'i', 'o', 'p'],
  ['a', 's', 'd', 'f', 'g', 'h', 'j', 'k', 'l', '-'],
  ['z', 'x', 'c', 'v', 'b', 'n', 'm', '.', '@', '_'],
];
const SYMBOLS = [
  ['!', '@', '#', '$', '%', '^', '&', '*', '(', ')'],
  ['-', '_', '=', '+', '[', ']', '{', '}', ';', ':'],
  ["'", '"', ',', '.', '/', '?', '\\', '|', '~', '`'],
  ['<', '>', '€', '£', '¥', '§', '°', '¿', '¡', '·'],
];
const DIGITS = [
  ['1', '2', '3'],
  ['4', '5', '6'],
  ['7', '8', '9'],
  ['.', '0', '-'],
];
const LAYOUTS = { letters: LETTERS, symbols: SYMBOLS, digits: DIGITS };
const ORDER = ['letters', 'symbols', 'digits'];

function isTextInput(el) {
  return el instanceof HTMLInputElement && ['text', 'password', 'search', 'url', 'email', ''].includes(el.type) && !el.readOnly && !el.disabled;
}

export function createOsk({ root, keyboardUsed, onClose = () => {} }) {
  let target = null;
  let layout = 'letters';
  /** 'off' | 'once' (next letter only) | 'lock' */
  let shift = 'off';
  let rows = []; // [[button]]
  let pos = { r: 1, c: 0 };
  let restoring = false;

  const preview = h('p', { class: 'osk-preview', id: 'osk-preview', 'aria-live': 'polite' });
  const label = h('p', { class: 'osk-label', id: 'osk-label' });
  const grid = h('div', { class: 'osk-grid', role: 'group', 'aria-label': 'keys' });
  const hints = h(
    'p',
    { class: 'osk-hints' },
    h('b', {}, 'LB'), ' shift  ', h('b', {}, 'RB'), ' symbols / digits  ', h('b', {}, 'X'), ' delete  ', h('b', {}, 'Y'), ' space  ', h('b', {}, 'B'), ' close',
  );
  const el = h('div', { class: 'osk', id: 'osk', role: 'dialog', 'aria-label': 'on-screen keyboard', hidden: true }, label, preview, grid, hints);
  root.append(el);

  function keyLabel(k) {
    return layout === 'letters' && shift !== 'off' ? k.toUpperCase() : k;
  }

  function special(name, content, cls = '') {
    return h('button', { type: 'button', class: `osk-key osk-special ${cls}`, tabindex: '-1', dataset: { osk: name }, 'aria-label': name }, content);
  }

  function build() {
    grid.replaceChildren();
    grid.dataset.layout = layout;
    el.dataset.layout = layout;
    el.dataset.shift = shift;
    rows = LAYOUTS[layout].map((row) =>
      row.map((k) => h('button', { type: 'button', class: 'osk-key', tabindex: '-1', dataset: { key: keyLabel(k) } }, keyLabel(k))),
    );
    const next = ORDER[(ORDER.indexOf(layout) + 1) % ORDER.length];
    rows.push([
      special('shift', [icon('shift'), shift === 'lock' ? 'caps' : 'shift'], shift !== 'off' ? 'is-on' : ''),
      special('layout', next === 'letters' ? 'abc' : next === 'symbols' ? '#+=' : '123'),
      special('space', 'space', 'osk-space'),
      special('backspace', icon('backspace', 'delete')),
      special('enter', nextField() ? 'next' : 'enter', 'osk-enter'),
    ]);
    rows.forEach((row, r) => {
      const line = h('div', { class: 'osk-row' });
      row.forEach((b, c) => {
        b.dataset.row = String(r);
        b.dataset.col = String(c);
        b.addEventListener('mousedown', (ev) => ev.preventDefault());
        b.addEventListener('click', () => {
          pos = { r, c };
          press(b);
        });
        line.append(b);
      });
      grid.append(line);
    });
    pos = { r: Math.min(pos.r, rows.length - 1), c: 0 };
    pos.c = Math.min(pos.c, rows[pos.r].length - 1);
  }

  function current() {
    return rows[pos.r]?.[pos.c] ?? null;
  }

  function paint() {
    for (const b of grid.querySelectorAll('.osk-key.is-focus')) b.classList.remove('is-focus');
    const b = current();
    if (!b) return;
    b.classList.add('is-focus');
    b.focus({ preventScroll: true });
  }

  function showValue() {
    if (!target) return;
    const v = target.value;
    preview.textContent = target.type === 'password' ? '•'.repeat([...v].length) : v;
    preview.classList.toggle('is-empty', v.length === 0);
  }

  function nextField() {
    if (!target?.form) return null;
    const fields = Array.from(target.form.querySelectorAll('input')).filter((f) => isTextInput(f) && !f.closest('[hidden]'));
    return fields[fields.indexOf(target) + 1] ?? null;
  }

  function setValue(v) {
    const max = Number(target.getAttribute('maxlength'));
    if (max > 0 && [...v].length > max) return;
    target.value = v;
    target.dispatchEvent(new Event('input', { bubbles: true }));
    showValue();
  }

  function type(ch) {
    if (!target) return;
    setValue(target.value + ch);
    if (shift === 'once' && layout === 'letters') {
      shift = 'off';
      build();
      paint();
    }
  }

  function erase() {
    if (target) setValue([...target.value].slice(0, -1).join(''));
  }

  function toggleShift() {
    shift = shift === 'off' ? 'once' : shift === 'once' ? 'lock' : 'off';
    const keep = { ...pos };
    build();
    pos = keep;
    paint();
  }

  function cycleLayout() {
    layout = ORDER[(ORDER.indexOf(layout) + 1) % ORDER.length];
    shift = 'off';
    pos = { r: 0, c: 0 };
    build();
    paint();
  }

  function enter() {
    const next = nextField();
    if (next) {
      attach(next);
      return;
    }
    const form = target?.form;
    close(true);
    form?.requestSubmit();
  }

  function press(b) {
    const name = b.dataset.osk;
    if (name === 'shift') toggleShift();
    else if (name === 'layout') cycleLayout();
    else if (name === 'space') type(' ');
    else if (name === 'backspace') erase();
    else if (name === 'enter') enter();
    else if (b.dataset.key) type(b.dataset.key);
  }

  /** Up/down keep the column nearest on screen (rows differ in width); left/right wrap. */
  function go(dir) {
    if (dir === 'left' || dir === 'right') {
      const n = rows[pos.r].length;
      pos.c = (pos.c + (dir === 'right' ? 1 : -1) + n) % n;
    } else {
      const r = pos.r + (dir === 'down' ? 1 : -1);
      if (r < 0 || r >= rows.length) return;
      const from = current().getBoundingClientRect();
      const x = from.left + from.width / 2;
      let best = 0;
      let bestD = Infinity;
      rows[r].forEach((b, c) => {
        const rr = b.getBoundingClientRect();
        const d = Math.abs(rr.left + rr.width / 2 - x);
        if (d < bestD) {
          bestD = d;
          best = c;
        }
      });
      pos = { r, c: best };
    }
    paint();
  }

  function attach(input) {
    target = input;
    const lbl = input.labels?.[0]?.querySelector('span')?.textContent ?? input.getAttribute('aria-label') ?? input.name;
    label.textContent = lbl || 'text';
    build();
    pos = { r: 1, c: 0 };
    if (layout === 'digits') pos = { r: 0, c: 0 };
    showValue();
    el.hidden = false;
    root.classList.add('osk-open');
    // Above the keyboard: the field scrolls to the top part of the screen (see .osk-open in CSS).
    input.scrollIntoView({ block: 'start', behavior: 'instant' });
    paint();
  }

  function close(giveFocus = true) {
    if (el.hidden) return;
    el.hidden = true;
    root.classList.remove('osk-open');
    const t = target;
    target = null;
    if (giveFocus && t && document.contains(t)) {
      restoring = true;
      t.focus({ preventScroll: false });
      restoring = false;
    }
    onClose();
  }

  // A physical key while open: give the field back so the key (and the next ones) type there.
  window.addEventListener(
    'keydown',
    (ev) => {
      if (!el.hidden && ev.isTrusted) close(true);
    },
    true,
  );

  return {
    el,
    get isOpen() {
      return !el.hidden;
    },
    /** Opens on `input` when it is a text field and no physical keyboard has been used. */
    maybeOpen(input, { force = false } = {}) {
      if (restoring || !isTextInput(input)) return false;
      if (!force && keyboardUsed()) return false;
      attach(input);
      return true;
    },
    close,
    /** Runs `fn` (which may move the focus onto a text field) without opening: an overlay that
     * opens on its first field should not cover itself with a keyboard before anyone asked. */
    quiet(fn) {
      restoring = true;
      try {
        return fn();
      } finally {
        restoring = false;
      }
    },
    /** Controller actions while open; true when consumed. */
    handle(action) {
      if (el.hidden) return false;
      switch (action) {
        case 'up':
        case 'down':
        case 'left':
        case 'right':
          go(action);
          return true;
        case 'select': {
          const b = current();
          if (b) press(b);
          return true;
        }
        case 'back':
          close(true);
          return true;
        case 'tabPrev':
          toggleShift();
          return true;
        case 'tabNext':
          cycleLayout();
          return true;
        case 'erase':
          erase();
          return true;
        case 'space':
          type(' ');
          return true;
        case 'submit':
          enter();
          return true;
        case 'settings':
          close(false);
          return false;
        default:
          return true;
      }
    },
  };
}
