// What the consoles and the live page decide about questions (web/static/questions.js).

import assert from "node:assert/strict";
import { describe, test } from "node:test";

import {
  FINAL, OPEN, STATE_LABELS, activeRestriction, answeredOrder, approveFields, approveValues, askClosedReason,
  cardStateLabel, mergeTargets, moderationGroups, moveDownFields, moveUpFields, myStateText,
  onAirQuestion, onlyCountsChanged, piiLabel, questionAction, queueOrder, restrictConfirmText,
  restrictFields, restrictionText, sessionNote, successor, unsentAsks, viewerQueue,
} from "../../web/static/questions.js";
import { RequestError } from "../../web/static/stream.js";

let made = 0;
function q(fields) {
  made += 1;
  return {
    id: `q${made}`, state: "queued", pinned: false, position: 0, created_at: 1000 + made,
    updated_at: 1000 + made, version: 1, me_too: 0, merged_count: 0, text: "问题", ...fields,
  };
}
const ids = (list) => list.map((x) => x.id);

describe("queueOrder", () => {
  test("pinned first, then position, then age, then id; only queued questions", () => {
    const list = [
      q({ id: "late", position: 1, created_at: 50 }),
      q({ id: "early", position: 1, created_at: 10 }),
      q({ id: "pinned", position: 9, pinned: true }),
      q({ id: "front", position: 0, created_at: 99 }),
      q({ id: "tie-b", position: 1, created_at: 10 }),
      q({ id: "pending", state: "pending", position: 0 }),
      q({ id: "air", state: "on_air", position: 0 }),
    ];
    assert.deepEqual(ids(queueOrder(list)), ["pinned", "front", "early", "tie-b", "late"]);
  });

  test("does not reorder the list it was given", () => {
    const list = [q({ position: 2 }), q({ position: 1 })];
    const before = ids(list);
    queueOrder(list);
    assert.deepEqual(ids(list), before);
  });
});

