// The on-air overlay's logic (web/static/overlay_state.js).

import assert from "node:assert/strict";
import { test } from "node:test";

import { applyEvent, lookProperties } from "../../web/static/overlay_state.js";

test("public events change the overlay's state; others do not", () => {
  const state = { session: { on_air_id: "" }, questions: new Map() };
  const q = { id: "a", state: "on_air", text: "驾照到期怎么换？" };
  assert.equal(applyEvent(state, { kind: "question", question: q }), true);
  assert.equal(state.questions.get("a"), q);
  assert.equal(applyEvent(state, { kind: "session", session: { on_air_id: "a" } }), true);
  assert.equal(state.session.on_air_id, "a");
  assert.equal(applyEvent(state, { kind: "clip", question_id: "a" }), false);
  assert.equal(applyEvent(state, { kind: "question_removed", id: "a" }), true);
  assert.equal(applyEvent(state, { kind: "question_removed", id: "a" }), false, "already gone");
  assert.equal(state.questions.size, 0);
});

test("the look becomes CSS custom properties; missing keys are left to the stylesheet", () => {
  assert.deepEqual(lookProperties({ fontPx: "48", textColor: "#fff" }),
    { "--overlay-font": "48px", "--overlay-text": "#fff" });
  assert.deepEqual(lookProperties({}), {});
});
