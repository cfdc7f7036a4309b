// The moderation console: incoming questions, triage actions, the queue, slow mode and
// restricting askers. State comes from the staff websocket (socket.js); every action quotes
// the question's version, and a "conflict" refusal brings the question as it is now.

import { LiveSocket, el, readJson, showStatus, frameScheduler } from "./socket.js";
import { clock, truncate } from "./format.js";
import {
  OPEN, STATE_LABELS, activeRestriction, approveFields, cardStateLabel, mergeTargets as mergeChoices,
  moderationGroups, moveDownFields, moveUpFields, piiLabel, questionAction, restrictConfirmText,
  restrictFields, restrictionText,
} from "./questions.js";
import { showIngestBadge } from "./ingest.js";
import { focusPlace, restoreFocus } from "./focus.js";

const root = document.getElementById("console");
const sessionId = root.dataset.sessionId;
const CATALOG = readJson("catalog-data", { categories: [], items: [] });
const REASONS = readJson("reasons-data", []);
const HOSTS = readJson("hosts-data", []);
const STATUS_LABELS = readJson("status-labels", {});
const ITEMS = new Map(CATALOG.items.map((item) => [item.id, item]));
const HOST_NAMES = new Map(HOSTS.map((h) => [h.id, h.name]));

const $ = (id) => document.getElementById(id);
const dom = {
  title: $("session-title"), status: $("session-status"), connection: $("connection"),
  ingest: $("ingest-badge"),
  slowMode: $("slow-mode"), controlsError: $("controls-error"), onAirSummary: $("on-air-summary"),
  list: $("list"), empty: $("list-empty"), panel: $("list-panel"),
  restrictionsCard: $("restrictions-card"), restrictions: $("restrictions"),
};

const state = {
  session: { status: "", on_air_id: "", slow_mode_seconds: 0 },
  questions: new Map(),
  restrictions: new Map(), // viewer_id -> restriction
  tab: "pending",
  synced: false,
  highlight: null, // {target, from}: "merge the duplicate `from` into `target`?"
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
  return moderationGroups(state.questions.values());
}

function render() {
  renderSession();
  const g = groups();
  for (const [name, list] of Object.entries(g)) {
    const badge = document.querySelector(`[data-count="${name}"]`);
    if (badge) badge.textContent = String(list.length);
  }
  for (const tab of document.querySelectorAll("[role=tab]")) {
    tab.setAttribute("aria-selected", tab.dataset.tab === state.tab ? "true" : "false");
    tab.tabIndex = tab.dataset.tab === state.tab ? 0 : -1;
  }
  dom.panel.setAttribute("aria-labelledby", `tab-${state.tab}`);
  const shown = g[state.tab];
  const queued = g.queue.filter((q) => q.state === "queued");
  // A card that is rebuilt or leaves the list (approved, declined…) would drop the focus to
  // the page: it stays on the card, or goes to the next question in its place.
  const place = focusPlace(dom.list);
  const nodes = shown.map((q) => card(q, queued));
  // Move only what is out of place, so a card being typed in keeps its focus.
  nodes.forEach((node, i) => {
    if (dom.list.children[i] !== node) dom.list.insertBefore(node, dom.list.children[i] || null);
  });
  while (dom.list.children.length > nodes.length) dom.list.lastElementChild.remove();
  restoreFocus(dom.list, place, dom.panel);
  focusPanel();
  dom.empty.hidden = nodes.length > 0;
  dom.empty.textContent = !state.synced ? "正在加载…"
    : { pending: "没有待审核的问题。", queue: "队列是空的。", done: "还没有处理过的问题。" }[state.tab];
  renderRestrictions();
}

function renderSession() {
  const s = state.session;
  if (!s.status) return;
  dom.title.textContent = s.title;
  dom.status.textContent = STATUS_LABELS[s.status] || s.status;
  dom.status.className = `tag status-${s.status}`;
  const seconds = s.slow_mode_seconds || 0;
  if (![...dom.slowMode.options].some((o) => Number(o.value) === seconds)) {
    dom.slowMode.append(el("option", { value: String(seconds) }, `${seconds} 秒`));
  }
  if (document.activeElement !== dom.slowMode) dom.slowMode.value = String(seconds);
  const onAir = s.on_air_id && state.questions.get(s.on_air_id);
  dom.onAirSummary.textContent = onAir ? `正在直播：${truncate(onAir.text, 30)}` : "";
}

function restrictionOf(viewerId) {
  return activeRestriction(state.restrictions, viewerId, Date.now());
}