describe("the moderation console", () => {
  test("groups questions into its three tabs", () => {
    const list = [
      q({ id: "p-old", state: "pending", created_at: 1 }),
      q({ id: "p-new", state: "pending", created_at: 2 }),
      q({ id: "second", position: 2 }),
      q({ id: "first", position: 1 }),
      q({ id: "air", state: "on_air" }),
      q({ id: "declined", state: "declined", updated_at: 5 }),
      q({ id: "answered", state: "answered", updated_at: 9 }),
      q({ id: "merged", state: "merged", updated_at: 7 }),
    ];
    const g = moderationGroups(new Map(list.map((x) => [x.id, x])).values());
    assert.deepEqual(ids(g.pending), ["p-new", "p-old"]);
    assert.deepEqual(ids(g.queue), ["air", "first", "second"]);
    assert.deepEqual(ids(g.done), ["answered", "merged", "declined"]);
  });

  test("every state has a label, open and final states do not overlap", () => {
    for (const s of [...OPEN, ...FINAL]) assert.ok(STATE_LABELS[s], s);
    assert.equal([...OPEN].filter((s) => FINAL.has(s)).length, 0);
    assert.equal(cardStateLabel(q({ state: "queued" }), 2), "队列第 3 位");
    assert.equal(cardStateLabel(q({ state: "queued" }), -1), "已进入队列");
    assert.equal(cardStateLabel(q({ state: "declined" }), 0), "未采用");
    assert.equal(cardStateLabel(q({ state: "something_new" }), 0), "something_new");
  });

  test("offers open questions, then answered ones, as merge targets", () => {
    const self = q({ id: "self", state: "pending" });
    const list = [
      self,
      q({ id: "answered-new", state: "answered", created_at: 9 }),
      q({ id: "queued-old", created_at: 1 }),
      q({ id: "air", state: "on_air", created_at: 5 }),
      q({ id: "declined", state: "declined", created_at: 8 }),
      q({ id: "answered-old", state: "answered", created_at: 2 }),
    ];
    assert.deepEqual(ids(mergeTargets(list, self)), ["air", "queued-old", "answered-new", "answered-old"]);
  });

  test("moves a question one place up or down in the queue", () => {
    const queued = [q({ id: "a" }), q({ id: "b" }), q({ id: "c" }), q({ id: "d" })];
    assert.equal(moveUpFields(queued, 0), null);
    assert.deepEqual(moveUpFields(queued, 2), { before: "b" });
    assert.deepEqual(moveDownFields(queued, 0), { before: "c" });
    assert.deepEqual(moveDownFields(queued, 2), {}, "the second to last goes to the end");
    assert.equal(moveDownFields(queued, 3), null);
    assert.equal(moveDownFields(queued, -1), null, "not in the queue");
  });

  test("approves with a category, and an item and host only when chosen", () => {
    assert.equal(approveFields({ category: "", item: "i1" }), null);
    assert.deepEqual(approveFields({ category: "驾驶证", item: "", host: "" }), { category: "驾驶证" });
    assert.deepEqual(approveFields({ category: "驾驶证", item: "i1", host: "h1" }),
      { category: "驾驶证", item_id: "i1", host_id: "h1" });
  });

  test("approving follows a suggestion that arrives later, unless the moderator chose", () => {
    const values = {};
    const before = { flags: {} };
    assert.equal(approveFields(approveValues(values, before)), null, "nothing to file it under yet");
    const hinted = { flags: { suggested_category: "驾驶证", suggested_item: "i1" } };
    assert.deepEqual(approveFields(approveValues(values, hinted)), { category: "驾驶证", item_id: "i1" },
      "asking before the hints came in left nothing behind");
    values.item = "";  // the moderator cleared the item
    assert.deepEqual(approveValues(values, hinted), { category: "驾驶证", item: "", host: "" });
    const filed = { category: "机动车", item_id: "i2", host_id: "h1", flags: hinted.flags };
    assert.deepEqual(approveValues({}, filed), { category: "机动车", item: "i2", host: "h1" },
      "what the question already has comes before the suggestion");
  });

  test("a timeout stops counting when it runs out; a ban does not", () => {
    const restrictions = new Map([
      ["v1", { viewer_id: "v1", kind: "timeout", until: 100 }],
      ["v2", { viewer_id: "v2", kind: "ban", until: 0 }],
    ]);
    assert.equal(activeRestriction(restrictions, "v1", 99_999).kind, "timeout");
    assert.equal(activeRestriction(restrictions, "v1", 100_000), null);
    assert.equal(activeRestriction(restrictions, "v2", 1e15).kind, "ban");
    assert.equal(activeRestriction(restrictions, "v3", 0), null);
    assert.equal(restrictionText({ kind: "ban" }), "提问者已被封禁");
    assert.equal(restrictionText({ kind: "timeout", until: 1_800_000_000 }), "提问者已被禁言至 16:00");
  });

  test("builds the restrict request and its confirmation", () => {
    assert.deepEqual(restrictFields("v1", "timeout", 10), { viewer_id: "v1", kind: "timeout", minutes: 10 });
    assert.deepEqual(restrictFields("v1", "ban", 0), { viewer_id: "v1", kind: "ban" });
    assert.equal(restrictConfirmText("小王", "timeout", 60), "确定将“小王”禁言 60 分钟？");
    assert.equal(restrictConfirmText("", "ban", 0), "确定封禁这位提问者？封禁后将不能再提问。");
  });

  test("names masked personal data, known kinds or not", () => {
    assert.equal(piiLabel("mobile"), "已隐去手机号");
    assert.equal(piiLabel("email"), "已隐去电子邮箱");
    assert.equal(piiLabel("future_kind"), "已隐去future_kind");
  });
});

