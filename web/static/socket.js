// The live websocket client shared by the viewer page and the staff consoles.
//
// Implements docs/protocol.md: reconnects with a backoff (0.5 s doubling to 10 s, plus
// jitter) and resumes with ?since=EPOCH:SEQ; hands a snapshot to the page to replace its
// state, or lets replayed events flow through as usual; matches requests to their ack/error
// by id and sends unacknowledged requests again after a reconnect. The decisions (back-off,
// cursor, close codes, pending requests) are stream.js's; this module wires them to a
// WebSocket and the page's online/visibility events.
//
// A few small DOM helpers the pages share live at the bottom of this module; pure logic is
// in stream.js, questions.js and format.js (tested under node, tests/js/).

import {
  PendingRequests, RequestError, STATUS_TEXT, StreamCursor, backoffDelay, fatalStatus,
  newRequestId, streamUrl,
} from "./stream.js";

export { RequestError, STATUS_TEXT };

const KEEPALIVE_MS = 25_000; // an application ping, to notice a dead link on sleepy phones
const KEEPALIVE_TIMEOUT_MS = 10_000;

export class LiveSocket {
  /**
   * @param {string} path  e.g. "/ws/live/SESSION"
   * @param {object} handlers  onSnapshot(frame), onEvent(frame), onHello(frame),
   *   onStatus(status), onError(frame) for errors not tied to a request
   */
  constructor(path, handlers = {}) {
    this.path = path;
    this.handlers = handlers;
    this.cursor = new StreamCursor();
    this.ws = null;
    this.ready = false; // hello received on the current socket
    this.status = "connecting";
    this.attempt = 0;
    this.timer = null;
    this.keepalive = null;
    this.keepaliveDeadline = null;
    this.pending = new PendingRequests();
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
    return streamUrl(location, this.path, this.cursor.since());
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
        this.cursor.snapshot(frame);
        if (this.handlers.onSnapshot) this.handlers.onSnapshot(frame);
        break;
      case "event":
        this.cursor.event(frame);
        if (this.handlers.onEvent) this.handlers.onEvent(frame);
        break;
      case "ack":
        this.pending.settle(frame);
        break;
      case "error":
        if (!(frame.re && this.pending.settle(frame)) && this.handlers.onError) {
          this.handlers.onError(frame);
        }
        break;
      default:
        break;
    }
  }

  onHelloFrame(frame) {
    this.cursor.hello(frame); // after a "snapshot" resume, the snapshot replaces the page's state
    this.ready = true;
    this.attempt = 0;
    this.setStatus("connected");
    if (this.handlers.onHello) this.handlers.onHello(frame);
    // Whatever was not acknowledged on the previous socket is sent again, in order.
    for (const pending of this.pending.frames()) this.transmit(pending);
    this.startKeepalive();
  }

  onClose(code) {
    this.ready = false;
    this.ws = null;
    this.stopKeepalive();
    const fatal = fatalStatus(code);
    if (fatal) {
      this.stopped = true;
      this.setStatus(fatal);
      this.pending.failAll({ code: fatal, message: STATUS_TEXT[fatal] });
      return;
    }
    this.scheduleReconnect();
  }

  scheduleReconnect() {
    if (this.stopped || this.timer) return;
    this.setStatus(navigator.onLine === false ? "offline" : "reconnecting");
    const delay = backoffDelay(this.attempt);
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
    const frame = { type, id: newRequestId(), ...fields };
    const answer = this.pending.add(frame);
    if (this.ready) this.transmit(frame);
    return answer;
  }

  transmit(frame) {
    if (!this.ws || this.ws.readyState !== WebSocket.OPEN) return;
    try {
      this.ws.send(JSON.stringify(frame));
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

/**
 * Build an element: el("p", {class: "hint", dataset: {id: "x"}}, "text", child, ...).
 * Text children become text nodes (never parsed as HTML).
 */
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

/** Show the connection status in a banner element (hidden while connected). */
export function showStatus(node, status) {
  if (!node) return;
  node.textContent = status === "connected" ? "" : STATUS_TEXT[status] || "";
  node.hidden = status === "connected";
  node.dataset.status = status;
}
