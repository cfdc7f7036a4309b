// The viewer's page (/live/{id}): the question on air, the queue, the answers, asking and
// following one's own questions. Everything shown comes from the websocket (socket.js);
// user and staff text is only ever put into the page as text nodes.

import { LiveSocket, el, readJson, showStatus, frameScheduler } from "./socket.js";
import { charCount, clock, dateTime, retryText, uuidFromBytes, waitText } from "./format.js";
import {
  PUBLIC_STATES, answeredOrder, askClosedReason as closedReason, myStateText, onAirList,
  queueHint, sessionNote, unsentAsks, viewerQueue,
} from "./questions.js";
import { LivePlayer } from "./player.js";
import { focusEntry, focusPlace, restoreFocus } from "./focus.js";
import { CaptionLines } from "./caption_lines.js";

const root = document.getElementById("live");
const sessionId = root.dataset.sessionId;
const MAX_CHARS = 300;
const STATUS_LABELS = readJson("status-labels", {});
const KEYS = {
  pending: `tp.ask.${sessionId}`,
  meToo: `tp.metoo.${sessionId}`,
  nickname: "tp.nickname",
};
const PII_NOTE = "为保护隐私，已隐去你问题中的个人信息。";

const $ = (id) => document.getElementById(id);
const ui = {
  title: $("session-title"), status: $("session-status"), schedule: $("session-schedule"),
  note: $("session-note"), connection: $("connection"),
  onAir: $("on-air-body"), queue: $("queue"), queueEmpty: $("queue-empty"),
  queueCount: $("queue-count"), answered: $("answered"), answeredEmpty: $("answered-empty"),
  answeredCount: $("answered-count"), mine: $("mine"), mineEmpty: $("mine-empty"),
  form: $("ask-form"), text: $("ask-text"), nickname: $("ask-nickname"),
  counter: $("ask-counter"), submit: $("ask-submit"), error: $("ask-error"),
  notice: $("ask-notice"), closed: $("ask-closed"),
  mineStatus: $("mine-status"), onAirStatus: $("on-air-status"), queueHint: $("queue-hint"),
};
const player = new LivePlayer($("player"));

// --- local storage (may be unavailable: private browsing) -------------------------------

function load(key, fallback) {
  try {
    const raw = localStorage.getItem(key);
    return raw === null ? fallback : JSON.parse(raw);
  } catch {
    return fallback;
  }
}

function save(key, value) {
  try {
    localStorage.setItem(key, JSON.stringify(value));
  } catch {
    // Not persisted; the page still works for this visit.
  }
}

function uuid() {
  if (window.crypto && typeof crypto.randomUUID === "function") return crypto.randomUUID();
  // crypto.randomUUID needs a secure context; plain http on a LAN address has none.
  return uuidFromBytes(crypto.getRandomValues(new Uint8Array(16)));
}

// --- state --------------------------------------------------------------------------------

const state = {
  session: { status: root.dataset.status, on_air_id: "", slow_mode_seconds: 0 },
  questions: new Map(), // public view: queued, on air, answered
  mine: new Map(), // owner view: every question this viewer asked
  pressed: new Set(load(KEYS.meToo, [])), // questions this viewer said "me too" to
  pending: load(KEYS.pending, []), // asks not yet acknowledged: {client_id, text, nickname}
  sending: new Set(), // client ids in flight
  blocked: "", // "banned" or "" — asking is not possible for this viewer
  retryUntil: 0, // ms timestamp: asking disabled until then (rate limit, timeout)
  retryCode: "",
  meTooErrors: new Map(), // question id -> the refusal of a "me too"
  clips: new Map(), // answered question id -> the URL of its published clip
  synced: false,
  focusMine: "", // focus key of the entry in "我的问题" to focus once it is shown
};

function applyQuestion(q) {
  if (q.mine) state.mine.set(q.id, q);
  if (PUBLIC_STATES.has(q.state)) {
    state.questions.set(q.id, q);
  } else {
    state.questions.delete(q.id);
  }
}

const captions = new CaptionLines(document.getElementById("captions"));

