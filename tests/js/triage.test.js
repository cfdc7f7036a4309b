// The moderator console's pure decisions (web/static/triage.js).

import assert from "node:assert/strict";
import { describe, test } from "node:test";

import {
  bulkField, confidenceText, fillTemplate, flagsOf, keyCommand, matchesFilter, pickFields,
  rankMergeTargets, similarity, sortQuestions, stepSelection, stepTab, suggestedItems,
} from "../../web/static/triage.js";

let made = 0;
function q(fields) {
  made += 1;
  return { id: `q${made}`, state: "pending", created_at: 1000 + made, version: 1, me_too: 0,
    text: "问题", nickname: "", flags: {}, item_id: "", host_id: "", ...fields };
}
const ITEMS = new Map([
  ["renew", { id: "renew", name: "驾驶证换证", category: "驾驶证", link: "https://x/renew" }],
  ["reissue", { id: "reissue", name: "驾驶证补领", category: "驾驶证" }],
  ["inspect", { id: "inspect", name: "机动车检验", category: "机动车" }],
  ["fine", { id: "fine", name: "罚款缴纳", category: "线上办" }],
]);

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

describe("suggested items and the one-key pick", () => {
  const asked = q({ flags: { suggested_item: "reissue", suggested_items: [
    { id: "reissue", confidence: 0.82 }, { id: "gone", confidence: 0.3 },
    { id: "inspect", confidence: 0.1 }, { id: "fine", confidence: 0.05 },
    { id: "renew", confidence: 0.01 }] } });
  test("the engine's top three known items, best first, with their confidence", () => {
    assert.deepEqual(suggestedItems(asked, ITEMS).map((s) => [s.id, s.category, s.confidence]),
      [["reissue", "驾驶证", 0.82], ["inspect", "机动车", 0.1], ["fine", "线上办", 0.05]]);
  });
  test("a question from before the engine has its one suggested item; none has none", () => {
    const old = q({ flags: { suggested_item: "renew", suggested_category: "驾驶证" } });
    assert.deepEqual(suggestedItems(old, ITEMS).map((s) => [s.id, s.confidence]),
      [["renew", null]]);
    assert.deepEqual(suggestedItems(q({}), ITEMS), []);
  });
  test("keys 1, 2 and 3 pick; tabs moved to h and l", () => {
    assert.deepEqual(["1", "2", "3", "h", "l"].map((k) => keyCommand({ key: k }, false)),
      ["pick_1", "pick_2", "pick_3", "tab_previous", "tab_next"]);
    assert.equal(keyCommand({ key: "2" }, true), ""); // typing a digit in a field
  });
  test("picking approves under that item and its category, keeping the chosen host", () => {
    assert.deepEqual(pickFields(asked, 1, ITEMS), { category: "驾驶证", item_id: "reissue" });
    assert.deepEqual(pickFields(asked, 2, ITEMS, "h1"),
      { category: "机动车", item_id: "inspect", host_id: "h1" });
    assert.equal(pickFields(asked, 4, ITEMS), null);
    assert.equal(pickFields(q({}), 1, ITEMS), null);
  });
  test("confidence as a percentage; tabs go round", () => {
    assert.equal(confidenceText(0.816), "82%");
    assert.equal(confidenceText(null), "");
    assert.equal(stepTab("pending", -1), "done");
    assert.equal(stepTab("done", 1), "pending");
    assert.equal(stepTab("pending", 1), "queue");
  });
});

test("bulkField lists id:version pairs", () => {
  assert.equal(bulkField([q({ id: "x", version: 3 }), q({ id: "y", version: 1 })]), "x:3,y:1");
});
