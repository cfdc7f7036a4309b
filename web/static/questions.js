// What the consoles and the live page decide about questions, without the DOM
// (tests/js/questions.test.js): the queue order, the moderation console's tabs, state
// labels, the fields of a staff action, the retry of an action refused only because counters
// moved, and who is restricted now.

import { clock } from "./format.js";

/** States a question can still be acted on in, and the states that end it. */
export const OPEN = new Set(["pending", "queued", "on_air"]);
export const FINAL = new Set(["answered", "replied", "merged", "declined", "carried"]);
/** What the public view of a broadcast holds (the rest only its asker sees). */
export const PUBLIC_STATES = new Set(["queued", "on_air", "answered"]);

export const STATE_LABELS = {
  pending: "等待审核", queued: "已进入队列", on_air: "正在直播", answered: "已在直播中解答",
  replied: "已文字回复", merged: "已合并", declined: "未采用", carried: "已转到下一场直播",
};

export const PII_LABELS = {
  id_number: "已隐去身份证号", mobile: "已隐去手机号", plate: "已隐去车牌号",
  landline: "已隐去固定电话", bank_card: "已隐去银行卡号", email: "已隐去电子邮箱",
  licence_file: "已隐去驾驶证档案编号", vin: "已隐去车架号", name: "已隐去姓名",
};

/** A masked kind of personal data, as the badge on a moderator's card says it. */
export function piiLabel(kind) {
  return PII_LABELS[kind] || `已隐去${kind}`;
}

/** Where a queued question stands among the unpinned: its position, lifted one place per
 * "me too" when the session's me_too_raises is on (moderation/questions.py `rank`). */
export function rank(q, raises = false) {
  return raises ? q.position - (q.me_too || 0) : q.position;
}

/** The queue order of docs/protocol.md: pinned first, then rank, then age. */
export function queueOrder(questions, raises = false) {
  return questions
    .filter((q) => q.state === "queued")
    .sort((a, b) => (Number(b.pinned) - Number(a.pinned)) || (rank(a, raises) - rank(b, raises))
      || (a.created_at - b.created_at) || (a.id < b.id ? -1 : a.id > b.id ? 1 : 0));
}

/** The moderation console's three tabs: pending (newest first), the queue (on air first,
 * then queue order) and done (last changed first). */
export function moderationGroups(questions, raises = false) {
  const all = [...questions];
  const pending = all.filter((q) => q.state === "pending").sort((a, b) => b.created_at - a.created_at);
  const onAir = all.filter((q) => q.state === "on_air");
  const queue = [...onAir, ...queueOrder(all, raises)];
  const done = all.filter((q) => FINAL.has(q.state)).sort((a, b) => b.updated_at - a.updated_at);
  return { pending, queue, done };
}

/** Where a list's place `id` went after the list changed: `id` itself when it is still in
 * `present` (a Map id -> index in the new list), else the first id after it in `before` (the
 * list as it was) that is still present, else the last one before it; "" when none is. A
 * card leaving the list hands the cursor (or the window's top) to the question that took its
 * place, whatever arrived above it meanwhile. */
export function successor(before, id, present) {
  if (!id) return "";
  if (present.has(id)) return id;
  const at = before.indexOf(id);
  if (at < 0) return "";
  for (let i = at + 1; i < before.length; i += 1) if (present.has(before[i])) return before[i];
  for (let i = at - 1; i >= 0; i -= 1) if (present.has(before[i])) return before[i];
  return "";
}

/** A moderator card's state tag: the queue place of a queued question, else its state. */
export function cardStateLabel(q, index) {
  return q.state === "queued" && index >= 0 ? `队列第 ${index + 1} 位` : STATE_LABELS[q.state] || q.state;
}

/** Questions `q` may be merged into: open ones first, then answered; newest first in each. */
export function mergeTargets(questions, q) {
  return [...questions]
    .filter((x) => x.id !== q.id && (OPEN.has(x.state) || x.state === "answered"))
    .sort((a, b) => (a.state === "answered") - (b.state === "answered") || b.created_at - a.created_at);
}

/** The "move" fields that lift queued[index] one place, or null when it is first. */
export function moveUpFields(queued, index) {
  if (index <= 0) return null;
  return { before: queued[index - 1].id };
}

/** The "move" fields that drop queued[index] one place (to the end: no "before"), or null
 * when it is last. */
export function moveDownFields(queued, index) {
  if (index < 0 || index >= queued.length - 1) return null;
  const after = queued[index + 2];
  return after ? { before: after.id } : {};
}

/** The "approve" fields from the console's choices, or null when no category is chosen. */
/** What approving `q` would file it under: the moderator's own choices in `values` (a key
 * left undefined means "not chosen"), else what the question already has, else the engine's
 * suggestion. Nothing is written back, so a suggestion that arrives later still counts. */
export function approveValues(values, q) {
  const flags = q.flags || {};
  return {
    category: values.category ?? (q.category || flags.suggested_category || ""),
    item: values.item ?? (q.item_id || flags.suggested_item || ""),
    host: values.host ?? (q.host_id || ""),
  };
}

export function approveFields(values) {
  if (!values.category) return null;
  const fields = { category: values.category };
  if (values.item) fields.item_id = values.item;
  if (values.host) fields.host_id = values.host;
  return fields;
}

/** A restriction still in force at `nowMs`: a ban, or a timeout that has not run out. */
export function activeRestriction(restrictions, viewerId, nowMs) {
  const r = restrictions.get(viewerId);
  if (!r) return null;
  if (r.kind === "timeout" && r.until * 1000 <= nowMs) return null;
  return r;
}

export function restrictionText(r) {
  return r.kind === "ban" ? "提问者已被封禁" : `提问者已被禁言至 ${clock(r.until)}`;
}

