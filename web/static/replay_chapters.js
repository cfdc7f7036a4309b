// The replay's chapters without the DOM (tests/js/replay.test.js): which chapter a playback
// position is in, given the chapters' start offsets in seconds (ascending).

/** The index of the chapter playing at `time`, or -1 before the first one. */
export function chapterIndexAt(offsets, time) {
  let found = -1;
  for (let i = 0; i < offsets.length; i += 1) {
    if (offsets[i] <= time + 0.25) found = i; // a seek lands a frame or so early
    else break;
  }
  return found;
}

/** A chapter button's offset, or null when it is missing or not a number. */
export function parseOffset(text) {
  if (text === undefined || text === null || String(text).trim() === "") return null;
  const value = Number(text);
  return Number.isFinite(value) && value >= 0 ? value : null;
}
