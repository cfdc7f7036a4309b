// The moderation console: incoming questions, triage actions, the queue, slow mode and
// restricting askers. State comes from the staff websocket (socket.js); every action quotes
// the question's version, and a "conflict" refusal brings the question as it is now.
// Search, filters, sorting, keys and bulk actions: triage.js decides, this file wires them.
// Only `state.limit` cards of a list are in the page, from the window's top card on: the
// first card, until the keyboard cursor anchors the window (new questions then arrive above
// it, counted on a button, instead of pushing it down); the window grows on
// demand), and a card is rebuilt only when what it shows has changed, so a busy session
// with thousands of pending questions stays responsive.

import { LiveSocket, el, readJson, showStatus, frameScheduler } from "./socket.js";
import { clock, truncate } from "./format.js";
import {
  OPEN, STATE_LABELS, activeRestriction, approveFields, approveValues, cardStateLabel, mergeTargets as mergeChoices,
  moderationGroups, moveDownFields, moveUpFields, onAirList, piiLabel, questionAction,
  restrictConfirmText, restrictFields, restrictionText, successor,
} from "./questions.js";
import { showIngestBadge } from "./ingest.js";
import {
  FLAG_LABELS, KEYMAP, SORTS, bulkField, confidenceText, fillTemplate, keyCommand, matchesFilter,
  dropMoveFields, pickFields, rankMergeTargets, sortQuestions, stepSelection, stepTab, suggestedItems,
} from "./triage.js";
import { focusPlace, restoreFocus } from "./focus.js";

const root = document.getElementById("console");
const sessionId = root.dataset.sessionId;
const CATALOG = readJson("catalog-data", { categories: [], items: [] });
const REASONS = readJson("reasons-data", []);
const REPLIES = readJson("replies-data", []);
const ROLE = root.dataset.role;
const TRIAGE = ROLE !== "expert"; // experts read and pass notes; they do not triage
const WINDOW = 100; // cards added to the page at a time
const HOSTS = readJson("hosts-data", []);
const STATUS_LABELS = readJson("status-labels", {});
const ITEMS = new Map(CATALOG.items.map((item) => [item.id, item]));
const HOST_NAMES = new Map(HOSTS.map((h) => [h.id, h.name]));

const $ = (id) => document.getElementById(id);
const dom = {
  title: $("session-title"), status: $("session-status"), connection: $("connection"),
  ingest: $("ingest-badge"),
  slowMode: $("slow-mode"), controlsError: $("controls-error"), onAirSummary: $("on-air-summary"),
  meTooRaises: $("me-too-raises"), queueRule: $("queue-rule"),
  list: $("list"), empty: $("list-empty"), panel: $("list-panel"),
  restrictionsCard: $("restrictions-card"), restrictions: $("restrictions"),
  search: $("filter-text"), filterState: $("filter-state"), filterItem: $("filter-item"),
  filterFlag: $("filter-flag"), filterHost: $("filter-host"), sort: $("sort"),
  shownCount: $("shown-count"), more: $("show-more"), above: $("show-above"), help: $("help"), helpKeys: $("help-keys"),
  bulkBar: $("bulk-bar"), selectAll: $("select-all"), selectedCount: $("selected-count"),
  bulkReason: $("bulk-reason"), bulkStatus: $("bulk-status"),
};

const state = {
  session: { status: "", on_air_id: "", slow_mode_seconds: 0 },
  questions: new Map(),
  restrictions: new Map(), // viewer_id -> restriction
  tab: "pending",
  synced: false,
  highlight: null, // {target, from}: "merge the duplicate `from` into `target`?"
  filter: { text: "", state: "", item: "", flag: "", host: "" },
  sort: "default",
  limit: WINDOW, // cards in the page
  topId: "", // the window's first card (while the cursor anchors it)
  start: 0, // its index in the filtered list
  current: "", // the keyboard cursor: a question id
  cursorAt: 0, // its index in the filtered list at the last render
  selected: new Set(), // question ids chosen for a bulk action
  shownIds: [], // the filtered list's ids, in order (for j/k)
  // A panel just opened or closed: {id, open: name} focuses its first field, {id, close: name}
  // gives the focus back to the button that opened it.
  focusPanel: null,
};
// Per-question console state that survives re-renders: the open panel, chosen values, errors.
const uiState = new Map();
const cards = new Map(); // question id -> {node, sig}
const fresh = new Set(); // questions that arrived after the first snapshot (for a highlight)

function ui(id) {
  let entry = uiState.get(id);
  if (!entry) {
    entry = { panel: "", error: "", busy: false, values: {} };
    uiState.set(id, entry);
  }
  return entry;
}

// --- socket ---------------------------------------------------------------------------------

const socket = new LiveSocket(`/ws/staff/${encodeURIComponent(sessionId)}`, {
  onStatus: (status) => showStatus(dom.connection, status),
  onSnapshot: (frame) => {
    state.session = frame.session;
    state.questions = new Map(frame.questions.map((q) => [q.id, q]));
    state.restrictions = new Map((frame.restrictions || []).map((r) => [r.viewer_id, r]));
    state.synced = true;
    showIngestBadge(dom.ingest, frame.ingest);
    scheduleRender();
    fetchRest(frame.next);
  },
  onEvent: (frame) => {
    if (frame.kind === "question") {
      const q = frame.question;
      if (state.synced && !state.questions.has(q.id)) {
        fresh.add(q.id);
        setTimeout(() => fresh.delete(q.id), 4000);
      }
      state.questions.set(q.id, q);
    } else if (frame.kind === "session") {
      state.session = frame.session;
    } else if (frame.kind === "ingest") {
      showIngestBadge(dom.ingest, frame.ingest);
    } else if (frame.kind === "restriction") {
      const r = frame.restriction;
      if (r.kind === "none") state.restrictions.delete(r.viewer_id);
      else state.restrictions.set(r.viewer_id, r);
    }
    scheduleRender();
  },
});

