// LiveSocket (web/static/socket.js) driven through a scripted stand-in for the browser's
// WebSocket: node has no page, and the browser tests (tests/browser/) run the real one. What
// is checked here is the client's side of docs/protocol.md's resume rules.

import assert from "node:assert/strict";
import { afterEach, beforeEach, test } from "node:test";

class ScriptedSocket {
  static CONNECTING = 0;
  static OPEN = 1;
  static CLOSED = 3;
  static made = [];

  constructor(url) {
    this.url = url;
    this.readyState = ScriptedSocket.CONNECTING;
    this.sent = [];
    this.listeners = new Map();
    ScriptedSocket.made.push(this);
  }

  addEventListener(name, listener) {
    this.listeners.set(name, listener);
  }

  send(data) {
    this.sent.push(JSON.parse(data));
  }

  close() {
    this.readyState = ScriptedSocket.CLOSED;
  }

  // --- the server's side
  open() {
    this.readyState = ScriptedSocket.OPEN;
  }

  deliver(frame) {
    this.listeners.get("message")({ data: JSON.stringify(frame) });
  }

  drop(code) {
    this.readyState = ScriptedSocket.CLOSED;
    this.listeners.get("close")({ code });
  }
}

const events = { window: new EventTarget(), document: new EventTarget() };
Object.assign(globalThis, {
  WebSocket: ScriptedSocket,
  window: events.window,
  document: Object.assign(events.document, { visibilityState: "visible" }),
  location: { protocol: "http:", host: "127.0.0.1:8080" },
});
Object.defineProperty(globalThis, "navigator", { value: { onLine: true }, configurable: true });

const { LiveSocket } = await import("../../web/static/socket.js");

let sockets = [];

function open(path = "/ws/live/s1") {
  const seen = { statuses: [], snapshots: [], events: [], errors: [] };
  const socket = new LiveSocket(path, {
    onStatus: (s) => seen.statuses.push(s),
    onSnapshot: (f) => seen.snapshots.push(f),
    onEvent: (f) => seen.events.push(f),
    onError: (f) => seen.errors.push(f),
  }).start();
  sockets.push(socket);
  return { socket, seen, ws: () => ScriptedSocket.made.at(-1) };
}

beforeEach(() => {
  ScriptedSocket.made = [];
  sockets = [];
});

afterEach(() => {
  // No timer may outlive a test: stop reconnecting and the keepalive.
  for (const socket of sockets) {
    socket.stopped = true;
    clearTimeout(socket.timer);
    socket.stopKeepalive();
  }
});

test("resumes from the last event and sends unanswered requests again, in order", async () => {
  const { socket, seen, ws } = open();
  const first = ws();
  assert.equal(first.url, "ws://127.0.0.1:8080/ws/live/s1");
  first.open();
  first.deliver({ type: "hello", resume: "snapshot", epoch: "e1", cursor: "e1:3" });
  first.deliver({ type: "snapshot", seq: 3, session: {}, questions: [] });
  assert.equal(seen.snapshots.length, 1);
  assert.deepEqual(seen.statuses, ["connected"]);

  const ask = socket.request("ask", { client_id: "c1", text: "驾驶证到期怎么换？" });
  const meToo = socket.request("me_too", { question_id: "q7" });
  assert.deepEqual(first.sent.map((f) => f.type), ["ask", "me_too"]);
  first.deliver({ type: "event", kind: "question", seq: 5, question: { id: "q8" } });
  assert.equal(seen.events.length, 1);

  first.drop(1006);
  assert.deepEqual(seen.statuses, ["connected", "reconnecting"]);
  const late = socket.request("me_too", { question_id: "q9" }); // made while disconnected
  socket.reconnectNow();
  const second = ws();
  assert.notEqual(second, first);
  assert.equal(second.url, "ws://127.0.0.1:8080/ws/live/s1?since=e1%3A5");
  second.open();
  assert.deepEqual(second.sent, [], "nothing is sent before the server's hello");
  second.deliver({ type: "hello", resume: "replay", epoch: "e1", cursor: "e1:9" });
  assert.deepEqual(second.sent.map((f) => [f.type, f.id]), first.sent.map((f) => [f.type, f.id])
    .concat([["me_too", second.sent[2].id]]));
  assert.equal(second.sent[2].question_id, "q9");
  assert.equal(seen.snapshots.length, 1, "a replay keeps the page's state");

  second.deliver({ type: "ack", re: second.sent[1].id, me_too: 4 });
  second.deliver({ type: "ack", re: second.sent[0].id, question_id: "q10" });
  second.deliver({ type: "error", re: second.sent[2].id, code: "already", message: "已经点过了" });
  assert.equal((await ask).question_id, "q10");
  assert.equal((await meToo).me_too, 4);
  await assert.rejects(late, { code: "already" });
  assert.equal(socket.pending.size, 0);
});

