// Controller and keyboard → one small set of actions: up, down, left, right, select, back,
// tabPrev, tabNext, settings, erase (X) and space (Y) for the on-screen keyboard (plus `any` for
// "press anything to continue"). It also remembers whether a physical keyboard was used on this page
// (the on-screen keyboard opens by itself only when none was). The Gamepad API has no
// button events, so pads are polled (standard mapping: A=0, B=1, LB=4, RB=5, Start=9, D-pad 12–15,
// left stick axes 0/1); a held direction repeats after a delay, like a TV remote.
//
//   const input = createInput((action, source) => ui.handle(action, source));
//   input.padState();   // [{ index, id, buttons: [..pressed], axes: [..] }] for the controller test
//   input.connected();  // true when any pad is present

const REPEAT_DELAY_MS = 380;
const REPEAT_EVERY_MS = 140;
const DEADZONE = 0.5;

const KEYMAP = {
  ArrowUp: 'up',
  ArrowDown: 'down',
  ArrowLeft: 'left',
  ArrowRight: 'right',
  Enter: 'select',
  ' ': 'select',
  Escape: 'back',
  Backspace: 'back',
  BrowserBack: 'back',
  GoBack: 'back',
  PageUp: 'tabPrev',
  PageDown: 'tabNext',
  q: 'tabPrev',
  Q: 'tabPrev',
  e: 'tabNext',
  E: 'tabNext',
  F1: 'settings',
  ContextMenu: 'settings',
};

const BUTTONS = { 0: 'select', 1: 'back', 2: 'erase', 3: 'space', 4: 'tabPrev', 5: 'tabNext', 9: 'settings', 12: 'up', 13: 'down', 14: 'left', 15: 'right' };
const DIRECTIONS = new Set(['up', 'down', 'left', 'right']);

function isTextField(el) {
  return el instanceof HTMLInputElement || el instanceof HTMLTextAreaElement || el instanceof HTMLSelectElement;
}

/** @param {(action: string, source: 'keyboard'|'gamepad') => void} emit */
export function createInput(emit) {
  const held = new Map(); // "pad:button" → { action, since, last }
  let lastPads = [];
  let keyboardUsed = false;

  function onKey(ev) {
    if (ev.isTrusted) keyboardUsed = true;
    if (ev.altKey || ev.ctrlKey || ev.metaKey) return;
    let action = KEYMAP[ev.key];
    const el = document.activeElement;
    if (ev.key === 'Tab') action = ev.shiftKey ? 'prev' : 'next';
    if (isTextField(el)) {
      // Typing stays typing: only Enter, Escape, Tab and up/down leave a text field.
      if (ev.key.length === 1 || ['Backspace', 'ArrowLeft', 'ArrowRight', 'Home', 'End', 'Delete'].includes(ev.key)) action = undefined;
      if (ev.key === 'Enter') action = 'submit';
    }
    if (!action) {
      if (!isTextField(el) && ev.key.length === 1) emit('any', 'keyboard');
      return;
    }
    ev.preventDefault();
    emit(action, 'keyboard');
  }

  function pads() {
    try {
      const list = typeof navigator.getGamepads === 'function' ? navigator.getGamepads() : [];
      return Array.from(list ?? []).filter((p) => p && p.connected !== false);
    } catch {
      return [];
    }
  }

  function pressed(b) {
    return typeof b === 'object' && b !== null ? Boolean(b.pressed) || b.value > 0.5 : b > 0.5;
  }

  function poll() {
    const now = performance.now();
    const before = lastPads.length;
    lastPads = pads();
    if (lastPads.length !== before) emit('padChanged', 'gamepad');
    const down = new Map();
    for (const pad of lastPads) {
      const buttons = Array.from(pad.buttons ?? []);
      buttons.forEach((b, i) => {
        if (pressed(b) && BUTTONS[i]) down.set(`${pad.index}:b${i}`, BUTTONS[i]);
      });
      const [x = 0, y = 0] = Array.from(pad.axes ?? []);
      if (Math.abs(x) > DEADZONE || Math.abs(y) > DEADZONE) {
        const dir = Math.abs(x) > Math.abs(y) ? (x > 0 ? 'right' : 'left') : y > 0 ? 'down' : 'up';
        down.set(`${pad.index}:stick`, dir);
      }
      // Any other button still counts as "a button was pressed" for the connect screen.
      buttons.forEach((b, i) => {
        if (pressed(b) && !BUTTONS[i]) down.set(`${pad.index}:b${i}`, 'any');
      });
    }
    for (const key of held.keys()) if (!down.has(key)) held.delete(key);
    for (const [key, action] of down) {
      const h = held.get(key);
      if (!h || h.action !== action) {
        held.set(key, { action, since: now, last: now });
        emit(action, 'gamepad');
      } else if (DIRECTIONS.has(action) && now - h.since > REPEAT_DELAY_MS && now - h.last > REPEAT_EVERY_MS) {
        h.last = now;
        emit(action, 'gamepad');
      }
    }
  }

  window.addEventListener('keydown', onKey);
  const timer = setInterval(poll, 33);
  const onConnect = () => emit('padChanged', 'gamepad');
  window.addEventListener('gamepadconnected', onConnect);
  window.addEventListener('gamepaddisconnected', onConnect);

  return {
    connected: () => pads().length > 0,
    keyboardUsed: () => keyboardUsed,
    padNames: () => pads().map((p) => p.id || `controller ${p.index + 1}`),
    padState: () =>
      lastPads.map((p) => ({
        index: p.index,
        id: p.id || `controller ${p.index + 1}`,
        buttons: Array.from(p.buttons ?? []).map(pressed),
        axes: Array.from(p.axes ?? []).map((a) => Math.round(a * 100) / 100),
      })),
    stop() {
      clearInterval(timer);
      window.removeEventListener('keydown', onKey);
      window.removeEventListener('gamepadconnected', onConnect);
      window.removeEventListener('gamepaddisconnected', onConnect);
    },
  };
}
