import { test } from "node:test";
import assert from "node:assert/strict";

import { delayText, playbackDelay } from "../../web/static/player.js";

test("the delay is wall clock minus the program date time of the picture", () => {
  const date = Date.UTC(2026, 11, 3, 8, 0, 0);
  assert.equal(playbackDelay(date, date + 8200), 8.2);
  assert.equal(playbackDelay(date, date - 500), 0); // clocks a little apart: never negative
  assert.equal(playbackDelay(null, date), null);
  assert.equal(playbackDelay(Number.NaN, date), null);
  assert.equal(playbackDelay(0, date), null);
});

test("the delay reads in seconds", () => {
  assert.equal(delayText(8.24), "8.2 秒");
  assert.equal(delayText(12.6), "13 秒");
  assert.equal(delayText(null), "—");
  assert.equal(delayText(Number.NaN), "—");
});
