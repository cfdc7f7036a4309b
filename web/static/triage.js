// What the moderator console decides about finding, ordering and acting on many questions:
// search and filters, sorting, similarity for the merge picker, template placeholders, the
// keyboard map and the bulk actions' request. Pure functions, tested with `node --test`.

/** The letters and digits of a text, lower-cased, for search and similarity. */
export function foldText(text) {
  return (text || "").normalize("NFKC").toLowerCase().replace(/[^\p{L}\p{N}]/gu, "");
}

/** The character bigrams of a text (a single character is its own gram). */
export function bigrams(text) {
  const chars = [...foldText(text)];
  if (chars.length === 1) return new Set(chars);
  const grams = new Set();
  for (let i = 0; i + 1 < chars.length; i += 1) grams.add(chars[i] + chars[i + 1]);
  return grams;
}

/** How alike two texts are, in [0, 1]: the Dice coefficient of their character bigrams. */
export function similarity(a, b) {
  const x = bigrams(a);
  const y = bigrams(b);
  if (!x.size || !y.size) return 0;
  let shared = 0;
  for (const gram of x) if (y.has(gram)) shared += 1;
  return (2 * shared) / (x.size + y.size);
}

/** Merge targets ranked for `q`: the question the duplicate check named first, then the
 * most similar; ties keep open questions before answered ones, then the newest. Each entry
 * is {question, score}. */
export function rankMergeTargets(candidates, q) {
  const duplicateOf = (q.flags && q.flags.duplicate_of) || "";
  return [...candidates]
    .map((question) => ({ question, score: similarity(q.text, question.text) }))
    .sort((a, b) => (b.question.id === duplicateOf) - (a.question.id === duplicateOf)
      || b.score - a.score
      || (a.question.state === "answered") - (b.question.state === "answered")
      || b.question.created_at - a.question.created_at);
}

/** A template with {item_name} and {item_link} filled in from the question's item (the
 * approved one, else the suggested one); without an item they become empty. */
export function fillTemplate(text, q, items) {
  const id = q.item_id || (q.flags && q.flags.suggested_item) || "";
  const item = items.get(id);
  return text.replaceAll("{item_name}", item ? item.name : "")
    .replaceAll("{item_link}", item ? item.link || "" : "");
}

export const PICKS = 3; // suggested items shown on a pending question, picked with keys 1-3

/** The understanding engine's suggested items of a question, best first, as
 * {id, name, category, confidence} (confidence 0-1, or null when unknown): up to PICKS from
 * `flags.suggested_items`, items no longer in the catalog left out; a question from before
 * the engine has only `flags.suggested_item`. */
export function suggestedItems(q, items) {
  const flags = q.flags || {};
  const listed = Array.isArray(flags.suggested_items) ? flags.suggested_items
    : flags.suggested_item ? [{ id: flags.suggested_item, confidence: null }] : [];
  const out = [];
  for (const entry of listed) {
    const item = entry && items.get(entry.id);
    if (!item || out.some((s) => s.id === item.id)) continue;
    const confidence = typeof entry.confidence === "number" ? entry.confidence : null;
    out.push({ id: item.id, name: item.name, category: item.category, confidence });
    if (out.length === PICKS) break;
  }
  return out;
}

/** The approve action's fields for picking suggestion `n` (1-based) of a question, keeping
 * a host already chosen; null when there is no such suggestion. */
export function pickFields(q, n, items, host = "") {
  const chosen = suggestedItems(q, items)[n - 1];
  if (!chosen) return null;
  const fields = { category: chosen.category, item_id: chosen.id };
  if (host) fields.host_id = host;
  return fields;
}

/** A confidence as the console shows it: "82%", or "" when unknown. */
export function confidenceText(confidence) {
  return typeof confidence === "number" ? `${Math.round(confidence * 100)}%` : "";
}

export const FLAG_LABELS = {
  pii: "含个人信息", held: "命中屏蔽词", duplicate: "疑似重复", suggested: "有预选分类",
  noted: "有备注", me_too: "有人也想问",
};

/** Which of FLAG_LABELS' flags a question carries. */
export function flagsOf(q) {
  const flags = q.flags || {};
  const out = new Set();
  if (flags.pii && flags.pii.length) out.add("pii");
  if (flags.held_terms && flags.held_terms.length) out.add("held");
  if (flags.duplicate_of) out.add("duplicate");
  if (flags.suggested_category) out.add("suggested");
  if (flags.notes && flags.notes.length) out.add("noted");
  if (q.me_too > 0) out.add("me_too");
  return out;
}

/** Whether a question passes the console's filters: {text, state, item, flag, host}, each
 * empty for "any". `host` "none" means routed to no host. */