test("a restarted server's snapshot replaces the state; the next resume uses its epoch", () => {
  const { socket, seen, ws } = open();
  ws().open();
  ws().deliver({ type: "hello", resume: "snapshot", epoch: "e1" });
  ws().deliver({ type: "snapshot", seq: 40 });
  ws().drop(1001);
  socket.reconnectNow();
  assert.match(ws().url, /since=e1%3A40$/);
  ws().open();
  ws().deliver({ type: "hello", resume: "snapshot", epoch: "e2" });
  ws().deliver({ type: "snapshot", seq: 2 });
  assert.equal(seen.snapshots.length, 2);
  ws().drop(1006);
  socket.reconnectNow();
  assert.match(ws().url, /since=e2%3A2$/);
});

test("errors not tied to a request go to the page", () => {
  const { seen, ws } = open();
  ws().open();
  ws().deliver({ type: "hello", resume: "snapshot", epoch: "e1" });
  ws().deliver({ type: "error", code: "no_viewer", message: "请刷新页面" });
  ws().deliver({ type: "error", re: "nobody", code: "conflict" });
  assert.deepEqual(seen.errors.map((f) => f.code), ["no_viewer", "conflict"]);
  ws().deliver({ type: "ack", re: "nobody" }); // ignored
  ws().deliver("not json at all");
  assert.equal(seen.errors.length, 2);
});

test("a fatal close stops reconnecting and fails every request", async () => {
  const { socket, seen, ws } = open("/ws/staff/s1");
  ws().open();
  ws().deliver({ type: "hello", resume: "snapshot", epoch: "e1" });
  const pin = socket.request("pin", { question_id: "q1", version: 2, pinned: true });
  ws().drop(4401);
  assert.equal(seen.statuses.at(-1), "unauthorized");
  await assert.rejects(pin, { code: "unauthorized", message: "连接已失效，请刷新页面（工作人员请重新登录）。" });
  await assert.rejects(socket.request("pin", {}), { code: "unauthorized" });
  const made = ScriptedSocket.made.length;
  socket.reconnectNow();
  window.dispatchEvent(new Event("online"));
  assert.equal(ScriptedSocket.made.length, made, "no new connection after a fatal close");
  assert.equal(socket.timer, null);
});

test("going offline says so; coming back online reconnects at once", () => {
  const { socket, seen, ws } = open();
  ws().open();
  ws().deliver({ type: "hello", resume: "snapshot", epoch: "e1" });
  navigator.onLine = false;
  window.dispatchEvent(new Event("offline"));
  ws().drop(1006);
  assert.equal(seen.statuses.at(-1), "offline");
  assert.notEqual(socket.timer, null, "a reconnect is scheduled all the same");
  navigator.onLine = true;
  const made = ScriptedSocket.made.length;
  window.dispatchEvent(new Event("online"));
  assert.equal(ScriptedSocket.made.length, made + 1);
  assert.equal(socket.attempt, 0, "the back-off starts over");
});
