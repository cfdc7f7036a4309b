// The phone broadcast page (web/templates/phone.html): the camera and microphone, recorded
// by MediaRecorder in one-second chunks, sent as binary frames over /ws/camera/SESSION
// (web/phone_pages.py) into the session's recording. Every connection is a fresh
// MediaRecorder stream (its first chunk carries the header ffmpeg needs); after a drop the
// page reconnects and starts a new one, and the recording continues behind a
// discontinuity. The decisions (format, URL, what a close means) are phone_state.js's.

import { bitrateText } from "./format.js";
import { INGEST_LABELS, ingestDetail } from "./ingest_text.js";
import { STATE_TEXT, afterClose, cameraUrl, pickMime } from "./phone_state.js";

const CHUNK_MS = 1000;
const $ = (id) => document.getElementById(id);
const root = $("camera");
const sessionId = root.dataset.sessionId;
const dom = {
  video: $("preview"), start: $("start"), stop: $("stop"), flip: $("flip"), mute: $("mute"),
  takeover: $("takeover"), state: $("state"), message: $("message"), ingest: $("ingest"),
  onAir: $("on-air"), sent: $("sent"),
};

let stream = null; // the camera and microphone
let facing = "user";
let muted = false;
let wanted = false; // the host pressed start (and not stop)
let ws = null;
let recorder = null;
let attempt = 0;
let timer = null;
let bitrate = 1_500_000;
let lastError = null;
let node = "";

function show(state, message = "") {
  dom.state.textContent = STATE_TEXT[state] || state;
  dom.state.dataset.state = state;
  dom.message.textContent = message;
  dom.start.hidden = wanted;
  dom.stop.hidden = !wanted;
  dom.takeover.hidden = state !== "busy";
}

async function openCamera() {
  const old = stream;
  stream = await navigator.mediaDevices.getUserMedia({
    video: { facingMode: facing, width: { ideal: 1280 }, height: { ideal: 720 } },
    audio: { echoCancellation: true, noiseSuppression: true },
  });
  for (const track of stream.getAudioTracks()) track.enabled = !muted;
  dom.video.srcObject = stream;
  if (old) for (const track of old.getTracks()) track.stop();
}

function stopRecorder() {
  if (recorder && recorder.state !== "inactive") recorder.stop();
  recorder = null;
}

function connect(takeover = false) {
  clearTimeout(timer);
  lastError = null;
  show("connecting");
  const socket = new WebSocket(cameraUrl(location, sessionId, { takeover, node }));
  socket.binaryType = "arraybuffer";
  ws = socket;
  socket.onmessage = (event) => {
    if (typeof event.data !== "string") return;
    const frame = JSON.parse(event.data);
    if (frame.type === "ready") startRecorder(socket);
    else if (frame.type === "state") showState(frame);
    else if (frame.type === "error") lastError = frame;
  };
  socket.onclose = (event) => {
    if (ws !== socket) return;
    ws = null;
    stopRecorder();
    if (!wanted) {
      show("idle");
      return;
    }
    const next = afterClose(event.code, lastError, attempt);
    attempt += 1;
    if (next.node !== undefined) node = next.node;
    if (next.smaller) bitrate = Math.max(300_000, Math.round(bitrate / 2));
    if (next.retry === null) wanted = false;
    show(next.state, next.message);
    if (next.retry !== null) timer = setTimeout(() => connect(), next.retry * 1000);
  };
}

function startRecorder(socket) {
  const mimeType = pickMime((type) => MediaRecorder.isTypeSupported(type));
  recorder = new MediaRecorder(stream, { mimeType, videoBitsPerSecond: bitrate,
                                         audioBitsPerSecond: 64_000 });
  recorder.ondataavailable = (event) => {
    if (event.data.size > 0 && socket.readyState === WebSocket.OPEN) socket.send(event.data);
  };
  recorder.start(CHUNK_MS);
  attempt = 0;
  show("live", "画面正在发送到直播间。");
}

function showState(frame) {
  const ingest = frame.ingest || {};
  let text = `视频：${INGEST_LABELS[ingest.status] || ingest.status || "未知"}`;
  if (ingest.status === "up" && ingest.bitrate_kbps) text += ` · ${bitrateText(ingest.bitrate_kbps)}`;
  else if (ingest.detail) text += `（${ingestDetail(ingest.detail)}）`;
  dom.ingest.textContent = text;
  dom.ingest.dataset.status = ingest.status || "";
  dom.onAir.textContent = frame.on_air || "（暂无）";
  dom.sent.textContent = `${(frame.received / 1_048_576).toFixed(1)} MB`;
}

function stop() {
  wanted = false;
  clearTimeout(timer);
  stopRecorder();
  if (ws) ws.close(1000, "stop");
  show("idle", "已停止推流。");
}

async function start(takeover = false) {
  wanted = true;
  attempt = 0;
  try {
    if (!stream) await openCamera();
  } catch (error) {
    wanted = false;
    show("stopped", cameraError(error));
    return;
  }
  connect(takeover);
}

function cameraError(error) {
  if (error && error.name === "NotAllowedError") return "没有摄像头或麦克风权限：请在浏览器设置中允许后重试。";
  if (!window.isSecureContext) return "手机直播需要通过 HTTPS 打开本页。";
  return "无法打开摄像头或麦克风。";
}

dom.start.addEventListener("click", () => start(false));
dom.takeover.addEventListener("click", () => start(true));
dom.stop.addEventListener("click", stop);
dom.mute.addEventListener("click", () => {
  muted = !muted;
  if (stream) for (const track of stream.getAudioTracks()) track.enabled = !muted;
  dom.mute.setAttribute("aria-pressed", String(muted));
  dom.mute.textContent = muted ? "取消静音" : "静音";
});
dom.flip.addEventListener("click", async () => {
  facing = facing === "user" ? "environment" : "user";
  try {
    await openCamera();
  } catch (error) {
    show("stopped", cameraError(error));
    return;
  }
  // A MediaRecorder cannot change its tracks: a new stream, over a new connection.
  if (wanted && ws) {
    lastError = { code: "restart" }; // reconnect at once
    ws.close(1000, "switch camera");
  }
});

if (!window.MediaRecorder || !navigator.mediaDevices) {
  dom.start.disabled = true;
  show("stopped", window.isSecureContext ? "这个浏览器不支持网页直播，请换用新版 Chrome、Safari 或微信内置浏览器。"
    : "手机直播需要通过 HTTPS 打开本页。");
} else {
  show("idle");
  openCamera().catch((error) => show("idle", cameraError(error)));
}
