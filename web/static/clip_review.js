// Clip review and hand-made clips: nudge the in/out points, preview the span on the
// session's recording (HLS, through hls.js where the browser needs it), take the preview's
// current time as a point. (Confirming a deletion is confirm.js's, on every page.)

import { parsePoint } from "./format.js";
import { hasMse, loadHls } from "./player.js";

const trim = document.getElementById("trim");
const video = document.getElementById("preview-video");
const status = document.getElementById("preview-status");
const inField = document.getElementById("trim-in");
const outField = document.getElementById("trim-out");
let attached = null; // the recording's player, once loaded
let stopAt = null;

function seconds(field) {
  // Offsets, or wall-clock times of the broadcast (the server reads both the same way).
  return parsePoint(field.value, Number(trim.dataset.originClock), Number(trim.dataset.duration));
}

function say(text) {
  if (status) status.textContent = text;
}

async function attach() {
  if (attached) return attached;
  const src = trim.dataset.recording;
  video.hidden = false;
  if (hasMse()) {
    const Hls = await loadHls(trim.dataset.hls);
    const hls = new Hls({ enableWorker: true });
    hls.loadSource(src);
    hls.attachMedia(video);
    hls.on(Hls.Events.ERROR, (_event, data) => {
      if (data.fatal) say("录像加载失败，请刷新页面重试。");
    });
    await new Promise((resolve) => hls.once(Hls.Events.MANIFEST_PARSED, resolve));
  } else if (video.canPlayType("application/vnd.apple.mpegurl")) {
    video.src = src;
  } else {
    say("当前浏览器无法播放录像。");
    throw new Error("no HLS");
  }
  video.addEventListener("timeupdate", () => {
    if (stopAt !== null && video.currentTime >= stopAt) {
      video.pause();
      stopAt = null;
      say("预览结束。");
    }
  });
  attached = video;
  return video;
}

async function preview() {
  const start = seconds(inField);
  const end = seconds(outField);
  if (start === null || end === null || end <= start) {
    say("请先填写入点和出点（出点要晚于入点）。");
    return;
  }
  try {
    await attach();
  } catch {
    return;
  }
  stopAt = end;
  video.currentTime = start;
  say(`预览 ${start.toFixed(1)} – ${end.toFixed(1)} 秒`);
  try {
    await video.play();
  } catch {
    say("请点击播放按钮开始预览。");
  }
}

if (trim && trim.dataset.recording && video) {
  document.getElementById("trim-preview")?.addEventListener("click", preview);
  document.getElementById("show-recording")?.addEventListener("click", async () => {
    stopAt = null;
    try {
      await attach();
      await video.play();
    } catch {
      say("请点击播放按钮。");
    }
  });
  for (const group of document.querySelectorAll(".nudge")) {
    const field = document.getElementById(group.dataset.target);
    group.addEventListener("click", (event) => {
      const step = Number(event.target?.dataset?.step);
      const value = seconds(field);
      if (!step || value === null) return;
      field.value = Math.max(0, value + step).toFixed(2);
    });
  }
  for (const button of document.querySelectorAll("button.mark")) {
    button.addEventListener("click", () => {
      if (!attached) {
        say("请先播放录像，再取当前时间。");
        return;
      }
      document.getElementById(button.dataset.target).value = video.currentTime.toFixed(2);
    });
  }
}
