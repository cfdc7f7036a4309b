// The live stream's protocol state, without the DOM or a socket (tests/js/stream.test.js):
// the reconnect back-off, the resume cursor (?since=EPOCH:SEQ), which close codes end the
// connection for good, and the requests waiting for their ack or error (docs/protocol.md).
// socket.js drives these from a real WebSocket.

export const BACKOFF_START_MS = 500;
export const BACKOFF_MAX_MS = 10_000;

/** The wait before reconnect attempt `attempt` (0, 1, …): doubling from `start` up to
 * `max`, plus up to 30 % jitter so that a restarted server is not hit by everyone at once. */
export function backoffDelay(attempt, { start = BACKOFF_START_MS, max = BACKOFF_MAX_MS,
  random = Math.random } = {}) {
  const base = Math.min(max, start * 2 ** attempt);
  return base + random() * base * 0.3;
}

// Close codes after which reconnecting cannot help (see docs/protocol.md).
const FATAL_CLOSE = new Map([
  [4400, "stopped"],
  [4401, "unauthorized"],
  [1003, "stopped"],
  [1009, "stopped"],
]);

/** The final status a close code leaves the socket in, or "" when reconnecting may help. */
export function fatalStatus(code) {
  return FATAL_CLOSE.get(code) || "";
}

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

/** A request id unique on this page (and very likely across pages). */
export function newRequestId() {
  requestCounter += 1;
  const random = Math.random().toString(36).slice(2, 8);
  return `r${Date.now().toString(36)}-${requestCounter}-${random}`;
}

/**
 * Where the page is in the stream: the epoch of the server's stream and the seq of the last
 * snapshot or event handled. A reconnect asks to resume from here.
 */
export class StreamCursor {
  constructor() {
    this.epoch = "";
    this.seq = null;
  }

  /** "EPOCH:SEQ" to resume from, or "" when there is nothing to resume (a snapshot is due). */
  since() {
    return this.epoch && this.seq !== null ? `${this.epoch}:${this.seq}` : "";
  }

  /** The hello of a new connection. A snapshot follows when the server cannot replay from
   * our cursor ("snapshot") or the stream is another one (a restarted server's new epoch). */
  hello(frame) {
    if (frame.resume === "snapshot" || frame.epoch !== this.epoch) this.seq = null;
    this.epoch = frame.epoch;
  }

  snapshot(frame) {
    this.seq = frame.seq;
  }

  event(frame) {
    if (typeof frame.seq === "number") this.seq = frame.seq;
  }
}

/** The websocket URL for `path` on the page's origin, resuming from `since` when given. */
export function streamUrl(location, path, since = "") {
  const scheme = location.protocol === "https:" ? "wss:" : "ws:";
  let url = `${scheme}//${location.host}${path}`;
  if (since) url += `?since=${encodeURIComponent(since)}`;
  return url;
}

/**
 * Requests sent and not yet answered, in the order they were made: each is settled by the
 * ack or error frame whose `re` is its id, sent again in order after a reconnect, or failed
 * all at once when the connection ends for good.
 */
export class PendingRequests {
  constructor() {
    this.entries = new Map(); // id -> {frame, resolve, reject}
  }

  get size() {
    return this.entries.size;
  }

  has(id) {
    return this.entries.has(id);
  }

  /** Remember `frame` (which carries its `id`); the promise settles with its answer. */
  add(frame) {
    return new Promise((resolve, reject) => {
      this.entries.set(frame.id, { frame, resolve, reject });
    });
  }

  /** Settle the request an ack or error frame answers: an ack resolves with the frame, an
   * error rejects with a RequestError. False when no request waits for this answer. */
  settle(frame) {
    const entry = this.entries.get(frame.re);
    if (!entry) return false;
    this.entries.delete(frame.re);
    if (frame.type === "ack") entry.resolve(frame);
    else entry.reject(new RequestError(frame));
    return true;
  }

  /** The frames still waiting, oldest first: what to send again on a new connection. */
  frames() {
    return [...this.entries.values()].map((entry) => entry.frame);
  }

  /** Reject every waiting request with the same refusal (the connection has ended). */
  failAll(frame) {
    for (const entry of this.entries.values()) entry.reject(new RequestError(frame));
    this.entries.clear();
  }
}
