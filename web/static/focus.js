// Keeping a keyboard user's place when a list is rebuilt from the websocket, and moving the
// focus where the user needs it after an action (issue 16).
//
// Lists mark each entry with data-focus-key (a question id) and tabindex="-1", so the entry
// itself can take the focus when the control that had it is gone or disabled.

const FOCUSABLE = "a[href], button, input, select, textarea, summary, [tabindex]";

/** Where the focus is inside ``root``: {key, index, position}, or null when it is elsewhere.
 * ``index`` counts focusable elements inside the entry (-1: the entry itself); ``position``
 * is the entry's place in the list, to land on its successor if it leaves the list. */
export function focusPlace(root) {
  const active = document.activeElement;
  if (!active || !root.contains(active)) return null;
  const item = active.closest("[data-focus-key]");
  if (!item || !root.contains(item)) return null;
  const items = [...root.querySelectorAll("[data-focus-key]")];
  const index = active === item ? -1 : [...item.querySelectorAll(FOCUSABLE)].indexOf(active);
  return { key: item.dataset.focusKey, index, position: items.indexOf(item) };
}

/** Focus the entry ``key`` in ``root`` (the entry itself), if it is there. */
export function focusEntry(root, key) {
  const item = entry(root, key);
  if (!item) return false;
  if (document.activeElement !== item) item.focus();
  return true;
}

/** Put the focus back where ``place`` says, after ``root`` was re-rendered. An entry that
 * left the list hands the focus to the entry now in its position (the next question), else
 * to the last one, else to ``fallback``. */
export function restoreFocus(root, place, fallback = null) {
  if (!place) return;
  const active = document.activeElement;
  const item = entry(root, place.key);
  if (item) {
    if (active && item.contains(active)) return; // the entry kept its node: nothing moved
    const targets = [...item.querySelectorAll(FOCUSABLE)];
    const target = place.index >= 0 ? targets[place.index] : null;
    (usable(target) ? target : item).focus({ preventScroll: true });
    return;
  }
  const items = [...root.querySelectorAll("[data-focus-key]")];
  const next = items[Math.min(place.position, items.length - 1)];
  if (next) next.focus();
  else if (fallback) fallback.focus();
}

function entry(root, key) {
  return [...root.querySelectorAll("[data-focus-key]")].find((n) => n.dataset.focusKey === key)
    || null;
}

function usable(node) {
  return Boolean(node) && !node.disabled && node.getClientRects().length > 0;
}
