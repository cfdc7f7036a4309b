// The phone broadcast page's decisions (web/static/phone_state.js): the recording format,
// the camera socket's URL, and what each refusal or close leads to.

import assert from "node:assert/strict";
import { describe, test } from "node:test";

import { MIME_TYPES, afterClose, cameraUrl, pickMime, retryDelay } from "../../web/static/phone_state.js";
import { ingestDetail, ingestSource } from "../../web/static/ingest_text.js";

describe("recording format", () => {
  test("VP8/Opus WebM first, MP4 for Safari, else the browser's default", () => {
    assert.equal(pickMime(() => true), "video/webm;codecs=vp8,opus");
    assert.equal(pickMime((t) => t === "video/mp4"), "video/mp4");
    assert.equal(pickMime(() => false), "");
    assert.equal(MIME_TYPES.at(-1), "video/mp4");
  });
});

describe("camera socket URL", () => {
  test("same host, ws or wss, takeover and node in the query", () => {
    const https = { protocol: "https:", host: "help.example.cn" };
    assert.equal(cameraUrl(https, "abc"), "wss://help.example.cn/ws/camera/abc");
    assert.equal(cameraUrl({ protocol: "http:", host: "127.0.0.1:8080" }, "a b", { takeover: true }),
      "ws://127.0.0.1:8080/ws/camera/a%20b?takeover=1");
    assert.equal(cameraUrl(https, "abc", { node: "node2" }), "wss://help.example.cn/ws/camera/abc?node=node2");
  });
});

describe("after a close", () => {
  test("busy offers a takeover and does not retry", () => {
    const next = afterClose(4409, { code: "busy" }, 0);
    assert.equal(next.state, "busy");
    assert.equal(next.retry, null);
    assert.equal(next.takeover, true);
  });
  test("not live yet: wait and try again; ended: stop", () => {
    assert.deepEqual([afterClose(4409, { code: "not_live" }, 3).retry, afterClose(4409, { code: "not_live" }, 3).state],
      [5, "waiting"]);
    assert.equal(afterClose(1000, { code: "not_live" }, 0).state, "ended");
    assert.equal(afterClose(1000, { code: "not_live" }, 0).retry, null);
  });
  test("refusals that retrying cannot fix stop with a reason", () => {
    for (const code of ["unauthorized", "forbidden", "wrong_source", "recording_off", "taken_over"]) {
      const next = afterClose(4403, { code }, 0);
      assert.equal(next.retry, null, code);
      assert.ok(next.message.length > 0, code);
    }
  });
  test("a restart reconnects at once; another node, a drop: with the back-off", () => {
    assert.equal(afterClose(4000, { code: "restart" }, 5).retry, 0);
    assert.equal(afterClose(4000, null, 5).retry, 0);
    const elsewhere = afterClose(1013, { code: "elsewhere", node: "node2" }, 1);
    assert.deepEqual([elsewhere.retry, elsewhere.node], [2, "node2"]);
    assert.equal(afterClose(1006, null, 0).retry, 1);
    assert.equal(afterClose(1006, null, 9).retry, 10);
    assert.equal(retryDelay(2), 4);
  });
  test("an oversize frame retries at a lower bitrate; too fast waits", () => {
    assert.equal(afterClose(1009, null, 0).smaller, true);
    assert.equal(afterClose(4429, { code: "too_fast" }, 0).retry, 10);
  });
});

describe("the phone source in the staff's words", () => {
  test("label and details", () => {
    assert.equal(ingestSource("phone browser"), "手机直播");
    assert.equal(ingestDetail("waiting for the phone to connect"), "等待手机连接");
    assert.equal(ingestDetail("waiting for the phone to reconnect"), "等待手机重新连接");
  });
});
