// The moderator console's pure decisions (web/static/triage.js).

import assert from "node:assert/strict";
import { describe, test } from "node:test";

import {
  bulkField, fillTemplate, flagsOf, keyCommand, matchesFilter, rankMergeTargets, similarity,
  sortQuestions, stepSelection,
} from "../../web/static/triage.js";

let made = 0;
function q(fields) {
  made += 1;
  return { id: `q${made}`, state: "pending", created_at: 1000 + made, version: 1, me_too: 0,
    text: "问题", nickname: "", flags: {}, item_id: "", host_id: "", ...fields };
}
const ITEMS = new Map([["renew", { id: "renew", name: "驾驶证换证", link: "https://x/renew" }]]);

describe("similarity", () => {
  test("1 for the same text whatever the punctuation, 0 for nothing shared", () => {
    assert.equal(similarity("电动车怎么上牌？", "电动车 怎么上牌"), 1);
    assert.equal(similarity("驾照", "年检"), 0);
    assert.equal(similarity("", "年检"), 0);
  });
  test("a rewording scores above an unrelated question", () => {
    const base = "电动车怎么上牌照";
    assert.ok(similarity(base, "请问电动车上牌照要什么") > similarity(base, "驾驶证到期怎么换"));
  });
});

describe("rankMergeTargets", () => {
  test("the duplicate check's pick first, then by similarity, open before answered", () => {
    const named = q({ id: "named", text: "年检" });
    const close = q({ id: "close", text: "电动车上牌需要什么材料" });
    const far = q({ id: "far", text: "驾驶证换证" });
    const answered = q({ id: "ans", text: "电动车上牌需要什么材料", state: "answered" });
    const me = q({ text: "电动车上牌需要啥材料", flags: { duplicate_of: "named" } });
    const ranked = rankMergeTargets([far, answered, close, named], me).map((r) => r.question.id);
    assert.deepEqual(ranked, ["named", "close", "ans", "far"]);
  });
});

describe("fillTemplate", () => {
  test("the approved item, else the suggested one, else empty", () => {
    const text = "请办理{item_name}：{item_link}";
    assert.equal(fillTemplate(text, q({ item_id: "renew" }), ITEMS), "请办理驾驶证换证：https://x/renew");
    assert.equal(fillTemplate(text, q({ flags: { suggested_item: "renew" } }), ITEMS),
      "请办理驾驶证换证：https://x/renew");
    assert.equal(fillTemplate(text, q({}), ITEMS), "请办理：");
  });
});

describe("filters and sorting", () => {
  const a = q({ text: "驾照到期", nickname: "老张", flags: { pii: ["mobile"] }, item_id: "renew" });
  const b = q({ text: "年检", host_id: "h1", me_too: 3, state: "queued",
    flags: { notes: [{ text: "x" }], suggested_item: "inspect" } });
  test("text matches the question or the nickname, folded", () => {
    assert.ok(matchesFilter(a, { text: "老张" }));
    assert.ok(matchesFilter(a, { text: "驾 照" }));
    assert.ok(!matchesFilter(b, { text: "驾照" }));
  });
  test("state, item (approved or suggested), flag and host", () => {
    assert.ok(matchesFilter(b, { state: "queued", item: "inspect", flag: "noted", host: "h1" }));
    assert.ok(!matchesFilter(a, { host: "h1" }) && matchesFilter(a, { host: "none" }));
    assert.ok(matchesFilter(a, { flag: "pii" }) && !matchesFilter(a, { flag: "held" }));
    assert.deepEqual([...flagsOf(b)].sort(), ["me_too", "noted"]);
  });
  test("sorts by age either way and by me-too, leaving the input alone", () => {
    const list = [a, b];
    assert.deepEqual(sortQuestions(list, "newest").map((x) => x.id), [b.id, a.id]);
    assert.deepEqual(sortQuestions(list, "oldest").map((x) => x.id), [a.id, b.id]);
    assert.deepEqual(sortQuestions(list, "me_too").map((x) => x.id), [b.id, a.id]);
    assert.deepEqual(sortQuestions(list, "default"), list);
  });
});

describe("keyboard", () => {
  const key = (k, extra = {}) => keyCommand({ key: k, ...extra }, false);
  test("the triage keys, arrows too; modifiers and fields are left alone", () => {
    assert.deepEqual(["j", "k", "a", "d", "m", "r", "?", "ArrowDown"].map((k) => key(k)),
      ["next", "previous", "approve", "decline", "merge", "reply", "help", "next"]);
    assert.equal(key("a", { ctrlKey: true }), "");
    assert.equal(keyCommand({ key: "a" }, true), "");
    assert.equal(keyCommand({ key: "Escape" }, true), "close");
    assert.equal(key("z"), "");
  });
  test("stepping stays within the list", () => {
    assert.equal(stepSelection(["a", "b", "c"], "b", 1), "c");
    assert.equal(stepSelection(["a", "b", "c"], "c", 1), "c");
    assert.equal(stepSelection(["a", "b", "c"], "a", -1), "a");
    assert.equal(stepSelection(["a", "b"], "gone", 1), "a");
    assert.equal(stepSelection([], "a", 1), "");
  });
});

test("bulkField lists id:version pairs", () => {
  assert.equal(bulkField([q({ id: "x", version: 3 }), q({ id: "y", version: 1 })]), "x:3,y:1");
});