/** The rest of a long session's questions, page after page, after the snapshot's first
 * (docs/protocol.md). A question already newer from an event is kept. */
function fetchRest(after) {
  if (!after) return;
  socket.request("questions", { after }).then((page) => {
    for (const q of page.questions) {
      const have = state.questions.get(q.id);
      if (!have || have.version < q.version) state.questions.set(q.id, q);
    }
    scheduleRender();
    fetchRest(page.next);
  }, () => {}); // a dropped connection resumes with a new snapshot, which pages again
}

/** Send a question action; shows the refusal on the question's card. */
function act(q, type, fields = {}) {
  state.selected.delete(q.id);
  const entry = ui(q.id);
  entry.busy = true;
  entry.error = "";
  scheduleRender();
  const current = (fresher) => state.questions.set(fresher.id, fresher);
  return questionAction(socket, q, type, fields, current).then((ack) => {
    entry.busy = false;
    entry.panel = "";
    entry.values = {};
    scheduleRender();
    return ack;
  }, (err) => {
    entry.busy = false;
    entry.error = err.message;
    scheduleRender();
    return null;
  });
}

// --- rendering ------------------------------------------------------------------------------

const scheduleRender = frameScheduler(() => render());

function groups() {
  return moderationGroups(state.questions.values(), Boolean(state.session.me_too_raises));
}

function render() {
  renderSession();
  const g = groups();
  for (const [name, list] of Object.entries(g)) {
    const badge = document.querySelector(`[data-count="${name}"]`);
    if (badge) setText(badge, String(list.length));
  }
  for (const tab of document.querySelectorAll("[role=tab]")) {
    tab.setAttribute("aria-selected", tab.dataset.tab === state.tab ? "true" : "false");
    tab.tabIndex = tab.dataset.tab === state.tab ? 0 : -1;
  }
  dom.panel.setAttribute("aria-labelledby", `tab-${state.tab}`);
  dom.queueRule.hidden = state.tab !== "queue";
  const shown = sortQuestions(g[state.tab].filter((q) => matchesFilter(q, state.filter)), state.sort);
  const before = state.shownIds;
  state.shownIds = shown.map((q) => q.id);
  const index = new Map(state.shownIds.map((id, i) => [id, i]));
  if (state.current && !index.has(state.current)) {
    // The question under the cursor left the list (approved, declined…): the cursor stays in
    // its place, on the question that followed it, whatever arrived above meanwhile
    // (restoreFocus below moves the focus the same way); after a tab switch, the same index.
    state.current = successor(before, state.current, index)
      || state.shownIds[Math.min(state.cursorAt, state.shownIds.length - 1)] || "";
  }
  const at = state.current ? index.get(state.current) : -1;
  state.cursorAt = Math.max(at, 0);
  // The window's top card left too: the window stays where it was, from the card that took
  // its place (a jump to the top would rebuild the window from the newest questions).
  let start = state.current ? index.get(successor(before, state.topId, index)) ?? 0 : 0;
  if (at >= 0 && at < start) start = at;
  if (at >= start + state.limit) start = at - state.limit + 1;
  state.topId = state.shownIds[start] || "";
  state.start = start;
  const queued = g.queue.filter((q) => q.state === "queued");
  const places = new Map(queued.map((q, i) => [q.id, i]));
  // A card that is rebuilt or leaves the list (approved, declined…) would drop the focus to
  // the page: it stays on the card, or goes to the next question in its place.
  const place = focusPlace(dom.list);
  const nodes = shown.slice(start, start + state.limit).map((q) => card(q, queued, places));
  // Take out the cards that left first, then move only what is out of place: a card leaving
  // the top must not move every card below it (each move costs a style and layout pass), and
  // a card being typed in keeps its focus.
  const keep = new Set(nodes);
  for (const child of [...dom.list.children]) if (!keep.has(child)) child.remove();
  nodes.forEach((node, i) => {
    if (dom.list.children[i] !== node) dom.list.insertBefore(node, dom.list.children[i] || null);
  });
  const left = place !== null && !nodes.some((node) => node.dataset.focusKey === place.key);
  restoreFocus(dom.list, place, dom.panel);
  if (left) {
    // The focused card left (approved, declined…) and the focus went on to the question in
    // its place: the keyboard cursor goes with it.
    const focused = document.activeElement.closest("#list > [data-focus-key]");
    if (focused) state.current = focused.dataset.focusKey;
  }
  markCurrent();
  focusPanel();
  dom.empty.hidden = nodes.length > 0;
  const below = shown.length - start - state.limit;
  dom.more.hidden = below <= 0;
  setText(dom.more, `再显示 ${Math.min(WINDOW, below)} 条（共 ${shown.length} 条）`);
  dom.above.hidden = start === 0;
  setText(dom.above, `上方还有 ${start} 个问题，点击显示`);
  setText(dom.shownCount, shown.length === g[state.tab].length ? `共 ${shown.length} 条`
    : `筛选出 ${shown.length} / ${g[state.tab].length} 条`);
  renderBulk(shown);
  setText(dom.empty, !state.synced ? "正在加载…"
    : { pending: "没有待审核的问题。", queue: "队列是空的。", done: "还没有处理过的问题。" }[state.tab]);
  renderRestrictions();
}

/** Write a text only when it changed: every write costs the frame a style and layout pass,
 * and the console renders on every incoming event. */
function setText(node, text) {
  if (node.textContent !== text) node.textContent = text;
}

/** The keyboard cursor: a class and aria-current on one card (not part of its signature, so
 * moving the cursor rebuilds nothing). */
function markCurrent() {
  for (const node of dom.list.querySelectorAll(".mod-card.current")) {
    if (node.dataset.questionId !== state.current) {
      node.classList.remove("current");
      node.removeAttribute("aria-current");
    }
  }
  const known = state.current && cards.get(state.current);
  if (known && known.node.parentNode === dom.list && !known.node.classList.contains("current")) {
    known.node.classList.add("current");
    known.node.setAttribute("aria-current", "true");
  }
}