const socket = new LiveSocket(`/ws/live/${encodeURIComponent(sessionId)}`, {
  onStatus: (status) => {
    showStatus(ui.connection, status);
    renderAskState();
  },
  onSnapshot: (frame) => {
    state.session = frame.session;
    state.questions = new Map();
    for (const q of frame.questions || []) state.questions.set(q.id, q);
    state.mine = new Map();
    for (const q of frame.mine || []) state.mine.set(q.id, q);
    state.clips = new Map(Object.entries(frame.clips || {}));
    for (const line of frame.captions || []) captions.add(line);
    state.synced = true;
    scheduleRender();
  },
  onEvent: (frame) => {
    if (frame.kind === "caption") {
      captions.add(frame.caption);
      return;
    }
    if (frame.kind === "question") applyQuestion(frame.question);
    else if (frame.kind === "question_removed") state.questions.delete(frame.id);
    else if (frame.kind === "session") state.session = frame.session;
    else if (frame.kind === "clip") {
      if (frame.url) state.clips.set(frame.question_id, frame.url);
      else state.clips.delete(frame.question_id);
    }
    scheduleRender();
  },
  onError: (frame) => {
    if (frame.code === "no_viewer") showAskError(frame.message);
  },
});

// --- rendering ----------------------------------------------------------------------------

const scheduleRender = frameScheduler(() => render());

function render() {
  renderSession();
  const queue = currentQueue();
  keepFocus(ui.onAir, renderOnAir);
  keepFocus(ui.queue, () => renderQueue(queue));
  keepFocus(ui.answered, renderAnswered);
  keepFocus(ui.mine, () => renderMine(queue));
  // Until the server confirms, the "sending" entry holds the focus; the stored question
  // (same key) takes it over.
  if (state.focusMine && focusEntry(ui.mine, state.focusMine)
      && document.activeElement.dataset.questionId) state.focusMine = "";
  announce(queue);
  renderAskState();
}

/** Re-render one list without losing a keyboard user's place in it. */
function keepFocus(list, draw) {
  const place = focusPlace(list);
  draw();
  restoreFocus(list, place);
}

// --- announcements (polite live regions; errors use role=alert) -----------------------------

const heard = { synced: false, mine: new Map(), onAir: new Set() };

function short(text) {
  return text.length > 30 ? `${text.slice(0, 30)}…` : text;
}

/** Tell screen readers what changed for this viewer: the state of their own questions, and
 * which question went on air. The first snapshot is the page itself: nothing to announce. */
function announce(queue) {
  if (!state.synced) return;
  const mine = [];
  for (const q of state.mine.values()) {
    if (heard.synced && heard.mine.get(q.id) !== q.state) {
      mine.push(`你的问题“${short(q.text)}”：${myStateText(q, queue)}`);
    }
    heard.mine.set(q.id, q.state);
  }
  // Each question that goes on air (one per host, so several may be) is announced once.
  const onAir = onAirList(state.session, state.questions).map((a) => a.question);
  const fresh = onAir.filter((q) => !heard.onAir.has(q.id));
  if (heard.synced && fresh.length) {
    say(ui.onAirStatus, fresh.map((q) => {
      const own = state.mine.has(q.id) ? "（你的问题）" : "";
      return `正在解答${own}：${q.text}`;
    }).join("；"));
  }
  heard.onAir = new Set(onAir.map((q) => q.id));
  if (mine.length) say(ui.mineStatus, mine.join("；"));
  heard.synced = true;
}

function say(region, text) {
  if (region && region.textContent !== text) region.textContent = text;
}

function currentQueue() {
  return viewerQueue(state.questions, state.mine, Boolean(state.session.me_too_raises));
}

function renderSession() {
  const s = state.session;
  if (s.title) {
    ui.title.textContent = s.title;
    document.title = document.title.replace(/^[^·]*·/, `${s.title} ·`);
  }
  ui.status.textContent = STATUS_LABELS[s.status] || s.status;
  ui.status.className = `tag status-${s.status}`;
  root.dataset.status = s.status;
  player.setStatus(s.status);
  if (s.scheduled_start) {
    const end = s.scheduled_end ? ` – ${clock(s.scheduled_end)}` : "";
    ui.schedule.textContent = `计划时间：${dateTime(s.scheduled_start)}${end}`;
  }
  if (state.synced) ui.queueHint.textContent = queueHint(s);
  const note = sessionNote(s);
  ui.note.textContent = note;
  ui.note.hidden = !note;
}

