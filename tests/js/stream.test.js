// The live stream's protocol state (web/static/stream.js): back-off, resume cursor, close
// codes and requests waiting for their answer.

import assert from "node:assert/strict";
import { describe, test } from "node:test";

import {
  PendingRequests, RequestError, STATUS_TEXT, StreamCursor, backoffDelay, fatalStatus,
  newRequestId, streamUrl,
} from "../../web/static/stream.js";

describe("backoffDelay", () => {
  test("doubles from 0.5 s and stops at 10 s", () => {
    const none = () => 0;
    const delays = [0, 1, 2, 3, 4, 5, 6, 12].map((attempt) => backoffDelay(attempt, { random: none }));
    assert.deepEqual(delays, [500, 1000, 2000, 4000, 8000, 10_000, 10_000, 10_000]);
  });

  test("adds up to 30 % jitter", () => {
    assert.equal(backoffDelay(1, { random: () => 0.5 }), 1150);
    assert.equal(backoffDelay(9, { random: () => 1 }), 13_000);
    for (let i = 0; i < 50; i += 1) {
      const delay = backoffDelay(2);
      assert.ok(delay >= 2000 && delay <= 2600, String(delay));
    }
  });

  test("takes the player's own start and ceiling", () => {
    const delays = [0, 3, 4, 8].map((a) => backoffDelay(a, { start: 1000, max: 15_000, random: () => 0 }));
    assert.deepEqual(delays, [1000, 8000, 15_000, 15_000]);
  });
});

describe("fatalStatus", () => {
  test("ends for good only where reconnecting cannot help", () => {
    assert.equal(fatalStatus(4400), "stopped");
    assert.equal(fatalStatus(4401), "unauthorized");
    assert.equal(fatalStatus(1003), "stopped");
    assert.equal(fatalStatus(1009), "stopped");
    for (const code of [1000, 1001, 1006, 1011, 1012, 4008]) assert.equal(fatalStatus(code), "", String(code));
  });

  test("every final status has words for the banner", () => {
    for (const code of [4400, 4401, 1003, 1009]) assert.ok(STATUS_TEXT[fatalStatus(code)]);
  });
});

describe("StreamCursor", () => {
  test("has nothing to resume before the first snapshot", () => {
    const cursor = new StreamCursor();
    assert.equal(cursor.since(), "");
    cursor.hello({ type: "hello", resume: "snapshot", epoch: "e1", cursor: "e1:4" });
    assert.equal(cursor.since(), "", "the snapshot that follows sets the seq");
    cursor.snapshot({ type: "snapshot", seq: 4 });
    assert.equal(cursor.since(), "e1:4");
  });

  test("follows events, and ignores frames without a seq", () => {
    const cursor = new StreamCursor();
    cursor.hello({ resume: "snapshot", epoch: "e1" });
    cursor.snapshot({ seq: 4 });
    cursor.event({ kind: "question", seq: 9 });
    assert.equal(cursor.since(), "e1:9");
    cursor.event({ kind: "question" });
    assert.equal(cursor.since(), "e1:9");
    cursor.event({ kind: "question", seq: "10" });
    assert.equal(cursor.since(), "e1:9", "a seq must be a number");
  });

  test("keeps its place when the server replays", () => {
    const cursor = new StreamCursor();
    cursor.hello({ resume: "snapshot", epoch: "e1" });
    cursor.snapshot({ seq: 4 });
    cursor.hello({ resume: "replay", epoch: "e1" });
    assert.equal(cursor.since(), "e1:4");
    cursor.event({ seq: 5 });
    assert.equal(cursor.since(), "e1:5");
  });

  test("starts over when the buffer no longer reaches back", () => {
    const cursor = new StreamCursor();
    cursor.hello({ resume: "snapshot", epoch: "e1" });
    cursor.snapshot({ seq: 4 });
    cursor.hello({ resume: "snapshot", epoch: "e1" });
    assert.equal(cursor.since(), "");
    cursor.snapshot({ seq: 120 });
    assert.equal(cursor.since(), "e1:120");
  });

  test("starts over on a restarted server's new epoch, even if it says replay", () => {
    const cursor = new StreamCursor();
    cursor.hello({ resume: "snapshot", epoch: "e1" });
    cursor.snapshot({ seq: 40 });
    cursor.hello({ resume: "replay", epoch: "e2" });
    assert.equal(cursor.since(), "");
    assert.equal(cursor.epoch, "e2");
    cursor.snapshot({ seq: 0 });
    assert.equal(cursor.since(), "e2:0", "seq 0 is a place to resume from");
  });
});

