// The live websocket client shared by the viewer page and the staff consoles.
//
// Implements docs/protocol.md: reconnects with a backoff (0.5 s doubling to 10 s, plus
// jitter) and resumes with ?since=EPOCH:SEQ; hands a snapshot to the page to replace its
// state, or lets replayed events flow through as usual; matches requests to their ack/error
// by id and sends unacknowledged requests again after a reconnect.
//
// A few small DOM/time helpers the three pages share live at the bottom of this module.

const BACKOFF_START_MS = 500;
const BACKOFF_MAX_MS = 10_000;
const KEEPALIVE_MS = 25_000; // an application ping, to notice a dead link on sleepy phones
const KEEPALIVE_TIMEOUT_MS = 10_000;

// Close codes after which reconnecting cannot help (see docs/protocol.md).
const FATAL_CLOSE = new Map([
  [4400, "stopped"],
  [4401, "unauthorized"],
  [1003, "stopped"],
  [1009, "stopped"],
]);

export const STATUS_TEXT = {
  connecting: "正在连接…",
  connected: "已连接",
  reconnecting: "连接中断，正在重连…",
  offline: "网络已断开，恢复后将自动重连…",
  unauthorized: "连接已失效，请刷新页面（工作人员请重新登录）。",
  stopped: "连接已停止，请刷新页面。",
};

/** A request the server refused: carries the error frame's fields. */
export class RequestError extends Error {
  constructor(frame) {
    super(frame.message || frame.code || "请求失败");
    this.name = "RequestError";
    this.code = frame.code || "error";
    this.frame = frame;
    this.retryAfter = frame.retry_after || 0;
    this.current = frame.current;
    this.field = frame.field;
  }
}

let requestCounter = 0;

function newRequestId() {
  requestCounter += 1;
  const random = Math.random().toString(36).slice(2, 8);
  return `r${Date.now().toString(36)}-${requestCounter}-${random}`;
}

export class LiveSocket {
  /**
   * @param {string} path  e.g. "/ws/live/SESSION"
   * @param {object} handlers  onSnapshot(frame), onEvent(frame), onHello(frame),
   *   onStatus(status), onError(frame) for errors not tied to a request
   */
  constructor(path, handlers = {}) {
    this.path = path;
    this.handlers = handlers;
    this.epoch = "";
    this.seq = null; // the seq of the last snapshot or event handled
    this.ws = null;
    this.ready = false; // hello received on the current socket
    this.status = "connecting";
    this.attempt = 0;
    this.timer = null;
    this.keepalive = null;
    this.keepaliveDeadline = null;
    this.pending = new Map(); // id -> {frame, resolve, reject, silent}
    this.stopped = false;
    window.addEventListener("online", () => this.reconnectNow());
    window.addEventListener("offline", () => {
      if (!this.stopped) this.setStatus("offline");
    });
    document.addEventListener("visibilitychange", () => {
      if (document.visibilityState === "visible" && !this.ready) this.reconnectNow();
    });
  }

  start() {
    this.connect();
    return this;
  }

  url() {
    const scheme = location.protocol === "https:" ? "wss:" : "ws:";
    let url = `${scheme}//${location.host}${this.path}`;
    if (this.epoch && this.seq !== null) {
      url += `?since=${encodeURIComponent(`${this.epoch}:${this.seq}`)}`;
    }
    return url;
  }

  setStatus(status) {
    if (status === this.status) return;
    this.status = status;
    if (this.handlers.onStatus) this.handlers.onStatus(status);
  }

  connect() {
    clearTimeout(this.timer);
    this.timer = null;
    if (this.stopped) return;
    let ws;
    try {
      ws = new WebSocket(this.url());
    } catch (err) {
      this.scheduleReconnect();
      return;
    }
    this.ws = ws;
    this.ready = false;
    ws.addEventListener("message", (ev) => {
      if (ws !== this.ws) return;
      this.onMessage(ev.data);
    });
    ws.addEventListener("close", (ev) => {
      if (ws !== this.ws) return;
      this.onClose(ev.code);
    });
    // "error" is always followed by "close"; nothing to do here.
  }