function meta(q) {
  const parts = [];
  if (q.category) parts.push(el("span", { class: "badge category" }, q.category));
  if (q.item_name) parts.push(el("span", { class: "badge item" }, q.item_name));
  if (q.service_link && /^https?:\/\//.test(q.service_link)) {
    parts.push(el("a", { href: q.service_link, rel: "noopener", target: "_blank" }, "去办理"));
  }
  return parts;
}

function who(q) {
  return el("span", { class: "who-asked" }, q.nickname || "匿名观众");
}

function counts(q) {
  const parts = [];
  if (q.me_too) parts.push(el("span", { class: "me-too-count" }, `${q.me_too} 人也想问`));
  if (q.merged_count) {
    parts.push(el("span", { class: "merged-count" }, `另有 ${q.merged_count} 个相同问题`));
  }
  return parts;
}

function renderOnAir() {
  // One question on air per host: a session with two hosts may show two.
  const onAir = onAirList(state.session, state.questions).map((a) => a.question);
  if (!onAir.length) {
    ui.onAir.replaceChildren(el("p", { class: "hint" }, "暂时没有正在解答的问题。"));
    return;
  }
  ui.onAir.replaceChildren(...onAir.map((q) =>
    el("article", {
      class: "on-air-question", id: `q-${q.id}`, tabindex: "-1",
      dataset: { questionId: q.id, focusKey: q.id },
    },
      el("p", { class: "on-air-text" }, q.text),
      el("p", { class: "question-meta" }, who(q), ...meta(q), ...counts(q)),
      state.mine.has(q.id) ? el("p", { class: "mine-flag" }, "这是你的问题，正在直播解答！") : null)));
}

function meTooButton(q) {
  const own = state.mine.has(q.id);
  const pressed = state.pressed.has(q.id);
  const label = own ? "我的问题" : pressed ? "已想问" : "我也想问";
  return el("button", {
    type: "button", class: "small me-too", disabled: own || pressed,
    "aria-pressed": pressed ? "true" : "false", dataset: { questionId: q.id },
    onclick: () => meToo(q.id),
  }, label);
}

function queueItem(q, index) {
  return el("li", {
    class: "question", id: `q-${q.id}`, tabindex: "-1",
    dataset: { questionId: q.id, focusKey: q.id },
  },
    el("span", { class: "queue-number", "aria-label": `第 ${index + 1} 位` }, String(index + 1)),
    el("div", { class: "question-body" },
      el("p", { class: "question-text" }, q.text),
      el("p", { class: "question-meta" }, who(q), ...meta(q), q.pinned ? el("span", { class: "badge pinned" }, "置顶") : null),
      el("div", { class: "question-actions" }, meTooButton(q), ...counts(q),
        state.meTooErrors.has(q.id)
          ? el("span", { class: "inline-error", role: "alert" }, state.meTooErrors.get(q.id))
          : null)));
}

function renderQueue(queue) {
  ui.queue.replaceChildren(...queue.map(queueItem));
  ui.queueEmpty.hidden = queue.length > 0;
  ui.queueCount.textContent = queue.length ? `（${queue.length}）` : "";
}

function renderAnswered() {
  const answered = answeredOrder(state.questions.values());
  ui.answered.replaceChildren(...answered.map((q) => el("li", {
    class: "question answered", id: `q-${q.id}`, tabindex: "-1",
    dataset: { questionId: q.id, focusKey: q.id },
  },
  el("div", { class: "question-body" },
    el("p", { class: "question-text" }, q.text),
    el("p", { class: "question-meta" }, who(q), ...meta(q), ...counts(q),
      el("span", { class: "hint" }, `${clock(q.answered_at)} 解答`)),
    clipLink(q)))));
  ui.answeredEmpty.hidden = answered.length > 0;
  ui.answeredCount.textContent = answered.length ? `（${answered.length}）` : "";
}

function jumpTo(id) {
  const target = document.getElementById(`q-${id}`);
  if (!target) return;
  target.scrollIntoView({ behavior: "smooth", block: "center" });
  target.classList.remove("flash");
  void target.offsetWidth; // restart the animation
  target.classList.add("flash");
}

function stateLine(q, queue) {
  return el("p", { class: `my-state state-${q.state}` }, myStateText(q, queue));
}

function clipLink(q) {
  const url = state.clips.get(q.id);
  if (!url) return null;
  return el("p", { class: "clip-link" }, el("a", { href: url, target: "_blank", rel: "noopener" },
    "▶ 观看解答视频"));
}