function renderSession() {
  const s = state.session;
  if (!s.status) return;
  setText(dom.title, s.title);
  setText(dom.status, STATUS_LABELS[s.status] || s.status);
  if (dom.status.className !== `tag status-${s.status}`) dom.status.className = `tag status-${s.status}`;
  const seconds = s.slow_mode_seconds || 0;
  if (![...dom.slowMode.options].some((o) => Number(o.value) === seconds)) {
    dom.slowMode.append(el("option", { value: String(seconds) }, `${seconds} 秒`));
  }
  if (document.activeElement !== dom.slowMode) dom.slowMode.value = String(seconds);
  // One question on air per host: each with its host's name when the session has several.
  setText(dom.onAirSummary, onAirList(s, state.questions).map(({ host, question }) => {
    const who = HOSTS.length > 1 && host ? `（${HOST_NAMES.get(host) || "主持人"}）` : "";
    return `正在直播${who}：${truncate(question.text, 30)}`;
  }).join("；"));
  if (dom.meTooRaises && document.activeElement !== dom.meTooRaises) {
    dom.meTooRaises.checked = Boolean(s.me_too_raises);
  }
  if (dom.queueRule) {
    setText(dom.queueRule, s.me_too_raises
      ? "队列顺序：置顶的在前；其余按审核员排的位置，每多一人“也想问”前移一位。拖动或上移、下移可调整。"
      : "队列顺序：置顶的在前，其余按审核员排的顺序（“也想问”人数只显示，不改变顺序）。拖动或上移、下移可调整。");
  }
}

function restrictionOf(viewerId) {
  return activeRestriction(state.restrictions, viewerId, Date.now());
}

function renderRestrictions() {
  const active = [...state.restrictions.values()].filter((r) => restrictionOf(r.viewer_id));
  dom.restrictionsCard.hidden = active.length === 0;
  if (!active.length && !dom.restrictions.firstChild) return;
  dom.restrictions.replaceChildren(...active.map((r) => el("li", {},
    el("span", {}, r.kind === "ban" ? "封禁" : `禁言至 ${clock(r.until)}`),
    el("span", { class: "hint" }, `观众 ${r.viewer_id.slice(0, 6)}…${r.reason ? ` · ${r.reason}` : ""}${r.by ? ` · ${r.by}` : ""}`),
    el("button", { type: "button", class: "small secondary", onclick: () => unrestrict(r.viewer_id) }, "解除"))));
}

function badges(q) {
  const flags = q.flags || {};
  const out = [];
  for (const kind of flags.pii || []) {
    out.push(el("span", { class: "badge pii" }, piiLabel(kind)));
  }
  if (flags.held_terms && flags.held_terms.length) {
    out.push(el("span", { class: "badge held" }, `命中屏蔽词：${flags.held_terms.join("、")}`));
  }
  if (flags.duplicate_of && OPEN.has(q.state)) {
    const score = flags.duplicate_score ? `（相似度 ${Math.round(flags.duplicate_score * 100)}%）` : "";
    out.push(el("button", {
      type: "button", class: "badge dup", title: "查看原问题",
      onclick: () => showOriginal(q),
    }, `疑似重复${score}`));
  }
  if (flags.understood === false && q.state === "pending") {
    out.push(el("span", { class: "badge suggest" }, "可能不是交管业务问题"));
  }
  if (q.pinned) out.push(el("span", { class: "badge pinned" }, "置顶"));
  const r = restrictionOf(q.viewer_id);
  if (r) out.push(el("span", { class: "badge restricted" }, restrictionText(r)));
  return out;
}

function focusPanel() {
  const request = state.focusPanel;
  state.focusPanel = null;
  const node = request && cards.get(request.id);
  if (!node || !node.node.isConnected) return;
  const target = request.open
    ? node.node.querySelector(".mod-panel select, .mod-panel textarea")
    : node.node.querySelector(`button[data-panel="${request.close}"]`);
  if (target && !target.disabled) target.focus();
}

function card(q, queued, places) {
  const entry = ui(q.id);
  const index = places.has(q.id) ? places.get(q.id) : -1;
  const highlight = state.highlight && state.highlight.target === q.id ? state.highlight : null;
  const selected = state.selected.has(q.id);
  // Only a queued card shows its place (and whether it can move down): a pending card does
  // not change when the queue does.
  const place = q.state === "queued" ? [index, queued.length] : null;
  const sig = JSON.stringify([q, entry.panel, entry.error, entry.busy, place,
    restrictionOf(q.viewer_id), highlight, selected,
    entry.panel === "merge" ? mergeTargets(q).map((x) => [x.id, x.state]) : null]);
  const known = cards.get(q.id);
  if (known && known.sig === sig) return known.node;
  const node = buildCard(q, entry, index, queued, highlight);
  if (known) known.node.replaceWith(node);
  cards.set(q.id, { node, sig });
  return node;
}

