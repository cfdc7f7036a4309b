// Formatting shared by the pages, without the DOM (tests/js/format.test.js): times in the
// desk's time zone, characters as the server counts them, counts and rates as staff and
// viewers read them.

const DEFAULT_ZONE = "Asia/Shanghai";

/** The desk's time zone ([server] time_zone): the page's <html data-time-zone>, if any. */
export function timeZone() {
  return globalThis.document?.documentElement?.dataset?.timeZone || DEFAULT_ZONE;
}

/** "14:05" (or "14:05:09" with seconds) in the desk's time zone, from epoch seconds. */
export function clock(epoch, seconds = false, zone = timeZone()) {
  if (!epoch) return "";
  const options = { hour: "2-digit", minute: "2-digit", hour12: false, timeZone: zone };
  if (seconds) options.second = "2-digit";
  return new Date(epoch * 1000).toLocaleTimeString("zh-CN", options);
}

/** "5月12日 14:00" in the desk's time zone, from epoch seconds. */
export function dateTime(epoch, zone = timeZone()) {
  if (!epoch) return "";
  const parts = {};
  for (const part of new Intl.DateTimeFormat("en-GB", {
    month: "numeric", day: "numeric", hour: "2-digit", minute: "2-digit", hour12: false,
    timeZone: zone,
  }).formatToParts(new Date(epoch * 1000))) parts[part.type] = part.value;
  // en-GB pads the month and day ("05/01"); the Chinese form does not ("1月5日").
  return `${Number(parts.month)}月${Number(parts.day)}日 ${parts.hour}:${parts.minute}`;
}

/** Characters as the server counts them (code points of the trimmed, collapsed text). */
export function charCount(text) {
  const cleaned = text.normalize("NFC").replace(/\s/gu, " ")
    .replace(/[\p{Cc}\p{Cf}\u115f\u1160\u3164\uffa0]/gu, "");
  return [...cleaned.split(" ").filter(Boolean).join(" ")].length;
}

/** The first `n` characters (code points) of `text`, with "…" when it was longer. */
export function truncate(text, n) {
  const chars = [...text];
  return chars.length > n ? `${chars.slice(0, n).join("")}…` : text;
}

/** How long to wait, for a refusal's countdown: seconds, or whole minutes past 90 s. */
export function waitText(seconds) {
  return seconds > 90 ? `${Math.ceil(seconds / 60)} 分钟` : `${seconds} 秒`;
}

/** The ask box's countdown after a refusal with retry_after ("rate_limited", "timed_out"). */
export function retryText(code, seconds) {
  const wait = waitText(seconds);
  if (code === "timed_out") return `你已被暂时禁言，请 ${wait}后再试。`;
  return `提问太频繁，请 ${wait}后再试。`;
}

/** The same wording as the server's web.library_view.views_text. */
export function viewsText(views) {
  if (views < 10000) return `${views} 次观看`;
  return `${(views / 10000).toFixed(1).replace(/\.0$/, "")} 万次观看`;
}

/** A bitrate: "850 kbps", "2.1 Mbps". */
export function bitrateText(kbps) {
  return kbps >= 1000 ? `${(kbps / 1000).toFixed(1)} Mbps` : `${Math.round(kbps)} kbps`;
}

/** Seconds from "75", "1:15" or "0:01:15.5" (a trim form's field; blank reads as 0), or null
 * when it is not a time. */
export function parseSeconds(text) {
  const parts = text.trim().split(":").map(Number);
  if (!parts.length || parts.some((p) => !Number.isFinite(p) || p < 0)) return null;
  return parts.reduce((total, p) => total * 60 + p, 0);
}

/** A trim field as seconds from the recording's start: an offset ("83.4", "1:23.4"), or a
 * wall-clock time of the broadcast ("10:32:15") when it falls inside the recording, given the
 * recording's start as seconds after midnight on the desk's clock and its length (the server's
 * clips/trim_points.py decides the same way); null when it is neither. */
export function parsePoint(text, originClock, duration) {
  const seconds = parseSeconds(text);
  if (seconds === null) return null;
  const parts = text.trim().split(":").map(Number);
  if (parts.length === 3 && Number.isFinite(originClock) && Number.isFinite(duration)
      && Number.isInteger(parts[0]) && parts[0] < 24 && Number.isInteger(parts[1])
      && parts[1] < 60 && parts[2] < 60) {
    const since = (seconds - originClock + 86400) % 86400;
    if (since <= duration) return since;
  }
  return seconds;
}

/** A version 4 UUID from 16 random bytes (where crypto.randomUUID is missing: plain http). */
export function uuidFromBytes(bytes) {
  const b = Uint8Array.from(bytes);
  b[6] = (b[6] & 0x0f) | 0x40;
  b[8] = (b[8] & 0x3f) | 0x80;
  const hex = [...b].map((x) => x.toString(16).padStart(2, "0")).join("");
  return `${hex.slice(0, 8)}-${hex.slice(8, 12)}-${hex.slice(12, 16)}-${hex.slice(16, 20)}-${hex.slice(20)}`;
}
