// Spatial focus for a D-pad: from the focused element, move to the nearest focusable element
// (`[data-focus]`) in the pressed direction inside the active layer (the open overlay, else the
// screen plus the header). "Nearest" weighs the distance along the direction plus twice the
// sideways offset, so moving down a column stays in the column and moving along a row stays in the
// row. The focused element is always scrolled into view.
//
//   focusFirst(root);                 // the `[data-autofocus]` element, else the first one
//   move(layerRoots, 'right');        // false when nothing lies that way
//   focusEl(el);

const SELECTOR = '[data-focus]:not([disabled]):not([hidden])';

export function focusables(roots) {
  const out = [];
  for (const root of roots) {
    if (!root || root.hidden) continue;
    for (const el of root.querySelectorAll(SELECTOR)) {
      const r = el.getBoundingClientRect();
      if (r.width > 0 && r.height > 0 && !el.closest('[hidden]')) out.push(el);
    }
  }
  return out;
}

export function focusEl(el) {
  if (!el) return;
  el.focus({ preventScroll: true });
  el.scrollIntoView({ block: 'nearest', inline: 'center', behavior: 'instant' });
  // Rows that scroll sideways keep the focused tile away from the edge.
  const row = el.closest('[data-scroll-x]');
  if (row) {
    const rr = row.getBoundingClientRect();
    const er = el.getBoundingClientRect();
    row.scrollLeft += er.left + er.width / 2 - (rr.left + rr.width / 2);
  }
}

export function focusFirst(roots, preferred) {
  const list = focusables(Array.isArray(roots) ? roots : [roots]);
  // Preferred selectors are tried in the order written, so "a, b" means "a, else b".
  const wanted = preferred ? preferred.split(',').map((s) => s.trim()) : [];
  let pick = null;
  for (const sel of wanted) {
    pick = list.find((el) => el.matches(sel));
    if (pick) break;
  }
  pick ??= list.find((el) => el.hasAttribute('data-autofocus')) ?? list[0];
  focusEl(pick);
  return pick ?? null;
}

function center(r) {
  return { x: r.left + r.width / 2, y: r.top + r.height / 2 };
}

const OPPOSITE = { up: 'down', down: 'up', left: 'right', right: 'left' };
/** The last move, so that the opposite move goes back where it came from (up then down returns). */
let lastMove = null;

export function move(roots, dir) {
  const list = focusables(roots);
  const current = document.activeElement;
  if (!current || !list.includes(current)) return Boolean(focusFirst(roots));
  if (lastMove && lastMove.to === current && OPPOSITE[lastMove.dir] === dir && list.includes(lastMove.from)) {
    const back = lastMove.from;
    lastMove = { from: current, to: back, dir };
    focusEl(back);
    return true;
  }
  const from = current.getBoundingClientRect();
  const c = center(from);
  let best = null;
  let bestScore = Infinity;
  for (const el of list) {
    if (el === current) continue;
    const r = el.getBoundingClientRect();
    const p = center(r);
    let along;
    let side;
    switch (dir) {
      case 'right':
        along = r.left - from.right;
        side = Math.abs(p.y - c.y);
        if (p.x <= c.x + 1) continue;
        break;
      case 'left':
        along = from.left - r.right;
        side = Math.abs(p.y - c.y);
        if (p.x >= c.x - 1) continue;
        break;
      case 'down':
        along = r.top - from.bottom;
        side = Math.abs(p.x - c.x);
        if (p.y <= c.y + 1) continue;
        break;
      case 'up':
        along = from.top - r.bottom;
        side = Math.abs(p.x - c.x);
        if (p.y >= c.y - 1) continue;
        break;
      default:
        return false;
    }
    const score = Math.max(along, 0) + 2 * side;
    if (score < bestScore) {
      bestScore = score;
      best = el;
    }
  }
  if (!best) return false;
  lastMove = { from: current, to: best, dir };
  focusEl(best);
  return true;
}

/** Tab order inside the layer (document order), wrapping around. */
export function step(roots, delta) {
  const list = focusables(roots);
  if (!list.length) return false;
  const i = list.indexOf(document.activeElement);
  const next = list[(i + delta + list.length) % list.length] ?? list[0];
  focusEl(next);
  return true;
}