function buildCard(q, entry, index, queued, highlight) {
  const stateLabel = cardStateLabel(q, index);
  const item = ITEMS.get(q.item_id);
  const metaBits = [];
  if (q.category) metaBits.push(el("span", { class: "badge category" }, q.category));
  if (q.item_id) metaBits.push(el("span", { class: "badge item" }, item ? item.name : q.item_name || q.item_id));
  if (q.me_too) metaBits.push(el("span", { class: "me-too-count" }, `${q.me_too} 人也想问`));
  if (q.merged_count) metaBits.push(el("span", { class: "merged-count" }, `合并了 ${q.merged_count} 个相同问题`));
  if (q.host_id) metaBits.push(el("span", { class: "hint" }, `指定主持人：${HOST_NAMES.get(q.host_id) || q.host_id}`));

  const classes = ["mod-card", `state-${q.state}`];
  if (fresh.has(q.id)) classes.push("fresh");
  if (highlight) classes.push("highlight");
  const select = TRIAGE && q.state === "pending" ? el("input", {
    type: "checkbox", class: "mod-select", "aria-label": "选中（批量操作）", checked: state.selected.has(q.id),
    onchange: (ev) => toggleSelected(q.id, ev.target.checked),
  }) : null;
  const draggable = TRIAGE && q.state === "queued";
  if (draggable) classes.push("draggable");
  return el("li", {
    class: classes.join(" "), id: `q-${q.id}`, tabindex: "-1",
    dataset: { questionId: q.id, state: q.state, focusKey: q.id },
    draggable: draggable ? "true" : null,
    ondragstart: draggable ? (ev) => dragStart(ev, q) : null,
    ondragover: draggable ? (ev) => dragOver(ev, q) : null,
    ondragleave: draggable ? (ev) => ev.currentTarget.classList.remove("drop-above", "drop-below") : null,
    ondrop: draggable ? (ev) => drop(ev, q) : null,
    ondragend: draggable ? () => dragEnd() : null,
  },
    el("div", { class: "mod-head" }, select,
      el("time", { class: "mod-time" }, clock(q.created_at, true)),
      el("span", { class: "mod-nick" }, q.nickname || "匿名观众"),
      el("span", { class: `tag state-tag state-${q.state}` }, stateLabel),
      ...badges(q)),
    el("p", { class: "mod-text" }, q.text),
    q.state === "pending" ? picks(q, entry) : null,
    metaBits.length ? el("p", { class: "mod-meta" }, ...metaBits) : null,
    notesList(q),
    outcome(q),
    highlight ? mergeOffer(q, highlight) : null,
    actions(q, entry, index, queued),
    panel(q, entry),
    entry.error ? el("p", { class: "inline-error mod-error", role: "alert" }, entry.error) : null);
}

/** The engine's top suggested items on a pending question, each with its confidence; a
 * moderator picks one (its key 1-3, or a click) to approve the question under it. */
function picks(q, entry) {
  const suggested = suggestedItems(q, ITEMS);
  if (!suggested.length) return null;
  const row = el("p", { class: "mod-picks" }, el("span", { class: "hint" }, "建议事项："));
  suggested.forEach((s, n) => {
    const label = [el("kbd", {}, String(n + 1)), ` ${s.name}`];
    const confidence = confidenceText(s.confidence);
    if (confidence) label.push(el("span", { class: "confidence" }, ` ${confidence}`));
    row.append(TRIAGE
      ? el("button", {
        type: "button", class: "small secondary pick", disabled: entry.busy,
        title: `通过，归入“${s.category} · ${s.name}”（按 ${n + 1}）`,
        dataset: { pick: String(n + 1), item: s.id }, onclick: () => pick(q, n + 1),
      }, ...label)
      : el("span", { class: "badge suggest" }, ...label));
  });
  return row;
}

/** Approve `q` under its suggested item `n` (1-based), keeping a host already chosen. */
function pick(q, n) {
  const entry = ui(q.id);
  const host = entry.values.host === undefined ? q.host_id || "" : entry.values.host;
  const fields = pickFields(q, n, ITEMS, host);
  if (!fields) {
    entry.error = `没有第 ${n} 个建议事项。`;
    render();
    return undefined;
  }
  return act(q, "approve", fields).then(focusCurrent);
}

function outcome(q) {
  if (q.state === "replied") return el("p", { class: "outcome" }, "文字回复：", q.reply);
  if (q.state === "declined") return el("p", { class: "outcome" }, "未采用原因：", q.decline_reason);
  if (q.state === "merged") {
    const target = state.questions.get(q.merged_into);
    return el("p", { class: "outcome" }, "已合并到：", target ? truncate(target.text, 40) : q.merged_into);
  }
  return null;
}

function mergeOffer(original, highlight) {
  const duplicate = state.questions.get(highlight.from);
  if (!duplicate || !OPEN.has(duplicate.state)) return null;
  return el("div", { class: "merge-offer" },
    el("span", {}, "疑似重复：", el("q", {}, truncate(duplicate.text, 40))),
    el("button", {
      type: "button", class: "small",
      onclick: () => {
        state.highlight = null;
        act(duplicate, "merge", { into: original.id });
      },
    }, "合并到此"),
    el("button", {
      type: "button", class: "small secondary",
      onclick: () => {
        const from = state.highlight && state.highlight.from;
        state.highlight = null;
        render();
        // Back to the 疑似重复 button that led here.
        const back = from && document.querySelector(`#q-${CSS.escape(from)} button.dup`);
        if (back) back.focus();
      },
    }, "取消"));
}

function showOriginal(q) {
  const original = state.questions.get(q.flags.duplicate_of);
  const entry = ui(q.id);
  if (!original) {
    entry.error = "原问题不在当前列表中。";
    scheduleRender();
    return;
  }
  const g = groups();
  const tab = Object.keys(g).find((name) => g[name].some((x) => x.id === original.id));
  if (tab) state.tab = tab;
  state.highlight = { target: original.id, from: q.id };
  render();
  const node = document.getElementById(`q-${original.id}`);
  if (node) {
    // The offer takes the focus, so a keyboard user lands on 合并到此 / 取消.
    const offer = node.querySelector(".merge-offer button");
    (offer || node).focus({ preventScroll: true });
    node.scrollIntoView({ behavior: "smooth", block: "center" });
  }
}

function button(label, onclick, options = {}) {
  return el("button", {
    type: "button", class: `small ${options.class || "secondary"}`, disabled: options.disabled,
    "aria-expanded": options.panel ? String(options.expanded) : null,
    dataset: options.panel ? { panel: options.panel } : null, onclick,
  }, label);
}

function togglePanel(q, name) {
  const entry = ui(q.id);
  entry.panel = entry.panel === name ? "" : name;
  state.focusPanel = entry.panel ? { id: q.id, open: name } : { id: q.id, close: name };
  entry.error = "";
  scheduleRender();
}