/** The question asking to confirm a restriction of `nickname`'s asker. */
export function restrictConfirmText(nickname, kind, minutes) {
  const who = nickname ? `“${nickname}”` : "这位提问者";
  return kind === "ban" ? `确定封禁${who}？封禁后将不能再提问。` : `确定将${who}禁言 ${minutes} 分钟？`;
}

/** The "restrict" fields: a ban, or a timeout of `minutes`. */
export function restrictFields(viewerId, kind, minutes) {
  const fields = { viewer_id: viewerId, kind };
  if (kind === "timeout") fields.minutes = minutes;
  return fields;
}

// Fields of a question that change without anyone deciding anything: "me too" clicks (and
// merges into it) bump the stored version too, so a staff action quoting the version from
// just before such a click is refused with "conflict" although nothing that matters changed.
const COUNT_FIELDS = new Set(["me_too", "merged_count", "version", "updated_at"]);

/** True when `current` differs from `seen` only in counters (and so in version). */
export function onlyCountsChanged(seen, current) {
  if (!seen || !current || seen.id !== current.id) return false;
  const names = new Set([...Object.keys(seen), ...Object.keys(current)]);
  for (const name of names) {
    if (COUNT_FIELDS.has(name)) continue;
    if (JSON.stringify(seen[name]) !== JSON.stringify(current[name])) return false;
  }
  return true;
}

/**
 * Send a staff action on question `q` through `socket` (anything with request(type,
 * fields) returning a promise), quoting its version. A "conflict" caused only by counters
 * moving is retried once with the current version; any other refusal rejects. `onCurrent`
 * hears of every question as the server says it is now.
 */
export function questionAction(socket, q, type, fields, onCurrent) {
  const send = (version) => socket.request(type, { question_id: q.id, version, ...fields });
  return send(q.version).catch((err) => {
    if (err.code !== "conflict" || !err.current) throw err;
    if (onCurrent) onCurrent(err.current);
    if (!onlyCountsChanged(q, err.current)) throw err;
    return send(err.current.version).catch((again) => {
      if (again.code === "conflict" && again.current && onCurrent) onCurrent(again.current);
      throw again;
    });
  });
}

// --- the viewer's page ----------------------------------------------------------------------

/** The queue a viewer sees: the public queue plus their own queued questions. */
export function viewerQueue(questions, mine, raises = false) {
  const all = new Map(questions);
  for (const q of mine.values()) {
    if (q.state === "queued" && !all.has(q.id)) all.set(q.id, q);
  }
  return queueOrder([...all.values()], raises);
}

/** The hint under the live page's queue: what decides the order, truthfully in both modes. */
export function queueHint(session) {
  return session.me_too_raises
    ? "和你想问的一样？点“我也想问”：想问的人越多，问题在队列中越靠前（置顶的问题除外）。"
    : "和你想问的一样？点“我也想问”，让主持人知道有多少人关心。队列顺序由审核员安排。";
}

/** Answered questions, last answered first. */
export function answeredOrder(questions) {
  return [...questions].filter((q) => q.state === "answered").sort((a, b) => b.answered_at - a.answered_at);
}

/** The state line under one of the viewer's own questions. */
export function myStateText(q, queue) {
  switch (q.state) {
    case "queued": {
      const index = queue.findIndex((x) => x.id === q.id);
      return index >= 0 ? `已进入队列（第 ${index + 1} 位）` : "已进入队列";
    }
    case "merged":
      return "已合并到相同问题";
    default:
      return q.state_label || q.state;
  }
}

/** Asks stored locally but not yet among the viewer's questions (still being sent). */
export function unsentAsks(pending, mine) {
  const sent = new Set([...mine.values()].map((q) => q.client_id));
  return pending.filter((p) => !sent.has(p.client_id));
}

/** Why the viewer cannot ask, or "" when they can. */
export function askClosedReason(session, blocked) {
  if (session.status === "ended") return "本场直播已结束，提问已关闭。";
  if (blocked === "banned") return "你已被禁止在本直播间提问。";
  return "";
}

/** The note under the live page's title. */
export function sessionNote(session) {
  if (session.status === "scheduled") return "直播尚未开始，欢迎先提问，开播后民警会按顺序解答。";
  if (session.status === "ended") return "本场直播已结束，感谢关注。";
  if (session.slow_mode_seconds) return `慢速模式已开启：每 ${session.slow_mode_seconds} 秒可提问一次。`;
  return "";
}

// --- the host console -----------------------------------------------------------------------

/** The question on air: with `host`, that host's (session.on_air_ids), else the one put on
 * air last (on_air_id); failing that any question on air (the session event may arrive
 * after the question's). */
export function onAirQuestion(session, questions, host) {
  if (host !== undefined && host !== null) {
    const own = questions.get((session.on_air_ids || {})[host]);
    return own && own.state === "on_air" ? own : null;
  }
  const id = session.on_air_id;
  const q = id ? questions.get(id) : null;
  if (q && q.state === "on_air") return q;
  return [...questions.values()].find((x) => x.state === "on_air") || null;
}

/** Every question on air (one per host), each with its host ("" for none), in the order they
 * went on air; questions on air the session's pointers do not name yet come last. */
export function onAirList(session, questions) {
  const list = [];
  const seen = new Set();
  for (const [host, id] of Object.entries(session.on_air_ids || {})) {
    const q = questions.get(id);
    if (q && q.state === "on_air" && !seen.has(id)) {
      list.push({ host, question: q });
      seen.add(id);
    }
  }
  for (const q of questions.values()) {
    if (q.state === "on_air" && !seen.has(q.id)) list.push({ host: q.host_id || "", question: q });
  }
  return list;
}