function renderRestrictions() {
  const active = [...state.restrictions.values()].filter((r) => restrictionOf(r.viewer_id));
  dom.restrictionsCard.hidden = active.length === 0;
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
  if (flags.suggested_category && q.state === "pending") {
    const item = ITEMS.get(flags.suggested_item);
    out.push(el("span", { class: "badge suggest" },
      `预选：${flags.suggested_category}${item ? ` · ${item.name}` : ""}`));
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

function card(q, queued) {
  const entry = ui(q.id);
  const index = queued.findIndex((x) => x.id === q.id);
  const highlight = state.highlight && state.highlight.target === q.id ? state.highlight : null;
  const sig = JSON.stringify([q, entry.panel, entry.error, entry.busy, index, queued.length,
    restrictionOf(q.viewer_id), highlight,
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
  return el("li", {
    class: classes.join(" "), id: `q-${q.id}`, tabindex: "-1",
    dataset: { questionId: q.id, state: q.state, focusKey: q.id },
  },
    el("div", { class: "mod-head" },
      el("time", { class: "mod-time" }, clock(q.created_at, true)),
      el("span", { class: "mod-nick" }, q.nickname || "匿名观众"),
      el("span", { class: `tag state-tag state-${q.state}` }, stateLabel),
      ...badges(q)),
    el("p", { class: "mod-text" }, q.text),
    metaBits.length ? el("p", { class: "mod-meta" }, ...metaBits) : null,
    outcome(q),
    highlight ? mergeOffer(q, highlight) : null,
    actions(q, entry, index, queued),
    panel(q, entry),
    entry.error ? el("p", { class: "inline-error mod-error", role: "alert" }, entry.error) : null);
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

function actions(q, entry, index, queued) {
  const busy = entry.busy;
  const row = el("div", { class: "mod-actions" });
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
  const values = entry.values;
  const flags = q.flags || {};
  if (values.category === undefined) values.category = q.category || flags.suggested_category || "";
  if (values.item === undefined) values.item = q.item_id || flags.suggested_item || "";
  if (values.host === undefined) values.host = q.host_id || "";
  const category = el("select", { "aria-label": "分类", class: "compact" },
    el("option", { value: "" }, "选择分类"),
    ...CATALOG.categories.map((c) => el("option", { value: c, selected: c === values.category }, c)));
  category.value = values.category;
  const item = el("select", { "aria-label": "业务事项", class: "compact" });
  itemOptions(item, values.category, values.item);
  category.addEventListener("change", () => {
    values.category = category.value;
    const current = ITEMS.get(values.item);
    if (current && current.category !== values.category) values.item = "";
    itemOptions(item, values.category, values.item);
  });
  item.addEventListener("change", () => {
    values.item = item.value;
    const chosen = ITEMS.get(item.value);
    if (chosen && !values.category) {
      values.category = chosen.category;
      category.value = chosen.category;
      itemOptions(item, values.category, values.item);
    }
  });
  const form = el("form", { class: "approve-form" }, category, item);
  if (HOSTS.length) {
    const host = el("select", { "aria-label": "指定主持人", class: "compact" },
      el("option", { value: "" }, "不指定主持人"),
      ...HOSTS.map((h) => el("option", { value: h.id, selected: h.id === values.host }, h.name)));
    host.addEventListener("change", () => { values.host = host.value; });
    form.append(host);
  }
  form.append(el("button", { type: "submit", class: "small approve", disabled: entry.busy }, "通过"));
  form.addEventListener("submit", (ev) => {
    ev.preventDefault();
    const fields = approveFields(values);
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
  return mergeChoices(state.questions.values(), q);
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
      const targets = mergeTargets(q);
      if (values.into === undefined) values.into = (q.flags && q.flags.duplicate_of) || "";
      const select = el("select", { "aria-label": "合并到" },
        el("option", { value: "" }, "选择相同的问题"),
        ...targets.map((x) => el("option", { value: x.id, selected: x.id === values.into },
          `[${STATE_LABELS[x.state]}] ${truncate(x.text, 50)}`)));
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
      return panelForm("文字回复（只有提问者能看到）", [area], "发送回复",
        () => act(q, "reply", { text: values.reply || "" }), cancel, entry);
    }
    case "decline": {
      const area = el("textarea", { rows: 2, "aria-label": "拒绝原因", maxlength: 200 });
      area.value = values.reason || "";
      area.addEventListener("input", () => { values.reason = area.value; });
      const templates = el("select", { "aria-label": "常用原因" },
        el("option", { value: "" }, REASONS.length ? "选择常用原因…" : "（暂无常用原因）"),
        ...REASONS.map((text, i) => el("option", { value: String(i) }, text)));
      templates.addEventListener("change", () => {
        if (templates.value !== "") {
          values.reason = REASONS[Number(templates.value)];
          area.value = values.reason;
        }
      });
      return panelForm("拒绝原因（提问者会看到）", [templates, area], "确认拒绝",
        () => act(q, "decline", { reason: values.reason || "" }), cancel, entry, "danger");
    }
    default:
      return null;
  }
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
  // Escape closes the panel like 取消, and the focus goes back to the button that opened it.
  form.addEventListener("keydown", (ev) => {
    if (ev.key === "Escape") {
      ev.preventDefault();
      cancel.click();
    }
  });
  return form;
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
    state.tab = tab.dataset.tab;
    render();
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

socket.start();
render();
