// A queue per host in the browser's logic (issue 15): the order with and without "me too"
// raising (the same rule as moderation/questions.py), what is on air per host, the live page's
// truthful queue hint, and a drag-and-drop move in the moderator's queue.

import { test } from "node:test";
import assert from "node:assert/strict";

import {
  moderationGroups, onAirList, onAirQuestion, queueHint, queueOrder, rank, viewerQueue,
} from "../../web/static/questions.js";
import { dropMoveFields } from "../../web/static/triage.js";

const q = (id, fields = {}) => ({
  id, state: "queued", pinned: false, position: 1, me_too: 0, created_at: 1, ...fields,
});

test("me too counts change nothing unless the session lets them raise a question", () => {
  const list = [q("a", { position: 1 }), q("b", { position: 2, me_too: 50 }), q("c", { position: 3 })];
  assert.deepEqual(queueOrder(list).map((x) => x.id), ["a", "b", "c"]);
  assert.deepEqual(queueOrder(list, true).map((x) => x.id), ["b", "a", "c"]);
  assert.equal(rank(list[1], true), -48);
  assert.equal(rank(list[1], false), 2);
});

test("each me too lifts a question one place, and pinned questions stay first", () => {
  const list = [q("a", { position: 1 }), q("b", { position: 2 }), q("c", { position: 3, me_too: 2 }),
    q("p", { position: 9, pinned: true })];
  assert.deepEqual(queueOrder(list, true).map((x) => x.id), ["p", "a", "c", "b"]);
  list[2].me_too = 3;
  assert.deepEqual(queueOrder(list, true).map((x) => x.id), ["p", "c", "a", "b"]);
  list[1].me_too = 1000;
  assert.equal(queueOrder(list, true)[0].id, "p");
  assert.deepEqual(moderationGroups(list, true).queue.map((x) => x.id), ["p", "b", "c", "a"]);
  const mine = new Map([["m", q("m", { position: 0.5 })]]);
  assert.deepEqual(viewerQueue(new Map(list.map((x) => [x.id, x])), mine, true)
    .map((x) => x.id), ["p", "b", "c", "m", "a"]);
});

test("each host's question on air, and the list of all of them in the order they went on air", () => {
  const questions = new Map([
    ["a", q("a", { state: "on_air" })], ["b", q("b", { state: "on_air" })],
    ["x", q("x", { state: "answered" })], ["c", q("c", { state: "on_air", host_id: "h3" })],
  ]);
  const session = { on_air_id: "b", on_air_ids: { h1: "a", h2: "b", h9: "x" } };
  assert.equal(onAirQuestion(session, questions, "h1").id, "a");
  assert.equal(onAirQuestion(session, questions, "h2").id, "b");
  assert.equal(onAirQuestion(session, questions, "h9"), null, "answered: not on air any more");
  assert.equal(onAirQuestion(session, questions, "nobody"), null);
  assert.equal(onAirQuestion(session, questions).id, "b", "without a host: the latest");
  // c's session event has not come yet: it is listed last, under its own host.
  assert.deepEqual(onAirList(session, questions).map((a) => [a.host, a.question.id]),
    [["h1", "a"], ["h2", "b"], ["h3", "c"]]);
  assert.deepEqual(onAirList({ on_air_ids: {} }, new Map()), []);
});

test("the live page's queue hint says what decides the order in each mode", () => {
  assert.match(queueHint({ me_too_raises: true }), /越多.*越靠前/);
  assert.match(queueHint({ me_too_raises: false }), /审核员安排/);
  assert.doesNotMatch(queueHint({ me_too_raises: false }), /越靠前|越优先/);
});

test("a drop moves a question just above or below another, in the queue's order", () => {
  const queued = ["a", "b", "c", "d"].map((id) => q(id));
  assert.equal(dropMoveFields(queued, "b", "c", true), null, "already there");
  assert.equal(dropMoveFields(queued, "c", "b", false), null, "already there");
  assert.equal(dropMoveFields(queued, "b", "b", true), null);
  assert.deepEqual(dropMoveFields(queued, "b", "c", false), { before: "d" });
  assert.deepEqual(dropMoveFields(queued, "d", "a", true), { before: "a" });
  assert.deepEqual(dropMoveFields(queued, "a", "d", false), {}, "to the end");
  assert.equal(dropMoveFields(queued, "a", "zzz", true), null);
  const pinned = [q("p", { pinned: true }), ...queued];
  assert.equal(dropMoveFields(pinned, "c", "p", true), null, "pinned ones stay first");
});