export function matchesFilter(q, filter) {
  if (filter.state && q.state !== filter.state) return false;
  if (filter.item && (q.item_id || (q.flags && q.flags.suggested_item) || "") !== filter.item) return false;
  if (filter.flag && !flagsOf(q).has(filter.flag)) return false;
  if (filter.host && (q.host_id || "none") !== filter.host) return false;
  if (filter.text) {
    const needle = foldText(filter.text);
    if (needle && !foldText(`${q.text} ${q.nickname || ""}`).includes(needle)) return false;
  }
  return true;
}

export const SORTS = { default: "默认顺序", newest: "最新在前", oldest: "最早在前", me_too: "想问人数多的在前" };

/** The list in the chosen order ("default" keeps it: the queue's order, or newest first). */
export function sortQuestions(list, sort) {
  const out = [...list];
  if (sort === "newest") out.sort((a, b) => b.created_at - a.created_at);
  else if (sort === "oldest") out.sort((a, b) => a.created_at - b.created_at);
  else if (sort === "me_too") out.sort((a, b) => b.me_too - a.me_too || a.created_at - b.created_at);
  return out;
}

/** The `questions` field of bulk_approve / bulk_decline: "id:version" pairs. */
export function bulkField(questions) {
  return questions.map((q) => `${q.id}:${q.version}`).join(",");
}

/** The keys of the console, for the handler and the help overlay. */
export const KEYMAP = [
  ["j", "next", "下一个问题"],
  ["k", "previous", "上一个问题"],
  ["a", "approve", "通过（按所选或预选的分类）"],
  ["d", "decline", "拒绝：打开原因"],
  ["m", "merge", "合并：打开按相似度排序的列表"],
  ["r", "reply", "文字回复：打开常用回复"],
  ["e", "edit", "编辑问题文字"],
  ["n", "note", "给主持人写备注"],
  ["p", "pin", "置顶 / 取消置顶（队列中）"],
  ["x", "select", "选中 /取消选中（批量操作）"],
  ["A", "bulk_approve", "批量通过选中的问题"],
  ["D", "bulk_decline", "批量拒绝选中的问题"],
  ["/", "search", "搜索"],
  ["1", "pick_1", "通过，归入第 1 个建议事项"],
  ["2", "pick_2", "通过，归入第 2 个建议事项"],
  ["3", "pick_3", "通过，归入第 3 个建议事项"],
  ["h", "tab_previous", "切换到上一个标签（待审核 / 队列 / 已处理）"],
  ["l", "tab_next", "切换到下一个标签"],
  ["?", "help", "显示 / 隐藏快捷键帮助"],
  ["Escape", "close", "关闭面板或帮助"],
];
const BY_KEY = new Map(KEYMAP.map(([key, command]) => [key, command]));
BY_KEY.set("ArrowDown", "next");
BY_KEY.set("ArrowUp", "previous");

/** The console command for a key press, or "" when the key is not ours. Typing in a field
 * never triggers a command (Escape excepted), nor does a key with Ctrl, Alt or Meta. */
export function keyCommand({ key, ctrlKey, altKey, metaKey }, inField) {
  if (ctrlKey || altKey || metaKey) return "";
  if (inField && key !== "Escape") return "";
  return BY_KEY.get(key) || "";
}

/** The id `delta` places from `current` in `ids`, kept within the list; the first when
 * `current` is not in it. */
export const TABS = ["pending", "queue", "done"];

/** The tab `delta` places from `tab`, going round. */
export function stepTab(tab, delta) {
  const index = Math.max(0, TABS.indexOf(tab));
  return TABS[(index + delta + TABS.length) % TABS.length];
}

export function stepSelection(ids, current, delta) {
  if (!ids.length) return "";
  const index = ids.indexOf(current);
  if (index < 0) return ids[0];
  return ids[Math.max(0, Math.min(ids.length - 1, index + delta))];
}

// --- the queue: drag and drop -----------------------------------------------------------------

/** The "move" fields that drop `draggedId` just above (`above`) or below `targetId` in the
 * queue (queue order), or null when that is where it already is, or when the drop would cross
 * between pinned and unpinned questions (pinned ones always stay first). */
export function dropMoveFields(queued, draggedId, targetId, above) {
  if (draggedId === targetId) return null;
  const dragged = queued.find((q) => q.id === draggedId);
  const target = queued.find((q) => q.id === targetId);
  if (!dragged || !target || Boolean(dragged.pinned) !== Boolean(target.pinned)) return null;
  const others = queued.filter((q) => q.id !== draggedId);
  const index = others.indexOf(target) + (above ? 0 : 1);
  if (queued.indexOf(dragged) === index) return null;
  const before = others[index];
  return before ? { before: before.id } : {};
}