function notesList(q) {
  const notes = (q.flags && q.flags.notes) || [];
  if (!notes.length) return null;
  return el("ul", { class: "notes", "aria-label": "给主持人的备注" }, ...notes.map((n) =>
    el("li", {}, n.text, el("span", { class: "note-by" }, `— ${n.by} ${clock(n.at)}`))));
}

function actions(q, entry, index, queued) {
  const busy = entry.busy;
  const row = el("div", { class: "mod-actions" });
  if (OPEN.has(q.state)) row.append(button("备注", () => togglePanel(q, "note"), { disabled: busy }));
  if (!TRIAGE) return row;
  if (q.state === "pending") row.append(approveForm(q, entry));
  if (q.state === "queued") {
    row.append(
      button(q.pinned ? "取消置顶" : "置顶", () => act(q, "pin", { pinned: !q.pinned }), { disabled: busy }),
      button("上移", () => moveUp(q, index, queued), { disabled: busy || index <= 0 }),
      button("下移", () => moveDown(q, index, queued), { disabled: busy || index < 0 || index >= queued.length - 1 }),
    );
  }
  const toggle = (label, name) => button(label, () => togglePanel(q, name),
    { disabled: busy, panel: name, expanded: entry.panel === name });
  if (OPEN.has(q.state)) row.append(toggle("编辑", "edit"));
  if (q.state === "queued" && HOSTS.length > 1) {
    const choices = [{ id: "", name: "不指定主持人" }, ...HOSTS].filter((h) => h.id !== (q.host_id || ""));
    const move = el("select", { "aria-label": "转给主持人", class: "compact", disabled: busy },
      el("option", { value: "" }, "转给…"),
      ...choices.map((h) => el("option", { value: h.id || "-" }, h.name)));
    move.addEventListener("change", () => {
      if (move.value) act(q, "move_to_host", { host_id: move.value === "-" ? "" : move.value });
    });
    row.append(move);
  }
  if (q.state === "pending" || q.state === "queued") {
    row.append(toggle("合并到…", "merge"), toggle("文字回复", "reply"), toggle("拒绝", "decline"));
  }
  if (q.viewer_id) {
    const restricted = restrictionOf(q.viewer_id);
    const group = el("span", { class: "restrict-group" });
    if (restricted) {
      group.append(button("解除限制", () => unrestrict(q.viewer_id), { disabled: busy }));
    } else {
      group.append(
        button("禁言10分钟", () => restrict(q, "timeout", 10), { class: "warn" }),
        button("禁言60分钟", () => restrict(q, "timeout", 60), { class: "warn" }),
        button("封禁", () => restrict(q, "ban", 0), { class: "danger" }),
      );
    }
    row.append(group);
  }
  return row;
}

function itemOptions(select, category, selected) {
  const items = CATALOG.items.filter((item) => !category || item.category === category);
  select.replaceChildren(el("option", { value: "" }, "（不指定事项）"),
    ...items.map((item) => el("option", { value: item.id, selected: item.id === selected }, item.name)));
  select.value = items.some((item) => item.id === selected) ? selected : "";
}

function approveForm(q, entry) {
  // entry.values holds only what the moderator chose; the rest follows the question and the
  // engine's suggestion, which may arrive after the card was first drawn.
  const values = entry.values;
  const shown = () => approveValues(values, q);
  const start = shown();
  const category = el("select", { "aria-label": "分类", class: "compact" },
    el("option", { value: "" }, "选择分类"),
    ...CATALOG.categories.map((c) => el("option", { value: c, selected: c === start.category }, c)));
  category.value = start.category;
  const item = el("select", { "aria-label": "业务事项", class: "compact" });
  itemOptions(item, start.category, start.item);
  category.addEventListener("change", () => {
    values.category = category.value;
    const current = ITEMS.get(shown().item);
    if (current && current.category !== values.category) values.item = "";
    itemOptions(item, values.category, shown().item);
  });
  item.addEventListener("change", () => {
    values.item = item.value;
    const chosen = ITEMS.get(item.value);
    if (chosen && !shown().category) {
      values.category = chosen.category;
      category.value = chosen.category;
      itemOptions(item, values.category, values.item);
    }
  });
  const form = el("form", { class: "approve-form" }, category, item);
  if (HOSTS.length) {
    const host = el("select", { "aria-label": "指定主持人", class: "compact" },
      el("option", { value: "" }, "不指定主持人"),
      ...HOSTS.map((h) => el("option", { value: h.id, selected: h.id === start.host }, h.name)));
    host.addEventListener("change", () => { values.host = host.value; });
    form.append(host);
  }
  form.append(el("button", { type: "submit", class: "small approve", disabled: entry.busy }, "通过"));
  form.addEventListener("submit", (ev) => {
    ev.preventDefault();
    const fields = approveFields(shown());
    if (!fields) {
      entry.error = "请先选择问题分类。";
      scheduleRender();
      return;
    }
    act(q, "approve", fields);
  });
  return form;
}

function mergeTargets(q) {
  return rankMergeTargets(mergeChoices(state.questions.values(), q), q);
}

