// The host console: the question on air in large type, with 已解答 / 退回队列, and the next
// questions in queue order with 上直播 / 跳过. State comes from the staff websocket.
// With several hosts each has one question on air of their own: each sees their own air and
// queue (questions routed to them or to no host), and what the others have on air and queued;
// an admin (not one of the session's hosts) sees every question on air and every question.
// The notes staff attach to a question show beside it.

import { LiveSocket, el, readJson, showStatus, frameScheduler } from "./socket.js";
import { clock } from "./format.js";
import { onAirList, queueOrder, questionAction } from "./questions.js";
import { showIngestBadge } from "./ingest.js";
import { focusPlace, restoreFocus } from "./focus.js";

const root = document.getElementById("console");
const sessionId = root.dataset.sessionId;
const me = root.dataset.me;
const CATALOG = readJson("catalog-data", { categories: [], items: [] });
const STATUS_LABELS = readJson("status-labels", {});
const HOSTS = readJson("hosts-data", []);
const HOST_NAMES = new Map(HOSTS.map((h) => [h.id, h.name]));
// A host of this session sees their own queue; anyone else (an admin) sees every question.
const MINE_ONLY = HOST_NAMES.has(me);
const ITEMS = new Map(CATALOG.items.map((item) => [item.id, item]));
const SHOWN = 15; // queued questions listed

const $ = (id) => document.getElementById(id);
const dom = {
  title: $("session-title"), status: $("session-status"), note: $("session-note"),
  connection: $("connection"), air: $("air"), airError: $("air-error"), ingest: $("ingest-badge"),
  queue: $("queue"), queueEmpty: $("queue-empty"), queueCount: $("queue-count"),
  others: $("other-queues"), othersAir: $("others-air"), othersAirBlock: $("others-air-block"), queueRule: $("queue-rule"),
};

const state = {
  session: { status: "", on_air_id: "", on_air_ids: {} },
  questions: new Map(),
  synced: false,
  busy: new Set(), // question ids with an action in flight
  errors: new Map(), // question id -> refusal message
  // Where the focus goes once an action is done: "air" (the question just put on air) or
  // "next" (the next question of the queue, after the one on air was answered or requeued).
  focusAfter: null, // {kind, id}
};

const socket = new LiveSocket(`/ws/staff/${encodeURIComponent(sessionId)}`, {
  onStatus: (status) => showStatus(dom.connection, status),
  onSnapshot: (frame) => {
    state.session = frame.session;
    state.questions = new Map(frame.questions.map((q) => [q.id, q]));
    state.synced = true;
    showIngestBadge(dom.ingest, frame.ingest);
    scheduleRender();
  },
  onEvent: (frame) => {
    if (frame.kind === "question") state.questions.set(frame.question.id, frame.question);
    else if (frame.kind === "ingest") showIngestBadge(dom.ingest, frame.ingest);
    else if (frame.kind === "session") {
      if (JSON.stringify(frame.session.on_air_ids) !== JSON.stringify(state.session.on_air_ids)) {
        // The air changed hands: earlier refusals ("air_busy") no longer apply.
        state.errors.clear();
        dom.airError.hidden = true;
      }
      state.session = frame.session;
    }
    scheduleRender();
  },
});

function act(q, type) {
  state.busy.add(q.id);
  state.errors.delete(q.id);
  dom.airError.hidden = true;
  scheduleRender();
  const current = (fresher) => state.questions.set(fresher.id, fresher);
  questionAction(socket, q, type, {}, current).then(() => {
    state.busy.delete(q.id);
    if (type === "on_air") state.focusAfter = { kind: "air", id: q.id };
    else if (type === "answered" || type === "requeue") state.focusAfter = { kind: "next", id: q.id };
    scheduleRender();
  }, (err) => {
    state.busy.delete(q.id);
    state.errors.set(q.id, err.message);
    if (type === "answered" || type === "requeue") {
      dom.airError.textContent = err.message;
      dom.airError.hidden = false;
    }
    scheduleRender();
  });
}

const scheduleRender = frameScheduler(() => render());

function render() {
  renderSession();
  const airPlace = focusPlace(dom.air);
  renderAir();
  restoreFocus(dom.air, airPlace, $("air-title"));
  const queuePlace = focusPlace(dom.queue);
  renderQueue();
  restoreFocus(dom.queue, queuePlace, $("next-title"));
  moveFocusAfterAction();
}

/** After an action, once its result is on screen (the ack may come before the event). */
function moveFocusAfterAction() {
  const after = state.focusAfter;
  if (!after) return;
  const shown = dom.air.querySelector(`[data-focus-key="${CSS.escape(after.id)}"]`);
  if (after.kind === "air") {
    if (!shown) return;
    const answered = shown.querySelector("button");
    (answered && !answered.disabled ? answered : shown).focus();
  } else {
    if (shown) return;
    const next = dom.queue.querySelector("button.go-air");
    if (next && !next.disabled) next.focus();
    else $("next-title").focus();
  }
  state.focusAfter = null;
}

function renderSession() {
  const s = state.session;
  if (!s.status) return;
  dom.title.textContent = s.title;
  dom.status.textContent = STATUS_LABELS[s.status] || s.status;
  dom.status.className = `tag status-${s.status}`;
  dom.note.textContent = s.status === "scheduled" ? "直播尚未开始：可以先看看队列里的问题。"
    : s.status === "ended" ? "本场直播已结束。" : "";
}