describe("questionAction", () => {
  /** Answers requests from a script, remembering what was sent. */
  function scripted(...answers) {
    const sent = [];
    return {
      sent,
      request(type, fields) {
        sent.push({ type, ...fields });
        const answer = answers.shift();
        return answer instanceof Error ? Promise.reject(answer) : Promise.resolve(answer);
      },
    };
  }
  const conflict = (current) => new RequestError({ code: "conflict", message: "已被修改", current });

  test("quotes the version it saw", async () => {
    const socket = scripted({ type: "ack" });
    const seen = q({ version: 4 });
    assert.deepEqual(await questionAction(socket, seen, "pin", { pinned: true }), { type: "ack" });
    assert.deepEqual(socket.sent, [{ type: "pin", question_id: seen.id, version: 4, pinned: true }]);
  });

  test("retries once when only counters moved", async () => {
    const seen = q({ version: 4 });
    const now = { ...seen, version: 6, me_too: 3, merged_count: 1, updated_at: seen.updated_at + 5 };
    const socket = scripted(conflict(now), { type: "ack" });
    const current = [];
    await questionAction(socket, seen, "on_air", {}, (x) => current.push(x));
    assert.deepEqual(socket.sent.map((f) => f.version), [4, 6]);
    assert.deepEqual(current, [now]);
  });

  test("gives up when something that matters changed", async () => {
    const seen = q({ version: 4 });
    const now = { ...seen, version: 5, text: "改过的问题" };
    const socket = scripted(conflict(now));
    const current = [];
    await assert.rejects(questionAction(socket, seen, "approve", { category: "x" }, (x) => current.push(x)),
      { code: "conflict" });
    assert.equal(socket.sent.length, 1);
    assert.deepEqual(current, [now], "the page learns how the question is now");
  });

  test("retries only once", async () => {
    const seen = q({ version: 4 });
    const v5 = { ...seen, version: 5, me_too: 1 };
    const v6 = { ...seen, version: 6, me_too: 2 };
    const socket = scripted(conflict(v5), conflict(v6));
    const current = [];
    await assert.rejects(questionAction(socket, seen, "skip", {}, (x) => current.push(x)), { code: "conflict" });
    assert.deepEqual(socket.sent.map((f) => f.version), [4, 5]);
    assert.deepEqual(current, [v5, v6]);
  });

  test("passes other refusals through without retrying", async () => {
    const socket = scripted(new RequestError({ code: "air_busy", message: "已有问题在直播" }));
    await assert.rejects(questionAction(socket, q({}), "on_air", {}), { code: "air_busy" });
    assert.equal(socket.sent.length, 1);
  });

  test("onlyCountsChanged compares every other field", () => {
    const seen = q({ flags: { pii: ["mobile"] } });
    assert.equal(onlyCountsChanged(seen, { ...seen, me_too: 9, version: 7 }), true);
    assert.equal(onlyCountsChanged(seen, { ...seen, flags: { pii: [] } }), false);
    assert.equal(onlyCountsChanged(seen, { ...seen, pinned: true }), false);
    assert.equal(onlyCountsChanged(seen, { ...seen, reply: "新字段" }), false);
    assert.equal(onlyCountsChanged(seen, { ...seen, id: "other" }), false);
    assert.equal(onlyCountsChanged(seen, undefined), false);
  });
});

