// The replay page (web/templates/replay.html): plays the ended session's recording — hls.js
// where the browser has Media Source Extensions, else native HLS — and makes each chapter
// (a <button>, so Enter and Space work) seek the video to where its question went on air.
// The chapter playing is marked with aria-current as the video plays. The captions and
// chapters are the page's own <track> elements (WebVTT from the server).

import { hasMse, loadHls } from "./player.js";
import { chapterIndexAt, parseOffset } from "./replay_chapters.js";

const HLS_TYPE = "application/vnd.apple.mpegurl";
const TEXT = {
  unsupported: "当前浏览器无法播放回放，请使用最新版的 Chrome、Edge、Firefox 或 Safari。",
  failed: "回放加载失败，请刷新页面重试。",
};

const root = document.getElementById("replay-player");
const video = document.getElementById("replay-video");
const message = document.getElementById("replay-message");
const buttons = [...document.querySelectorAll("button.chapter")];
const offsets = buttons.map((b) => parseOffset(b.dataset.offset));

function show(text) {
  message.textContent = text;
  message.hidden = !text;
}

function attach() {
  const src = root.dataset.src;
  if (hasMse()) {
    loadHls(root.dataset.hls).then((Hls) => {
      if (!Hls.isSupported()) {
        show(TEXT.unsupported);
        return;
      }
      // No timeline controller: the recording carries no captions of its own, and hls.js's
      // would clear the cues of every text track, ours included, when the playlist loads.
      const hls = new Hls({ backBufferLength: 90, timelineController: null,
        enableWebVTT: false, enableCEA708Captions: false });
      hls.on(Hls.Events.ERROR, (_event, data) => {
        if (data.fatal) show(TEXT.failed);
      });
      hls.attachMedia(video);
      hls.loadSource(src);
    }, () => {
      if (video.canPlayType(HLS_TYPE)) video.src = src;
      else show(TEXT.unsupported);
    });
  } else if (video.canPlayType(HLS_TYPE)) {
    video.src = src;
  } else {
    show(TEXT.unsupported);
  }
}

function markCurrent() {
  const placed = offsets.filter((o) => o !== null);
  const index = chapterIndexAt(placed, video.currentTime);
  const current = index >= 0 ? placed[index] : null;
  for (const [i, button] of buttons.entries()) {
    if (offsets[i] !== null && offsets[i] === current) button.setAttribute("aria-current", "true");
    else button.removeAttribute("aria-current");
  }
}

function seek(offset) {
  const go = () => {
    video.currentTime = offset;
    markCurrent();
    video.play().catch(() => {}); // autoplay refused: the picture waits at the chapter
  };
  if (video.readyState >= 1) go();
  else video.addEventListener("loadedmetadata", go, { once: true });
}

if (root && video) {
  attach();
  video.addEventListener("timeupdate", markCurrent);
  for (const [i, button] of buttons.entries()) {
    button.addEventListener("click", () => {
      if (offsets[i] !== null) seek(offsets[i]);
    });
  }
}