function outcome(q) {
  if (q.state === "answered") return clipLink(q);
  if (q.state === "replied" && q.reply) {
    return el("div", { class: "reply" }, el("span", { class: "reply-label" }, "工作人员回复："),
      el("span", { class: "reply-text" }, q.reply));
  }
  if (q.state === "declined") {
    return el("p", { class: "decline-reason" }, "原因：", q.decline_reason || "未说明");
  }
  if (q.state === "carried" && q.carried_to) {
    const when = q.carried_to.scheduled_start ? `（${dateTime(q.carried_to.scheduled_start)}）` : "";
    return el("p", { class: "carried" }, el("a", { href: `/live/${q.carried_to.session_id}` },
      `本场已结束，问题已转到下一场直播：${q.carried_to.title}${when}`));
  }
  if (q.state === "merged" && state.clips.get(q.id)) return clipLink(q);
  if (q.state === "merged" && q.merged_into) {
    const target = state.questions.get(q.merged_into);
    if (!target) return el("p", { class: "hint" }, "相同的问题正在等待解答，请留意队列。");
    return el("p", { class: "merged-link" }, el("a", {
      href: `#q-${q.merged_into}`,
      onclick: (ev) => {
        ev.preventDefault();
        jumpTo(q.merged_into);
      },
    }, `查看相同问题：${target.text.length > 40 ? `${target.text.slice(0, 40)}…` : target.text}`));
  }
  return null;
}

/** One key for a question from the moment it is sent: its "sending" entry and the stored
 * question share it, so the focus stays on it when the server confirms. */
function mineKey(q) {
  return q.client_id ? `c:${q.client_id}` : q.id;
}

function renderMine(queue) {
  const sending = unsentAsks(state.pending, state.mine);
  const items = [];
  for (const p of sending) {
    items.push(el("li", {
      class: "question mine sending", tabindex: "-1", dataset: { focusKey: mineKey(p) },
    },
      el("p", { class: "question-text" }, p.text),
      el("p", { class: "my-state state-sending" }, "正在提交…")));
  }
  const mine = [...state.mine.values()].sort((a, b) => b.created_at - a.created_at);
  for (const q of mine) {
    items.push(el("li", {
      class: `question mine state-${q.state}`, tabindex: "-1",
      dataset: { questionId: q.id, state: q.state, focusKey: mineKey(q) },
    },
    el("p", { class: "question-text" }, q.text),
    el("p", { class: "question-meta" }, el("span", { class: "hint" }, clock(q.created_at)), ...meta(q)),
    stateLine(q, queue),
    outcome(q),
    q.masked && q.masked.length ? el("p", { class: "pii-note" }, PII_NOTE) : null));
  }
  ui.mine.replaceChildren(...items);
  ui.mineEmpty.hidden = items.length > 0;
}

// --- asking ---------------------------------------------------------------------------------

function askClosedReason() {
  return closedReason(state.session, state.blocked);
}

function renderAskState() {
  const closed = askClosedReason();
  const count = charCount(ui.text.value);
  ui.counter.textContent = `${count}/${MAX_CHARS}`;
  ui.counter.classList.toggle("over", count > MAX_CHARS);
  const waiting = state.retryUntil > Date.now();
  const busy = state.sending.size > 0;
  ui.text.disabled = Boolean(closed);
  ui.nickname.disabled = Boolean(closed);
  ui.submit.disabled = Boolean(closed) || waiting || busy || count === 0 || count > MAX_CHARS;
  // The countdown is on the button, not in the alert: an alert that changed every second
  // would be read out every second.
  const left = Math.ceil((state.retryUntil - Date.now()) / 1000);
  ui.submit.textContent = busy ? "提交中…" : waiting ? `${waitText(left)}后可再提问` : "提交问题";
  ui.closed.textContent = closed;
  ui.closed.hidden = !closed;
  ui.form.classList.toggle("closed", Boolean(closed));
}

let countdown = null;

function showAskError(message) {
  clearInterval(countdown);
  countdown = null;
  ui.error.textContent = message;
  ui.error.hidden = !message;
}

