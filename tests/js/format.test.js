// Formatting shared by the pages (web/static/format.js) and the ingest wording
// (web/static/ingest_text.js).

import assert from "node:assert/strict";
import { describe, test } from "node:test";

import {
  bitrateText, charCount, clock, dateTime, parsePoint, parseSeconds, retryText, timeZone,
  truncate,
  uuidFromBytes,
  viewsText, waitText,
} from "../../web/static/format.js";
import {
  INGEST_LABELS, ingestBadgeText, ingestDetail, ingestLabel, ingestSource,
} from "../../web/static/ingest_text.js";

// 2027-01-15 08:00:05 UTC = 16:00:05 in China; 2026-05-04 01:30 UTC = 09:30 in China.
const WINTER = 1_800_000_005;
const MAY = Date.UTC(2026, 4, 4, 1, 30) / 1000;

describe("times are China time, whatever the machine's zone", () => {
  test("clock", () => {
    assert.equal(clock(WINTER), "16:00");
    assert.equal(clock(WINTER, true), "16:00:05");
    assert.equal(clock(MAY), "09:30");
    assert.equal(clock(0), "");
    assert.equal(clock(undefined), "");
  });

  test("clock and dateTime take another zone (the page's [server] time_zone)", () => {
    assert.equal(clock(MAY, false, "Asia/Tokyo"), "10:30");
    assert.equal(clock(MAY, true, "America/New_York"), "21:30:00");
    assert.equal(dateTime(MAY, "America/New_York"), "5月3日 21:30");
    assert.equal(timeZone(), "Asia/Shanghai"); // no page: the default
  });

  test("dateTime writes month and day the Chinese way, without padding", () => {
    assert.equal(dateTime(WINTER), "1月15日 16:00");
    assert.equal(dateTime(MAY), "5月4日 09:30");
    assert.equal(dateTime(Date.UTC(2026, 11, 31, 16, 5) / 1000), "1月1日 00:05", "past midnight in China");
    assert.equal(dateTime(0), "");
  });
});

describe("charCount counts as the server does", () => {
  test("code points, not UTF-16 units", () => {
    assert.equal(charCount("驾驶证"), 3);
    assert.equal(charCount("𠮷野家"), 3);
    assert.equal(charCount("👍"), 1);
  });

  test("trimmed, whitespace collapsed, invisible characters dropped", () => {
    assert.equal(charCount("  a \n\t b  "), 3);
    assert.equal(charCount("a\u200bb\u00adc"), 3, "zero-width space and soft hyphen (Cf)");
    assert.equal(charCount("a\u0007b"), 2, "control characters (Cc)");
    assert.equal(charCount("\u3164\u115f"), 0, "Hangul fillers");
    assert.equal(charCount("a\u3000b"), 3, "an ideographic space is one space");
    assert.equal(charCount(""), 0);
  });

  test("NFC first: a decomposed letter is one character", () => {
    assert.equal(charCount("e\u0301"), 1);
  });
});

describe("texts", () => {
  test("truncate counts code points", () => {
    assert.equal(truncate("一二三四五", 3), "一二三…");
    assert.equal(truncate("一二三", 3), "一二三");
    assert.equal(truncate("𠮷𠮷𠮷", 2), "𠮷𠮷…");
  });

  test("a wait is in seconds up to 90, then in whole minutes", () => {
    assert.equal(waitText(90), "90 秒");
    assert.equal(waitText(91), "2 分钟");
    assert.equal(waitText(600), "10 分钟");
    assert.equal(retryText("timed_out", 30), "你已被暂时禁言，请 30 秒后再试。");
    assert.equal(retryText("rate_limited", 120), "提问太频繁，请 2 分钟后再试。");
  });

  test("views as web.library_view.views_text writes them", () => {
    assert.equal(viewsText(0), "0 次观看");
    assert.equal(viewsText(9999), "9999 次观看");
    assert.equal(viewsText(10000), "1 万次观看");
    assert.equal(viewsText(12345), "1.2 万次观看");
    assert.equal(viewsText(250000), "25 万次观看");
  });

  test("bitrates", () => {
    assert.equal(bitrateText(850.4), "850 kbps");
    assert.equal(bitrateText(999.6), "1000 kbps");
    assert.equal(bitrateText(2100), "2.1 Mbps");
  });
});

test("parsePoint reads offsets and wall-clock times inside the recording", () => {
  const ten = 10 * 3600 + 0.4; // the recording starts at 10:00:00.4 on the desk's clock
  assert.equal(parsePoint("83.4", ten, 7200), 83.4);
  assert.equal(parsePoint("1:23.4", ten, 7200), 83.4);
  assert.ok(Math.abs(parsePoint("10:32:15", ten, 7200) - (32 * 60 + 14.6)) < 1e-9);
  assert.equal(parsePoint("1:05:00", ten, 7200), 3900); // not inside: an offset
  assert.equal(parsePoint("00:05:00", 23 * 3600 + 50 * 60, 1800), 900); // across midnight
  assert.equal(parsePoint("abc", ten, 7200), null);
});

test("parseSeconds reads a trim form's time", () => {
  assert.equal(parseSeconds("75"), 75);
  assert.equal(parseSeconds(" 1:15 "), 75);
  assert.equal(parseSeconds("0:01:15.5"), 75.5);
  assert.equal(parseSeconds("12.25"), 12.25);
  assert.equal(parseSeconds(""), 0, "a blank field reads as the start");
  assert.equal(parseSeconds("1:x"), null);
  assert.equal(parseSeconds("-3"), null);
  assert.equal(parseSeconds("1::2"), 3602, "an empty part is 0");
});

test("uuidFromBytes makes a version 4 UUID and leaves its input alone", () => {
  const bytes = new Uint8Array(16).fill(0xff);
  const id = uuidFromBytes(bytes);
  assert.equal(id, "ffffffff-ffff-4fff-bfff-ffffffffffff");
  assert.equal(bytes[6], 0xff);
  assert.match(uuidFromBytes(new Uint8Array(16)), /^00000000-0000-4000-8000-000000000000$/);
});

describe("ingest health in the staff's words", () => {
  test("the recorder's details", () => {
    assert.equal(ingestDetail("recording"), "正在录制");
    assert.equal(ingestDetail("restarting in 4.0 s"), "4.0 秒后重新连接");
    assert.equal(ingestDetail("waiting for the encoder to connect (listen rtmp://0.0.0.0:1935/live)"),
      "等待编码器推流（推流 rtmp://0.0.0.0:1935/live）");
    assert.equal(ingestDetail("starting (test picture)"), "正在启动（测试画面）");
    assert.equal(ingestDetail("something new"), "something new");
  });

  test("sources", () => {
    assert.equal(ingestSource("pull rtmp://cam/live"), "拉流 rtmp://cam/live");
    assert.equal(ingestSource("file /srv/a.mp4"), "文件 /srv/a.mp4");
    assert.equal(ingestSource("srt://x"), "srt://x");
  });

  test("the badge shows the rate only while the signal is up", () => {
    assert.equal(ingestBadgeText({ status: "up", bitrate_kbps: 2100 }), "视频：信号正常 · 2.1 Mbps");
    assert.equal(ingestBadgeText({ status: "up", bitrate_kbps: 0 }), "视频：信号正常");
    assert.equal(ingestBadgeText({ status: "down", bitrate_kbps: 2100 }), "视频：信号中断");
    assert.equal(ingestLabel({ status: "weird" }), "weird");
    for (const status of Object.keys(INGEST_LABELS)) assert.ok(ingestLabel({ status }));
  });
});
