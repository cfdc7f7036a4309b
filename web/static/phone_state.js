// The phone broadcast page's decisions, without the DOM (tests/js/phone_state.test.js):
// which recording format to ask MediaRecorder for, the camera socket's URL, and what to do
// when the socket closes (web/phone_pages.py lists the refusals and close codes).

// First the formats ffmpeg reads best from a pipe; Safari records only fragmented MP4.
export const MIME_TYPES = [
  "video/webm;codecs=vp8,opus",
  "video/webm;codecs=vp9,opus",
  "video/webm;codecs=h264,opus",
  "video/webm",
  "video/mp4",
];

/** The first format this browser's MediaRecorder supports, or "" (then its default). */
export function pickMime(isTypeSupported) {
  return MIME_TYPES.find((type) => isTypeSupported(type)) || "";
}

/** The camera socket's URL for a page at `location`. */
export function cameraUrl(location, sessionId, { takeover = false, node = "" } = {}) {
  const scheme = location.protocol === "https:" ? "wss:" : "ws:";
  const query = new URLSearchParams();
  if (takeover) query.set("takeover", "1");
  if (node) query.set("node", node);
  const qs = query.toString();
  return `${scheme}//${location.host}/ws/camera/${encodeURIComponent(sessionId)}${qs ? `?${qs}` : ""}`;
}

/** Seconds to wait before connection attempt `attempt` (0, 1, 2 …): 1 s doubling to 10 s. */
export function retryDelay(attempt) {
  return Math.min(10, 2 ** Math.max(0, attempt));
}

const MESSAGES = {
  unauthorized: "登录已失效，请重新登录后再开始。",
  forbidden: "只有本场直播的主持人或管理员可以用手机直播。",
  wrong_source: "本场直播的视频源不是“手机直播”，请管理员在场次设置中选择。",
  recording_off: "服务器没有开启视频录制，无法直播。",
  taken_over: "另一台设备接管了本场直播的画面。",
  binary_only: "页面出错了，请刷新后重试。",
};

/**
 * What to do after the camera socket closed: `{ state, message, retry (seconds or null),
 * takeover (offer to take over), node (where to reconnect) }`.
 * `error` is the last error frame received (or null), `code` the close code.
 */
export function afterClose(code, error, attempt) {
  const reason = error ? error.code : "";
  if (reason === "busy") {
    return { state: "busy", message: "另一台设备正在为本场直播推流。", retry: null, takeover: true };
  }
  if (reason === "not_live") {
    // Before the start: wait for it. After the end (a normal close): stop.
    if (code === 1000) return { state: "ended", message: "直播已结束。", retry: null };
    return { state: "waiting", message: "直播尚未开始，开始后自动推流……", retry: 5 };
  }
  if (reason in MESSAGES) return { state: "stopped", message: MESSAGES[reason], retry: null };
  if (reason === "elsewhere") {
    return { state: "reconnecting", message: "正在等待服务器就绪……", retry: retryDelay(attempt),
             node: error.node || "" };
  }
  if (reason === "restart" || code === 4000) {
    return { state: "reconnecting", message: "正在重新连接……", retry: 0 };
  }
  if (reason === "too_fast") {
    return { state: "reconnecting", message: "发送太快，稍后重试……", retry: 10 };
  }
  if (code === 1009) {
    return { state: "reconnecting", message: "画面数据过大，正在降低码率重试……", retry: 1,
             smaller: true };
  }
  return { state: "reconnecting", message: "网络中断，正在重新连接……", retry: retryDelay(attempt) };
}

export const STATE_TEXT = {
  idle: "未开始",
  connecting: "正在连接",
  live: "推流中",
  reconnecting: "正在重新连接",
  waiting: "等待直播开始",
  busy: "已有设备在推流",
  stopped: "已停止",
  ended: "直播已结束",
};