function panel(q, entry) {
  const values = entry.values;
  const cancel = button("取消", () => togglePanel(q, entry.panel));
  switch (entry.panel) {
    case "edit": {
      if (values.text === undefined) values.text = q.text;
      const area = el("textarea", { rows: 3, "aria-label": "修改问题文字", maxlength: 300 });
      area.value = values.text;
      area.addEventListener("input", () => { values.text = area.value; });
      return panelForm("修改问题文字（仅去掉不当内容，尽量保留原意）", [area],
        "保存修改", () => act(q, "edit", { text: values.text }), cancel, entry);
    }
    case "merge": {
      const ranked = mergeTargets(q);
      const targets = ranked.map((r) => r.question);
      if (values.into === undefined) values.into = (q.flags && q.flags.duplicate_of) || (targets[0] ? targets[0].id : "");
      const select = el("select", { "aria-label": "合并到" },
        el("option", { value: "" }, "选择相同的问题（相似的在前）"),
        ...ranked.map(({ question: x, score }) => el("option", { value: x.id, selected: x.id === values.into },
          `${Math.round(score * 100)}% [${STATE_LABELS[x.state]}] ${truncate(x.text, 50)}`)));
      select.value = targets.some((x) => x.id === values.into) ? values.into : "";
      select.addEventListener("change", () => { values.into = select.value; });
      return panelForm("合并到相同的问题（提问者会看到合并结果）", [select], "合并", () => {
        if (!select.value) {
          entry.error = "请选择要合并到的问题。";
          scheduleRender();
          return;
        }
        act(q, "merge", { into: select.value });
      }, cancel, entry);
    }
    case "reply": {
      const area = el("textarea", { rows: 3, "aria-label": "回复内容", maxlength: 1000 });
      area.value = values.reply || "";
      area.addEventListener("input", () => { values.reply = area.value; });
      const templates = templateSelect("常用回复", REPLIES, q, (text) => {
        values.reply = text;
        area.value = text;
      });
      return panelForm("文字回复（只有提问者能看到）", [templates, area], "发送回复",
        () => act(q, "reply", { text: values.reply || "" }), cancel, entry);
    }
    case "decline": {
      const area = el("textarea", { rows: 2, "aria-label": "拒绝原因", maxlength: 200 });
      area.value = values.reason || "";
      area.addEventListener("input", () => { values.reason = area.value; });
      const templates = templateSelect("常用原因", REASONS, q, (text) => {
        values.reason = text;
        area.value = text;
      });
      // Ticked, the question teaches the understanding engine what is not the desk's business.
      const offTopic = el("input", { type: "checkbox", checked: Boolean(values.offTopic) });
      offTopic.addEventListener("change", () => { values.offTopic = offTopic.checked; });
      const offTopicLabel = el("label", { class: "off-topic" }, offTopic,
        " 不属于车驾管业务（系统会学习，以后自动识别这类问题）");
      return panelForm("拒绝原因（提问者会看到）", [templates, area, offTopicLabel], "确认拒绝",
        () => act(q, "decline", { reason: values.reason || "", off_topic: Boolean(values.offTopic) }),
        cancel, entry, "danger");
    }
    case "note": {
      const area = el("textarea", { rows: 2, "aria-label": "备注内容", maxlength: 500 });
      area.value = values.note || "";
      area.addEventListener("input", () => { values.note = area.value; });
      return panelForm("给主持人的备注（依据、数字、注意事项；只有工作人员能看到）", [area], "添加备注",
        () => act(q, "note", { text: values.note || "" }), cancel, entry);
    }
    default:
      return null;
  }
}

/** A select of templates, filled in for the question; choosing one calls `onPick`. */
function templateSelect(label, texts, q, onPick) {
  const filled = texts.map((text) => fillTemplate(text, q, ITEMS));
  const select = el("select", { "aria-label": label },
    el("option", { value: "" }, texts.length ? `选择${label}…` : `（暂无${label}）`),
    ...filled.map((text, i) => el("option", { value: String(i) }, text)));
  select.addEventListener("change", () => {
    if (select.value !== "") onPick(filled[Number(select.value)]);
  });
  return select;
}

function panelForm(title, fields, submitLabel, onSubmit, cancel, entry, submitClass = "") {
  const form = el("form", { class: "mod-panel" },
    el("p", { class: "panel-title" }, title), ...fields,
    el("div", { class: "row" },
      el("button", { type: "submit", class: `small ${submitClass}`, disabled: entry.busy }, submitLabel),
      cancel));
  form.addEventListener("submit", (ev) => {
    ev.preventDefault();
    onSubmit();
  });
  // Keyboard: Enter on a chosen template (or Ctrl+Enter anywhere) submits; Escape closes the
  // panel like 取消, and the focus goes back to the button that opened it.
  form.addEventListener("keydown", (ev) => {
    const onSelect = ev.target.tagName === "SELECT" && ev.target.value !== "";
    if (ev.key === "Enter" && (ev.ctrlKey || onSelect)) {
      ev.preventDefault();
      onSubmit();
    } else if (ev.key === "Escape") {
      ev.preventDefault();
      ev.stopPropagation();
      cancel.click();
    }
  });
  return form;
}

// Drag a queued card onto another to move it there (上移 and 下移 do the same by keyboard).
// The drop means "just above (or below) that question in the queue's order", in any view.
let dragging = null; // the question id being dragged

function dragStart(ev, q) {
  dragging = q.id;
  ev.dataTransfer.effectAllowed = "move";
  ev.dataTransfer.setData("text/plain", q.id);
}

function dropAbove(ev) {
  const box = ev.currentTarget.getBoundingClientRect();
  return ev.clientY < box.top + box.height / 2;
}

function dragOver(ev, q) {
  if (!dragging || dragging === q.id) return;
  ev.preventDefault();
  ev.dataTransfer.dropEffect = "move";
  const above = dropAbove(ev);
  ev.currentTarget.classList.toggle("drop-above", above);
  ev.currentTarget.classList.toggle("drop-below", !above);
}

function drop(ev, target) {
  ev.preventDefault();
  ev.currentTarget.classList.remove("drop-above", "drop-below");
  const moving = dragging && state.questions.get(dragging);
  dragging = null;
  if (!moving) return;
  const queued = groups().queue.filter((x) => x.state === "queued");
  const fields = dropMoveFields(queued, moving.id, target.id, dropAbove(ev));
  if (fields) act(moving, "move", fields);
  else if (Boolean(moving.pinned) !== Boolean(target.pinned)) {
    ui(moving.id).error = "置顶的问题总在最前：先置顶或取消置顶，再拖动。";
    scheduleRender();
  }
}

function dragEnd() {
  dragging = null;
  for (const node of dom.list.querySelectorAll(".drop-above, .drop-below")) {
    node.classList.remove("drop-above", "drop-below");
  }
}

function moveUp(q, index, queued) {
  const fields = moveUpFields(queued, index);
  if (fields) act(q, "move", fields);
}

