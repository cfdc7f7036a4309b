// The replay page's chapter helpers (web/static/replay_chapters.js).

import assert from "node:assert/strict";
import { describe, test } from "node:test";

import { chapterIndexAt, parseOffset } from "../../web/static/replay_chapters.js";

describe("which chapter is playing", () => {
  const offsets = [10, 42.5, 90];

  test("before the first chapter there is none", () => {
    assert.equal(chapterIndexAt(offsets, 0), -1);
    assert.equal(chapterIndexAt(offsets, 9.5), -1);
  });

  test("a chapter lasts until the next one starts", () => {
    assert.equal(chapterIndexAt(offsets, 10), 0);
    assert.equal(chapterIndexAt(offsets, 42), 0);
    assert.equal(chapterIndexAt(offsets, 42.5), 1);
    assert.equal(chapterIndexAt(offsets, 500), 2);
  });

  test("a seek that lands a frame early still counts as the chapter", () => {
    assert.equal(chapterIndexAt(offsets, 42.4), 1);
  });

  test("no chapters", () => {
    assert.equal(chapterIndexAt([], 5), -1);
  });
});

describe("a chapter button's offset", () => {
  test("numbers", () => {
    assert.equal(parseOffset("12.5"), 12.5);
    assert.equal(parseOffset("0"), 0);
  });

  test("anything else is no offset", () => {
    for (const bad of [undefined, null, "", " ", "abc", "-3", "Infinity"]) {
      assert.equal(parseOffset(bad), null, String(bad));
    }
  });
});