function startCountdown(code, retryAfter, message) {
  state.retryUntil = Date.now() + retryAfter * 1000;
  state.retryCode = code;
  const tick = () => {
    const left = Math.ceil((state.retryUntil - Date.now()) / 1000);
    if (left <= 0) {
      clearInterval(countdown);
      countdown = null;
      state.retryUntil = 0;
      ui.error.hidden = true;
      ui.error.textContent = "";
      renderAskState();
      return;
    }
    renderAskState();
  };
  showAskError(code === "rate_limited" || code === "timed_out"
    ? retryText(code, retryAfter) : message);
  tick();
  countdown = setInterval(tick, 1000);
  renderAskState();
}

let noticeTimer = 0;

function showNotice(text) {
  ui.notice.textContent = text;
  ui.notice.hidden = !text;
  // A confirmation, not a state: "我的问题" carries the question's progress from here on.
  clearTimeout(noticeTimer);
  if (text) noticeTimer = setTimeout(() => showNotice(""), 8000);
}

function savePending() {
  save(KEYS.pending, state.pending);
}

function dropPending(clientId) {
  state.pending = state.pending.filter((p) => p.client_id !== clientId);
  state.sending.delete(clientId);
  savePending();
}

function sendAsk(entry) {
  state.sending.add(entry.client_id);
  const fields = { client_id: entry.client_id, text: entry.text };
  if (entry.nickname) fields.nickname = entry.nickname;
  scheduleRender();
  socket.request("ask", fields).then(() => {
    dropPending(entry.client_id);
    if (ui.text.value.trim() === entry.text.trim()) ui.text.value = "";
    showAskError("");
    showNotice("问题已提交，审核通过后会进入队列。你可以在“我的问题”里查看进度。");
    scheduleRender();
  }, (err) => {
    // Refused: nothing was stored. Keep the text so the viewer can change it and retry.
    dropPending(entry.client_id);
    const active = document.activeElement;
    if (state.focusMine === mineKey(entry)
        || (active && active.dataset && active.dataset.focusKey === mineKey(entry))) {
      state.focusMine = "";
      ui.text.focus(); // back to the text, to change it; the error is announced (role=alert)
    }
    if (!ui.text.value.trim()) ui.text.value = entry.text;
    showNotice("");
    if (err.code === "banned") state.blocked = "banned";
    if (err.retryAfter) startCountdown(err.code, err.retryAfter, err.message);
    else showAskError(err.message);
    scheduleRender();
  });
}

ui.form.addEventListener("submit", (ev) => {
  ev.preventDefault();
  const text = ui.text.value.trim();
  const count = charCount(text);
  if (!count) {
    showAskError("问题不能为空。");
    return;
  }
  if (count > MAX_CHARS) {
    showAskError(`问题最多 ${MAX_CHARS} 字，当前 ${count} 字。`);
    return;
  }
  if (state.sending.size || askClosedReason() || state.retryUntil > Date.now()) return;
  const nickname = ui.nickname.value.trim().slice(0, 20);
  save(KEYS.nickname, nickname);
  const entry = { client_id: uuid(), text, nickname };
  state.pending.push(entry);
  savePending();
  showAskError("");
  showNotice("");
  // The form is busy while sending: the focus goes to the question in "我的问题", where its
  // progress is shown (and announced).
  state.focusMine = mineKey(entry);
  sendAsk(entry);
});

ui.text.addEventListener("input", () => renderAskState());
ui.nickname.addEventListener("change", () => save(KEYS.nickname, ui.nickname.value.trim()));

// --- me too ---------------------------------------------------------------------------------

function meToo(questionId) {
  if (state.pressed.has(questionId)) return;
  state.meTooErrors.delete(questionId);
  state.pressed.add(questionId);
  save(KEYS.meToo, [...state.pressed]);
  scheduleRender();
  socket.request("me_too", { question_id: questionId }).then((ack) => {
    const q = state.questions.get(questionId);
    if (q && typeof ack.me_too === "number") {
      state.questions.set(questionId, { ...q, me_too: Math.max(q.me_too, ack.me_too) });
    }
    scheduleRender();
  }, (err) => {
    if (err.code !== "already") {
      state.pressed.delete(questionId);
      save(KEYS.meToo, [...state.pressed]);
      state.meTooErrors.set(questionId, err.message);
    }
    scheduleRender();
  });
}

// --- start ----------------------------------------------------------------------------------

ui.nickname.value = load(KEYS.nickname, "") || "";
socket.start();
// Questions submitted before a reload but never acknowledged go out again with the same
// client_id; the server stores each at most once.
for (const entry of state.pending) sendAsk(entry);
render();