function moveDown(q, index, queued) {
  const fields = moveDownFields(queued, index);
  if (fields) act(q, "move", fields);
}

function restrict(q, kind, minutes) {
  if (!window.confirm(restrictConfirmText(q.nickname, kind, minutes))) return;
  const entry = ui(q.id);
  socket.request("restrict", restrictFields(q.viewer_id, kind, minutes)).then(() => {
    entry.error = "";
    scheduleRender();
  }, (err) => {
    entry.error = err.message;
    scheduleRender();
  });
}

function unrestrict(viewerId) {
  if (!window.confirm("确定解除对这位观众的限制？")) return;
  socket.request("unrestrict", { viewer_id: viewerId }).catch((err) => showControlsError(err.message));
}

function showControlsError(message) {
  dom.controlsError.textContent = message;
  dom.controlsError.hidden = !message;
}

// --- controls -------------------------------------------------------------------------------

const tabs = [...document.querySelectorAll("[role=tab]")];
for (const tab of tabs) {
  tab.addEventListener("click", () => {
    switchTab(tab.dataset.tab);
  });
  // The tabs pattern: the arrow keys, Home and End move between the tabs (and select them).
  tab.addEventListener("keydown", (ev) => {
    const i = tabs.indexOf(tab);
    const to = { ArrowRight: i + 1, ArrowLeft: i - 1, Home: 0, End: tabs.length - 1 }[ev.key];
    if (to === undefined) return;
    ev.preventDefault();
    const next = tabs[(to + tabs.length) % tabs.length];
    next.focus();
    next.click();
  });
}

// Slow mode applies a pick made with the pointer at once; with the keyboard, the arrow keys
// browse the options (each would otherwise be applied and audited) and Enter or leaving the
// box applies the choice.
let slowByKeyboard = false;
dom.slowMode.addEventListener("keydown", (ev) => {
  if (ev.key === "Enter") {
    ev.preventDefault();
    applySlowMode();
  } else if (ev.key !== "Tab") {
    slowByKeyboard = true;
  }
});
dom.slowMode.addEventListener("pointerdown", () => { slowByKeyboard = false; });
dom.slowMode.addEventListener("change", () => {
  if (!slowByKeyboard) applySlowMode();
});
dom.slowMode.addEventListener("blur", () => applySlowMode());

let slowSent = null; // the value asked for and not yet refused (blur after a pick)

if (dom.meTooRaises) {
  dom.meTooRaises.addEventListener("change", () => {
    const raises = dom.meTooRaises.checked;
    showControlsError("");
    socket.request("me_too_order", { raises }).catch((err) => {
      showControlsError(err.message);
      dom.meTooRaises.checked = Boolean(state.session.me_too_raises);
    });
  });
}

function applySlowMode() {
  slowByKeyboard = false;
  const seconds = Number(dom.slowMode.value);
  if (seconds === (state.session.slow_mode_seconds || 0) || seconds === slowSent) return;
  slowSent = seconds;
  showControlsError("");
  socket.request("slow_mode", { seconds }).then(() => { slowSent = null; }, (err) => {
    slowSent = null;
    showControlsError(err.message);
    dom.slowMode.value = String(state.session.slow_mode_seconds || 0);
  });
}

// Timeouts run out on their own: refresh the badges once a minute.
setInterval(scheduleRender, 60_000);

// --- search, filters, keys and bulk actions ------------------------------------------------

const stateOptions = ["pending", "queued", "on_air", "answered", "replied", "merged", "declined"];
dom.filterState.append(...stateOptions.map((s) => el("option", { value: s }, STATE_LABELS[s])));
dom.filterItem.append(...CATALOG.items.map((item) => el("option", { value: item.id }, item.name)));
dom.filterFlag.append(...Object.entries(FLAG_LABELS).map(([v, label]) => el("option", { value: v }, label)));
dom.filterHost.append(...HOSTS.map((h) => el("option", { value: h.id }, h.name)));
$("filter-host-label").hidden = HOSTS.length === 0;
dom.sort.append(...Object.entries(SORTS).map(([v, label]) => el("option", { value: v }, label)));
dom.bulkReason.append(...REASONS.map((text, i) => el("option", { value: String(i) }, truncate(text, 24))));

function readFilters() {
  state.filter = { text: dom.search.value, state: dom.filterState.value, item: dom.filterItem.value,
    flag: dom.filterFlag.value, host: dom.filterHost.value };
  state.sort = dom.sort.value;
  state.limit = WINDOW;
  render();
}
for (const node of [dom.filterState, dom.filterItem, dom.filterFlag, dom.filterHost, dom.sort]) {
  node.addEventListener("change", readFilters);
}
dom.search.addEventListener("input", readFilters);
$("filters").addEventListener("submit", (ev) => ev.preventDefault());
dom.above.addEventListener("click", () => {
  state.current = "";
  state.topId = "";
  render();
  window.scrollTo(0, 0);
});
dom.more.addEventListener("click", () => {
  state.limit += WINDOW;
  render();
});

function toggleSelected(id, on) {
  if (on) state.selected.add(id);
  else state.selected.delete(id);
  scheduleRender();
}

function renderBulk(shown) {
  dom.bulkBar.hidden = !TRIAGE || state.tab !== "pending";
  for (const id of state.selected) {
    const q = state.questions.get(id);
    if (!q || q.state !== "pending") state.selected.delete(id);
  }
  const n = state.selected.size;
  setText(dom.selectedCount, n ? `已选 ${n} 个` : "未选中");
  const visible = shown.slice(state.start, state.start + state.limit);
  dom.selectAll.checked = visible.length > 0 && visible.every((q) => state.selected.has(q.id));
}

dom.selectAll.addEventListener("change", () => {
  const visible = state.shownIds.slice(state.start, state.start + state.limit);
  for (const id of visible) {
    if (dom.selectAll.checked) state.selected.add(id);
    else state.selected.delete(id);
  }
  render();
});