function details(q) {
  const item = ITEMS.get(q.item_id);
  const bits = [];
  if (q.category) bits.push(el("span", { class: "badge category" }, q.category));
  if (q.item_id) bits.push(el("span", { class: "badge item" }, item ? item.name : q.item_name || q.item_id));
  bits.push(el("span", { class: "me-too-count" }, `${q.me_too || 0} 人也想问`));
  if (q.merged_count) bits.push(el("span", { class: "merged-count" }, `合并了 ${q.merged_count} 个相同问题`));
  if (q.nickname) bits.push(el("span", { class: "hint" }, `提问：${q.nickname}`));
  if (q.host_id && q.host_id === me) bits.push(el("span", { class: "badge assigned" }, "指定由你解答"));
  else if (q.host_id) bits.push(el("span", { class: "badge" }, `指定：${HOST_NAMES.get(q.host_id) || "其他主持人"}`));
  return bits;
}

/** The notes the moderators and experts attached to a question (staff only). */
function notesList(q) {
  const notes = (q.flags && q.flags.notes) || [];
  if (!notes.length) return null;
  return el("ul", { class: "notes", "aria-label": "备注" }, ...notes.map((n) =>
    el("li", {}, n.text, el("span", { class: "note-by" }, `— ${n.by} ${clock(n.at)}`))));
}

/** What is on air, split into this console's own (a host's: theirs; an admin's: every one)
 * and the other hosts'. */
function airs() {
  const all = onAirList(state.session, state.questions);
  if (!MINE_ONLY) return { own: all, others: [] };
  return { own: all.filter((a) => a.host === me), others: all.filter((a) => a.host !== me) };
}

function hostName(id) {
  return id ? HOST_NAMES.get(id) || "其他主持人" : "未指定主持人";
}

function renderAir() {
  if (!state.synced) return;
  const { own, others } = airs();
  dom.othersAir.replaceChildren(...others.map(({ host, question }) => el("li", {},
    el("span", { class: "badge" }, hostName(host)), " ", question.text)));
  dom.othersAirBlock.hidden = others.length === 0;
  if (!own.length) {
    const hint = state.session.status === "ended" ? "本场直播已结束。"
      : "现在没有问题在直播。从右侧队列选一个“上直播”。";
    dom.air.replaceChildren(el("p", { class: "air-empty" }, hint));
    return;
  }
  dom.air.replaceChildren(...own.map(({ host, question: q }) => {
    const busy = state.busy.has(q.id);
    return el("article", {
      class: "air-question", tabindex: "-1", dataset: { questionId: q.id, focusKey: q.id },
    },
      !MINE_ONLY && HOSTS.length > 1 ? el("p", { class: "air-host" }, hostName(host)) : null,
      el("p", { class: "air-text" }, q.text),
      el("p", { class: "air-meta" }, ...details(q)),
      notesList(q),
      el("div", { class: "air-actions" },
        el("button", { type: "button", class: "big answered", disabled: busy, onclick: () => act(q, "answered") }, "已解答"),
        el("button", { type: "button", class: "big secondary", disabled: busy, onclick: () => act(q, "requeue") }, "退回队列")));
  }));
}

function renderQueue() {
  const all = queueOrder([...state.questions.values()], Boolean(state.session.me_too_raises));
  dom.queueRule.textContent = state.session.me_too_raises
    ? "顺序：置顶的在前，其余按审核员的安排，“也想问”的人越多越靠前。"
    : "顺序：置顶的在前，其余按审核员的安排（“也想问”人数仅供参考）。";
  const queue = MINE_ONLY ? all.filter((q) => !q.host_id || q.host_id === me) : all;
  const others = new Map();
  for (const q of all) {
    if (q.host_id && q.host_id !== me && MINE_ONLY) others.set(q.host_id, (others.get(q.host_id) || 0) + 1);
  }
  dom.others.textContent = [...others].map(([id, n]) => `${HOST_NAMES.get(id) || "其他主持人"}的队列：${n} 个`).join("；");
  dom.others.hidden = others.size === 0;
  const shown = queue.slice(0, SHOWN);
  dom.queue.replaceChildren(...shown.map((q, i) => {
    const busy = state.busy.has(q.id);
    const error = state.errors.get(q.id);
    return el("li", {
      class: "host-item", tabindex: "-1", dataset: { questionId: q.id, focusKey: q.id },
    },
      el("span", { class: "queue-number" }, String(i + 1)),
      el("div", { class: "host-item-body" },
        el("p", { class: "host-text" }, q.text),
        el("p", { class: "air-meta" }, q.pinned ? el("span", { class: "badge pinned" }, "置顶") : null, ...details(q)),
        notesList(q),
        error ? el("p", { class: "inline-error", role: "alert" }, error) : null),
      el("div", { class: "host-item-actions" },
        el("button", { type: "button", class: "go-air", disabled: busy, onclick: () => act(q, "on_air") }, "上直播"),
        el("button", { type: "button", class: "secondary", disabled: busy, onclick: () => act(q, "skip") }, "跳过")));
  }));
  dom.queueEmpty.hidden = queue.length > 0 || !state.synced;
  dom.queueCount.textContent = queue.length > SHOWN ? `（共 ${queue.length} 个，显示前 ${SHOWN} 个）`
    : queue.length ? `（${queue.length}）` : "";
}

socket.start();
render();
