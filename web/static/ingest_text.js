// The recorder's ingest health in the staff's words, without the DOM
// (tests/js/ingest_text.test.js). The recorder reports in English (it is plain Python, for
// logs too); staff read Chinese. ingest.js puts these into the consoles' badge and the admin
// session page's panel.

import { bitrateText } from "./format.js";

export const INGEST_LABELS = {
  idle: "未开始",
  starting: "正在连接",
  up: "信号正常",
  down: "信号中断",
  stopped: "已停止",
  off: "未开启",
};

const DETAIL = [
  [/^recording$/, () => "正在录制"],
  [/^session ended$/, () => "直播已结束，录像已保存"],
  [/^restarting in (.+) s$/, (m) => `${m[1]} 秒后重新连接`],
  [/^waiting for the encoder to connect \((.*)\)$/, (m) => `等待编码器推流（${ingestSource(m[1])}）`],
  [/^starting \((.*)\)$/, (m) => `正在启动（${ingestSource(m[1])}）`],
  [/^waiting for the phone to connect$/, () => "等待手机连接"],
  [/^waiting for the phone to reconnect$/, () => "等待手机重新连接"],
  [/^the phone disconnected$/, () => "手机连接中断"],
  [/^the recorder failed; stop and start again$/, () => "录制程序出错：请结束直播后重新开始"],
];
const SOURCE = [["phone browser", "手机直播"], ["test picture", "测试画面"], ["file ", "文件 "], ["pull ", "拉流 "], ["listen ", "推流 "]];

/** A video source as the recorder names it ("pull rtmp://…"), in Chinese; unknown ones as is. */
export function ingestSource(text) {
  for (const [en, zh] of SOURCE) if (text.startsWith(en)) return zh + text.slice(en.length);
  return text;
}

/** The recorder's detail line in Chinese; one it does not know stays as it is. */
export function ingestDetail(text) {
  for (const [pattern, make] of DETAIL) {
    const m = pattern.exec(text);
    if (m) return make(m);
  }
  return text;
}

/** The status in a word: "信号正常". */
export function ingestLabel(ingest) {
  return INGEST_LABELS[ingest.status] || ingest.status;
}

/** The consoles' badge: "视频：信号正常 · 2.1 Mbps" (the rate only while the signal is up). */
export function ingestBadgeText(ingest) {
  let text = `视频：${ingestLabel(ingest)}`;
  if (ingest.status === "up" && ingest.bitrate_kbps) text += ` · ${bitrateText(ingest.bitrate_kbps)}`;
  return text;
}