/** The selected pending questions, or the one under the cursor when none is selected. */
function bulkTargets() {
  const ids = state.selected.size ? [...state.selected] : state.current ? [state.current] : [];
  return ids.map((id) => state.questions.get(id)).filter((q) => q && q.state === "pending");
}

function bulk(type) {
  const targets = bulkTargets();
  if (!targets.length) {
    dom.bulkStatus.textContent = "请先选中问题（x 键或勾选）。";
    return;
  }
  const fields = { questions: bulkField(targets) };
  if (type === "bulk_decline") {
    if (!REASONS.length) {
      dom.bulkStatus.textContent = "还没有常用原因，请管理员在“屏蔽词与回复模板”中添加。";
      return;
    }
    fields.reason = REASONS[Number(dom.bulkReason.value || 0)];
  }
  dom.bulkStatus.textContent = "正在处理…";
  socket.request(type, fields).then((ack) => {
    for (const done of ack.done) state.selected.delete(done.question_id);
    const verb = type === "bulk_approve" ? "通过" : "拒绝";
    const refused = ack.refused.map((r) => r.message);
    dom.bulkStatus.textContent = `已${verb} ${ack.done.length} 个。` +
      (refused.length ? `${refused.length} 个未处理：${[...new Set(refused)].join("；")}` : "");
    scheduleRender();
  }, (err) => {
    dom.bulkStatus.textContent = err.message;
  });
}
$("bulk-approve").addEventListener("click", () => bulk("bulk_approve"));
$("bulk-decline").addEventListener("click", () => bulk("bulk_decline"));

dom.helpKeys.append(...KEYMAP.flatMap(([key, , label]) => [
  el("dt", {}, el("kbd", {}, key === "Escape" ? "Esc" : key)), el("dd", {}, label)]));
let helpReturn = null;
function showHelp(open) {
  dom.help.hidden = !open;
  if (open) {
    helpReturn = document.activeElement;
    $("help-close").focus();
  } else if (helpReturn) {
    helpReturn.focus();
  }
}
$("help-open").addEventListener("click", () => showHelp(true));
$("help-close").addEventListener("click", () => showHelp(false));

function focusCurrent() {
  const node = state.current && document.getElementById(`q-${state.current}`);
  if (node) {
    node.focus({ preventScroll: true });
    node.scrollIntoView({ block: "nearest" });
  }
}

function moveCursor(delta) {
  state.current = stepSelection(state.shownIds, state.current, state.current ? delta : 0);
  const index = state.shownIds.indexOf(state.current);
  render();
  focusCurrent();
}

/** Open a panel on the current card and put the focus in its first field. */
function openPanel(q, name) {
  const entry = ui(q.id);
  entry.panel = name;
  entry.error = "";
  render();
  const node = document.getElementById(`q-${q.id}`);
  const field = node && node.querySelector(".mod-panel select, .mod-panel textarea");
  if (field) field.focus();
}

function keyboardApprove(q) {
  const entry = ui(q.id);
  const fields = approveFields(approveValues(entry.values, q));
  if (!fields) {
    entry.error = "请先选择问题分类（没有预选分类）。";
    render();
    const select = document.querySelector(`#q-${q.id} select[aria-label="分类"]`);
    if (select) select.focus();
    return;
  }
  act(q, "approve", fields).then(focusCurrent);
}

const COMMANDS = {
  next: () => moveCursor(1),
  previous: () => moveCursor(-1),
  search: () => dom.search.focus(),
  help: () => showHelp(dom.help.hidden),
  tab_previous: () => switchTab(stepTab(state.tab, -1)),
  tab_next: () => switchTab(stepTab(state.tab, 1)),
  bulk_approve: () => TRIAGE && bulk("bulk_approve"),
  bulk_decline: () => TRIAGE && bulk("bulk_decline"),
  close: () => {
    if (!dom.help.hidden) return showHelp(false);
    const q = state.questions.get(state.current);
    if (q) {
      ui(q.id).panel = "";
      render();
      focusCurrent();
    } else if (document.activeElement) {
      document.activeElement.blur();
    }
    return undefined;
  },
};
// Commands on the question under the cursor: which states they apply in.
const ON_CURRENT = {
  approve: [TRIAGE, ["pending"], keyboardApprove],
  pick_1: [TRIAGE, ["pending"], (q) => pick(q, 1)],
  pick_2: [TRIAGE, ["pending"], (q) => pick(q, 2)],
  pick_3: [TRIAGE, ["pending"], (q) => pick(q, 3)],
  decline: [TRIAGE, ["pending", "queued"], (q) => openPanel(q, "decline")],
  merge: [TRIAGE, ["pending", "queued"], (q) => openPanel(q, "merge")],
  reply: [TRIAGE, ["pending", "queued"], (q) => openPanel(q, "reply")],
  edit: [TRIAGE, ["pending", "queued", "on_air"], (q) => openPanel(q, "edit")],
  note: [true, ["pending", "queued", "on_air"], (q) => openPanel(q, "note")],
  pin: [TRIAGE, ["queued"], (q) => act(q, "pin", { pinned: !q.pinned })],
  select: [TRIAGE, ["pending"], (q) => toggleSelected(q.id, !state.selected.has(q.id))],
};

function switchTab(tab) {
  state.tab = tab;
  state.limit = WINDOW;
  render();
}

document.addEventListener("keydown", (ev) => {
  const target = ev.target;
  const inField = target instanceof HTMLElement
    && (target.matches("input, textarea, select") || target.isContentEditable);
  const command = keyCommand(ev, inField);
  if (!command) return;
  if (!dom.help.hidden && command !== "help" && command !== "close") return;
  const onCurrent = ON_CURRENT[command];
  if (onCurrent) {
    const [allowedHere, states, run] = onCurrent;
    const q = state.questions.get(state.current);
    if (!allowedHere || !q || !states.includes(q.state)) return;
    ev.preventDefault();
    run(q);
    return;
  }
  ev.preventDefault();
  COMMANDS[command]();
});

socket.start();
render();