  onMessage(data) {
    let frame;
    try {
      frame = JSON.parse(data);
    } catch {
      return;
    }
    this.touchKeepalive();
    switch (frame.type) {
      case "hello":
        this.onHelloFrame(frame);
        break;
      case "snapshot":
        this.seq = frame.seq;
        if (this.handlers.onSnapshot) this.handlers.onSnapshot(frame);
        break;
      case "event":
        if (typeof frame.seq === "number") this.seq = frame.seq;
        if (this.handlers.onEvent) this.handlers.onEvent(frame);
        break;
      case "ack":
        this.settle(frame, true);
        break;
      case "error":
        if (frame.re && this.pending.has(frame.re)) {
          this.settle(frame, false);
        } else if (this.handlers.onError) {
          this.handlers.onError(frame);
        }
        break;
      default:
        break;
    }
  }

  onHelloFrame(frame) {
    if (frame.resume === "snapshot" || frame.epoch !== this.epoch) {
      // A snapshot follows and replaces the page's state.
      this.seq = null;
    }
    this.epoch = frame.epoch;
    this.ready = true;
    this.attempt = 0;
    this.setStatus("connected");
    if (this.handlers.onHello) this.handlers.onHello(frame);
    // Whatever was not acknowledged on the previous socket is sent again, in order.
    for (const [id, entry] of this.pending) {
      this.transmit(id, entry);
    }
    this.startKeepalive();
  }

  settle(frame, ok) {
    const entry = this.pending.get(frame.re);
    if (!entry) return;
    this.pending.delete(frame.re);
    if (ok) entry.resolve(frame);
    else entry.reject(new RequestError(frame));
  }

  onClose(code) {
    this.ready = false;
    this.ws = null;
    this.stopKeepalive();
    const fatal = FATAL_CLOSE.get(code);
    if (fatal) {
      this.stopped = true;
      this.setStatus(fatal);
      for (const entry of this.pending.values()) {
        entry.reject(new RequestError({ code: fatal, message: STATUS_TEXT[fatal] }));
      }
      this.pending.clear();
      return;
    }
    this.scheduleReconnect();
  }

  scheduleReconnect() {
    if (this.stopped || this.timer) return;
    this.setStatus(navigator.onLine === false ? "offline" : "reconnecting");
    const base = Math.min(BACKOFF_MAX_MS, BACKOFF_START_MS * 2 ** this.attempt);
    const delay = base + Math.random() * base * 0.3;
    this.attempt += 1;
    this.timer = setTimeout(() => this.connect(), delay);
  }

  /** Reconnect at once (the network came back, or the page became visible). */
  reconnectNow() {
    if (this.stopped || this.ready) return;
    if (this.ws && this.ws.readyState === WebSocket.CONNECTING) return;
    if (this.ws) {
      const old = this.ws;
      this.ws = null;
      old.close();
    }
    this.attempt = 0;
    clearTimeout(this.timer);
    this.timer = null;
    this.connect();
  }

  /**
   * Send a request; resolves with the ack frame, rejects with a RequestError.
   * Requests made while disconnected are sent once the connection is back.
   */
  request(type, fields = {}) {
    if (this.stopped) {
      return Promise.reject(new RequestError({ code: this.status, message: STATUS_TEXT[this.status] }));
    }
    const id = newRequestId();
    const frame = { type, id, ...fields };
    return new Promise((resolve, reject) => {
      const entry = { frame, resolve, reject };
      this.pending.set(id, entry);
      if (this.ready) this.transmit(id, entry);
    });
  }

  transmit(id, entry) {
    if (!this.ws || this.ws.readyState !== WebSocket.OPEN) return;
    try {
      this.ws.send(JSON.stringify(entry.frame));
    } catch {
      // The close handler reconnects; the request stays pending and is sent again.
    }
  }

  // --- keepalive: the server pings too, but a browser cannot see those, so a half-dead
  // link (a phone waking from sleep) is noticed by an application ping that gets no answer.

  startKeepalive() {
    this.stopKeepalive();
    this.keepalive = setInterval(() => this.sendKeepalive(), KEEPALIVE_MS);
  }

  stopKeepalive() {
    clearInterval(this.keepalive);
    clearTimeout(this.keepaliveDeadline);
    this.keepalive = null;
    this.keepaliveDeadline = null;
  }