describe("streamUrl", () => {
  test("uses the page's origin and scheme", () => {
    assert.equal(streamUrl({ protocol: "http:", host: "10.0.0.5:8080" }, "/ws/live/s1"),
      "ws://10.0.0.5:8080/ws/live/s1");
    assert.equal(streamUrl({ protocol: "https:", host: "tips.example" }, "/ws/staff/s1"),
      "wss://tips.example/ws/staff/s1");
  });

  test("asks to resume from the cursor, encoded", () => {
    assert.equal(streamUrl({ protocol: "https:", host: "h" }, "/ws/live/s1", "abc:17"),
      "wss://h/ws/live/s1?since=abc%3A17");
  });
});

describe("PendingRequests", () => {
  test("an ack resolves its request with the frame", async () => {
    const pending = new PendingRequests();
    const answer = pending.add({ type: "ask", id: "r1", text: "x" });
    assert.equal(pending.size, 1);
    assert.equal(pending.settle({ type: "ack", re: "r1", question_id: "q1" }), true);
    assert.deepEqual(await answer, { type: "ack", re: "r1", question_id: "q1" });
    assert.equal(pending.size, 0);
    assert.equal(pending.has("r1"), false);
  });

  test("an error rejects with the frame's fields", async () => {
    const pending = new PendingRequests();
    const answer = pending.add({ type: "ask", id: "r1" });
    const current = { id: "q1", version: 3 };
    pending.settle({
      type: "error", re: "r1", code: "rate_limited", message: "提问太频繁", retry_after: 12,
      current, field: "text",
    });
    await assert.rejects(answer, (err) => {
      assert.ok(err instanceof RequestError);
      assert.equal(err.message, "提问太频繁");
      assert.equal(err.code, "rate_limited");
      assert.equal(err.retryAfter, 12);
      assert.equal(err.current, current);
      assert.equal(err.field, "text");
      return true;
    });
  });

  test("an answer to nobody settles nothing", async () => {
    const pending = new PendingRequests();
    const answer = pending.add({ type: "pin", id: "r1" });
    assert.equal(pending.settle({ type: "ack", re: "r2" }), false);
    assert.equal(pending.settle({ type: "error", code: "bad_frame" }), false);
    assert.deepEqual(pending.frames().map((f) => f.id), ["r1"]);
    pending.settle({ type: "ack", re: "r1" });
    await answer;
    assert.equal(pending.settle({ type: "ack", re: "r1" }), false, "settled once only");
  });

  test("what is still waiting is sent again oldest first", async () => {
    const pending = new PendingRequests();
    const answers = ["r1", "r2", "r3"].map((id) => pending.add({ type: "ask", id }));
    pending.settle({ type: "ack", re: "r2" });
    await answers[1];
    assert.deepEqual(pending.frames(), [{ type: "ask", id: "r1" }, { type: "ask", id: "r3" }]);
    for (const id of ["r1", "r3"]) pending.settle({ type: "ack", re: id });
    await Promise.all(answers);
  });

  test("failAll rejects everything with one refusal", async () => {
    const pending = new PendingRequests();
    const answers = ["r1", "r2"].map((id) => pending.add({ type: "ask", id }));
    pending.failAll({ code: "unauthorized", message: STATUS_TEXT.unauthorized });
    assert.equal(pending.size, 0);
    for (const answer of answers) {
      await assert.rejects(answer, { name: "RequestError", code: "unauthorized", message: STATUS_TEXT.unauthorized });
    }
  });
});

describe("RequestError", () => {
  test("falls back to the code, then to a generic message", () => {
    assert.equal(new RequestError({ code: "conflict" }).message, "conflict");
    const bare = new RequestError({});
    assert.equal(bare.message, "请求失败");
    assert.equal(bare.code, "error");
    assert.equal(bare.retryAfter, 0);
  });
});

test("request ids do not repeat", () => {
  const ids = new Set(Array.from({ length: 1000 }, () => newRequestId()));
  assert.equal(ids.size, 1000);
  for (const id of ids) assert.match(id, /^r[0-9a-z]+-\d+-[0-9a-z]*$/);
});