describe("the viewer's page", () => {
  test("the queue includes the viewer's own queued questions", () => {
    const pub = q({ id: "pub", position: 2 });
    const own = q({ id: "own", position: 1, mine: true });
    const ownPending = q({ id: "own-pending", state: "pending", mine: true });
    const questions = new Map([["pub", pub]]);
    const mine = new Map([["own", own], ["own-pending", ownPending], ["pub", { ...pub, mine: true }]]);
    assert.deepEqual(ids(viewerQueue(questions, mine)), ["own", "pub"]);
    assert.equal(viewerQueue(questions, mine).find((x) => x.id === "pub"), pub, "the public copy wins");
  });

  test("answered questions, last answered first", () => {
    const list = [q({ id: "a", state: "answered", answered_at: 5 }), q({ id: "b" }),
      q({ id: "c", state: "answered", answered_at: 9 })];
    assert.deepEqual(ids(answeredOrder(list)), ["c", "a"]);
  });

  test("says where the viewer's question is", () => {
    const mine = q({ id: "m" });
    const queue = [q({}), q({}), mine];
    assert.equal(myStateText(mine, queue), "已进入队列（第 3 位）");
    assert.equal(myStateText(mine, []), "已进入队列");
    assert.equal(myStateText(q({ state: "merged" }), queue), "已合并到相同问题");
    assert.equal(myStateText(q({ state: "replied", state_label: "已文字回复" }), queue), "已文字回复");
    assert.equal(myStateText(q({ state: "pending" }), queue), "pending");
  });

  test("an ask stays 'sending' until the server lists it as the viewer's", () => {
    const pending = [{ client_id: "c1", text: "一" }, { client_id: "c2", text: "二" }];
    const mine = new Map([["q1", q({ id: "q1", client_id: "c1" })]]);
    assert.deepEqual(unsentAsks(pending, mine).map((p) => p.client_id), ["c2"]);
    assert.deepEqual(unsentAsks([], mine), []);
  });

  test("asking closes when the broadcast ends or the viewer is banned", () => {
    assert.equal(askClosedReason({ status: "live" }, ""), "");
    assert.equal(askClosedReason({ status: "scheduled" }, ""), "");
    assert.equal(askClosedReason({ status: "ended" }, "banned"), "本场直播已结束，提问已关闭。");
    assert.equal(askClosedReason({ status: "live" }, "banned"), "你已被禁止在本直播间提问。");
  });

  test("the note under the title", () => {
    assert.match(sessionNote({ status: "scheduled", slow_mode_seconds: 30 }), /尚未开始/);
    assert.match(sessionNote({ status: "ended" }), /已结束/);
    assert.equal(sessionNote({ status: "live", slow_mode_seconds: 30 }), "慢速模式已开启：每 30 秒可提问一次。");
    assert.equal(sessionNote({ status: "live", slow_mode_seconds: 0 }), "");
  });
});

test("the host sees the question on air, even before the session event arrives", () => {
  const air = q({ id: "air", state: "on_air" });
  const old = q({ id: "old", state: "answered" });
  const questions = new Map([["air", air], ["old", old]]);
  assert.equal(onAirQuestion({ on_air_id: "air" }, questions), air);
  assert.equal(onAirQuestion({ on_air_id: "old" }, questions), air, "on_air_id lags behind");
  assert.equal(onAirQuestion({ on_air_id: "" }, questions), air);
  assert.equal(onAirQuestion({ on_air_id: "" }, new Map([["old", old]])), null);
});

describe("successor", () => {
  const present = (list) => new Map(list.map((id, i) => [id, i]));
  test("a place still in the list stays", () => {
    assert.equal(successor(["a", "b", "c"], "b", present(["a", "b", "c"])), "b");
  });
  test("a place that left goes to the next one still there, not to its old index", () => {
    // b was approved while x and y arrived above: the cursor goes on to c (index 1 is now y).
    assert.equal(successor(["a", "b", "c", "d"], "b", present(["x", "y", "a", "c", "d"])), "c");
    assert.equal(successor(["a", "b", "c", "d"], "b", present(["a", "d"])), "d");
  });
  test("the last one leaving goes back to the one before it; nothing left gives ''", () => {
    assert.equal(successor(["a", "b", "c"], "c", present(["a", "b"])), "b");
    assert.equal(successor(["a", "b"], "b", present(["z"])), "");
    assert.equal(successor(["a"], "", present(["a"])), "");
    assert.equal(successor(["a"], "q", present(["a"])), "");
  });
});
