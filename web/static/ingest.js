// Ingest health — the recorder's view of a session's video source (docs/protocol.md, the
// "ingest" event and the staff snapshot's "ingest"): a badge for the moderation and host
// consoles, and the full panel of the admin session page. Text only ever goes in as text.

import { el } from "./socket.js";
import { bitrateText as rate, clock } from "./format.js";
import {
  INGEST_LABELS, ingestBadgeText, ingestDetail as detail, ingestLabel as label, ingestSource as source,
} from "./ingest_text.js";

export { INGEST_LABELS };

/** The consoles' badge: "视频：信号正常 · 2.1 Mbps"; the last error in its tooltip. */
export function showIngestBadge(node, ingest) {
  if (!node || !ingest) return;
  node.textContent = ingestBadgeText(ingest);
  node.className = `tag ingest ingest-${ingest.status}`;
  node.title = ingest.last_error ? `最近错误：${ingest.last_error}` : detail(ingest.detail || "");
  node.dataset.status = ingest.status;
  node.hidden = false;
}

function row(name, ...value) {
  return [el("dt", {}, name), el("dd", {}, ...value)];
}

/** The admin session page's panel: status, bitrate, last error, restarts, gaps. */
export function renderIngest(container, ingest) {
  if (!container || !ingest) return;
  const status = el("span", { id: "ingest-status", class: `tag ingest-${ingest.status}` }, label(ingest));
  const rows = [];
  if (ingest.source) rows.push(...row("来源", source(ingest.source)));
  if (ingest.detail) rows.push(...row("说明", detail(ingest.detail)));
  if (ingest.status === "up") {
    rows.push(...row("码率", el("span", { id: "ingest-bitrate" }, ingest.bitrate_kbps ? rate(ingest.bitrate_kbps) : "测量中…")));
  }
  if (ingest.status === "down" && ingest.retry_in) rows.push(...row("重试", `${ingest.retry_in} 秒后`));
  if (ingest.last_error) {
    const at = ingest.last_error_at ? `（${clock(ingest.last_error_at, true)}）` : "";
    rows.push(...row("最近错误", el("span", { id: "ingest-error", class: "ingest-error" }, ingest.last_error), at));
  }
  if (ingest.restarts) rows.push(...row("重启次数", String(ingest.restarts)));
  const gaps = ingest.gaps || [];
  if (gaps.length) {
    const count = ingest.gap_count || gaps.length;
    const items = gaps.slice().reverse().map((g) => el("li", {},
      `${clock(g.start, true)} – ${g.end ? clock(g.end, true) : "至今"}`,
      g.reason ? el("span", { class: "hint" }, ` ${g.reason}`) : null));
    rows.push(...row(`信号中断（${count} 次）`, el("ul", { class: "plain-list gaps" }, ...items)));
  }
  const parts = [el("p", {}, "视频接入：", status)];
  if (rows.length) parts.push(el("dl", { class: "ingest-details" }, ...rows));
  container.replaceChildren(...parts);
  container.dataset.status = ingest.status;
}