  sendKeepalive() {
    if (!this.ready || !this.ws) return;
    const id = newRequestId();
    try {
      this.ws.send(JSON.stringify({ type: "ping", id }));
    } catch {
      return;
    }
    if (!this.keepaliveDeadline) {
      const ws = this.ws;
      this.keepaliveDeadline = setTimeout(() => {
        this.keepaliveDeadline = null;
        if (ws === this.ws) {
          // No frame at all since the ping: treat the link as dead and resume elsewhere.
          this.ws = null;
          ws.close();
          this.onClose(1006);
        }
      }, KEEPALIVE_TIMEOUT_MS);
    }
  }

  touchKeepalive() {
    clearTimeout(this.keepaliveDeadline);
    this.keepaliveDeadline = null;
  }
}

// --- shared helpers --------------------------------------------------------------------

/**
 * Build an element: el("p", {class: "hint", dataset: {id: "x"}}, "text", child, ...).
 * Text children become text nodes (never parsed as HTML).
 */
// Many events can arrive in one burst; re-render at most once per animation frame.
export function frameScheduler(render) {
  let queued = false;
  return () => {
    if (queued) return;
    queued = true;
    requestAnimationFrame(() => {
      queued = false;
      render();
    });
  };
}

export function el(tag, attrs = {}, ...children) {
  const node = document.createElement(tag);
  for (const [name, value] of Object.entries(attrs || {})) {
    if (value === undefined || value === null || value === false) continue;
    if (name === "class") node.className = value;
    else if (name === "dataset") Object.assign(node.dataset, value);
    else if (name === "text") node.textContent = value;
    else if (name.startsWith("on") && typeof value === "function") {
      node.addEventListener(name.slice(2), value);
    } else if (value === true) node.setAttribute(name, "");
    else node.setAttribute(name, String(value));
  }
  for (const child of children.flat()) {
    if (child === undefined || child === null || child === false) continue;
    node.append(child instanceof Node ? child : document.createTextNode(String(child)));
  }
  return node;
}

const CHINA = "Asia/Shanghai";

/** "14:05" (or "14:05:09" with seconds) in China time, from epoch seconds. */
export function clock(epoch, seconds = false) {
  if (!epoch) return "";
  const options = { hour: "2-digit", minute: "2-digit", hour12: false, timeZone: CHINA };
  if (seconds) options.second = "2-digit";
  return new Date(epoch * 1000).toLocaleTimeString("zh-CN", options);
}

/** "5月12日 14:00" in China time, from epoch seconds. */
export function dateTime(epoch) {
  if (!epoch) return "";
  const parts = {};
  for (const part of new Intl.DateTimeFormat("en-GB", {
    month: "numeric", day: "numeric", hour: "2-digit", minute: "2-digit", hour12: false,
    timeZone: CHINA,
  }).formatToParts(new Date(epoch * 1000))) parts[part.type] = part.value;
  return `${parts.month}月${parts.day}日 ${parts.hour}:${parts.minute}`;
}

/** Read JSON from a <script type="application/json" id="..."> block. */
export function readJson(id, fallback) {
  const node = document.getElementById(id);
  if (!node) return fallback;
  try {
    return JSON.parse(node.textContent);
  } catch {
    return fallback;
  }
}

/** The queue order of docs/protocol.md: pinned first, then position, then age. */
export function queueOrder(questions) {
  return questions
    .filter((q) => q.state === "queued")
    .sort((a, b) => (Number(b.pinned) - Number(a.pinned)) || (a.position - b.position)
      || (a.created_at - b.created_at) || (a.id < b.id ? -1 : a.id > b.id ? 1 : 0));
}

/** Show the connection status in a banner element (hidden while connected). */
export function showStatus(node, status) {
  if (!node) return;
  node.textContent = status === "connected" ? "" : STATUS_TEXT[status] || "";
  node.hidden = status === "connected";
  node.dataset.status = status;
}

/** Characters as the server counts them (code points of the trimmed, collapsed text). */
export function charCount(text) {
  const cleaned = text.normalize("NFC").replace(/\s/gu, " ")
    .replace(/[\p{Cc}\p{Cf}\u115f\u1160\u3164\uffa0]/gu, "");
  return [...cleaned.split(" ").filter(Boolean).join(" ")].length;
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
 * Send a staff action on question `q`, quoting its version. A "conflict" caused only by
 * counters moving is retried once with the current version; any other refusal rejects.
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
