// The live page's video: plays the session's HLS recording (/media/live/<id>/index.m3u8)
// while the session is live, and says plainly when there is nothing to play.
//
// Where the browser has Media Source Extensions (Chromium, Firefox, desktop Safari) the
// stream goes through hls.js, loaded on demand from /vendor/hls.js (a UMD script, so it is
// added as a <script> element; the CSP allows 'self'). Browsers without MSE but with native
// HLS (Safari on iPhone) play the playlist directly. hls.js is preferred even where the
// <video> element claims native HLS ("maybe" in current Chromium): its errors are precise
// and its recovery is the same everywhere.
//
// A fatal error, a stall or an unexpected end while the session is live tears the player
// down and starts it again after a back-off (1 s doubling to 15 s), saying 信号中断，正在重连….
// The page tells the player the session's status (setStatus) whenever the websocket does,
// so the video starts when the broadcast does, without a reload.
//
// The consoles and the embed page start it muted (data-muted="on", with the unmute button
// shown) and read the broadcast delay (delaySeconds): how far the picture being shown lags
// behind wall clock, from the segments' EXT-X-PROGRAM-DATE-TIME.

import { backoffDelay } from "./stream.js";

const HLS_TYPE = "application/vnd.apple.mpegurl";
const H264_AAC = 'video/mp4; codecs="avc1.42E01E,mp4a.40.2"';
const RETRY_START_MS = 1000;
const RETRY_MAX_MS = 15_000;
const STALL_NOTICE_MS = 4000; // buffering this long: tell the viewer
const STALL_RESTART_MS = 20_000; // buffering this long: start over

export const PLAYER_TEXT = {
  off: "本场直播未开启视频",
  scheduled: "直播尚未开始",
  connecting: "正在接入直播画面…",
  reconnecting: "信号中断，正在重连…",
  ended: "直播已结束",
  unsupported: "当前浏览器无法播放直播画面，请使用最新版的 Chrome、Edge、Firefox 或 Safari。",
  paused: "点击播放按钮观看直播",
};

/** The delay of a picture stamped `dateMs` (its program date time) at wall clock `nowMs`, in
 * seconds; null when the date is unknown. Never negative (clocks a little apart). */
export function playbackDelay(dateMs, nowMs) {
  if (typeof dateMs !== "number" || !Number.isFinite(dateMs) || dateMs <= 0) return null;
  return Math.max(0, (nowMs - dateMs) / 1000);
}

/** The delay as the consoles show it: "8.2 秒", or "—" when unknown. */
export function delayText(seconds) {
  if (seconds === null || seconds === undefined || !Number.isFinite(seconds)) return "—";
  return `${seconds < 10 ? seconds.toFixed(1) : Math.round(seconds)} 秒`;
}

let hlsScript = null; // the one load of hls.js, shared by every player on the page

export function loadHls(src) {
  if (window.Hls) return Promise.resolve(window.Hls);
  if (!hlsScript) {
    hlsScript = new Promise((resolve, reject) => {
      const script = document.createElement("script");
      script.src = src;
      script.async = true;
      script.addEventListener("load", () => (window.Hls ? resolve(window.Hls) : reject(new Error("hls.js"))));
      script.addEventListener("error", () => {
        hlsScript = null; // try again on the next start
        script.remove();
        reject(new Error("hls.js"));
      });
      document.head.append(script);
    });
  }
  return hlsScript;
}

export function hasMse() {
  const MS = window.MediaSource || window.ManagedMediaSource;
  return Boolean(MS && typeof MS.isTypeSupported === "function" && MS.isTypeSupported(H264_AAC));
}

export class LivePlayer {
  /** @param {HTMLElement} root  the #player element, with data-video, data-src, data-hls */
  constructor(root) {
    this.root = root;
    this.video = root.querySelector("video");
    this.message = root.querySelector(".player-message");
    this.unmute = root.querySelector(".player-unmute");
    this.src = root.dataset.src;
    this.hlsSrc = root.dataset.hls;
    this.enabled = root.dataset.video === "on";
    this.startMuted = root.dataset.muted === "on"; // consoles, embeds: sound only on request
    this.status = "";
    this.hls = null;
    this.run = 0; // bumped by every start and stop: callbacks of an older run do nothing
    this.attempt = 0;
    this.played = false; // has this page ever shown a frame (then a loss is "reconnecting")
    this.retryTimer = null;
    this.stallTimers = [];
    const video = this.video;
    if (this.startMuted) video.muted = true;
    video.addEventListener("playing", () => this.onPlaying());
    video.addEventListener("timeupdate", () => {
      if (!video.paused && video.readyState >= 3) this.clearStall();
    });
    for (const name of ["waiting", "stalled"]) video.addEventListener(name, () => this.onStall());
    video.addEventListener("pause", () => this.clearStall());
    video.addEventListener("error", () => {
      if (!this.hls) this.fail(); // native playback; hls.js reports through its own events
    });
    video.addEventListener("ended", () => {
      // A live playlist only ends when the server closed it (a restart): start again.
      if (this.status === "live") this.fail();
    });
    this.unmute.addEventListener("click", () => {
      video.muted = false;
      this.unmute.hidden = true;
    });
  }

  /** The session's status: "scheduled", "live" or "ended". */
  setStatus(status) {
    if (status === this.status) return;
    this.status = status;
    if (!this.enabled) {
      this.stop(PLAYER_TEXT.off);
    } else if (status === "live") {
      this.attempt = 0;
      this.start();
    } else {
      this.stop(status === "ended" ? PLAYER_TEXT.ended : PLAYER_TEXT.scheduled);
    }
  }

  show(text) {
    this.message.textContent = text || "";
    this.message.hidden = !text;
    this.root.dataset.state = text ? "message" : "playing";
  }

  start() {
    this.teardown();
    const run = this.run;
    this.video.hidden = false;
    this.show(this.played ? PLAYER_TEXT.reconnecting : PLAYER_TEXT.connecting);
    if (hasMse()) {
      loadHls(this.hlsSrc).then((Hls) => {
        if (run === this.run) this.startHls(Hls);
      }, () => {
        if (run !== this.run) return;
        // hls.js could not be loaded (not installed on the server): native HLS if we can.
        if (this.video.canPlayType(HLS_TYPE)) this.startNative();
        else this.show(PLAYER_TEXT.unsupported);
      });
    } else if (this.video.canPlayType(HLS_TYPE)) {
      this.startNative();
    } else {
      this.show(PLAYER_TEXT.unsupported);
    }
  }

  startHls(Hls) {
    if (!Hls.isSupported()) {
      this.show(PLAYER_TEXT.unsupported);
      return;
    }
    const hls = new Hls({ backBufferLength: 90, liveDurationInfinity: true });
    this.hls = hls;
    const run = this.run;
    hls.on(Hls.Events.ERROR, (_event, data) => {
      if (data.fatal && run === this.run) this.fail();
    });
    hls.on(Hls.Events.MANIFEST_PARSED, () => {
      if (run === this.run) this.play();
    });
    hls.attachMedia(this.video);
    hls.loadSource(this.src);
  }

  startNative() {
    this.video.src = this.src;
    this.play();
  }

  /** Play, with sound if the browser allows it, else muted with an unmute button. */
  play() {
    const video = this.video;
    const run = this.run;
    video.play().catch((err) => {
      if (run !== this.run || !err || err.name !== "NotAllowedError") return;
      video.muted = true;
      video.play().then(() => {
        if (run === this.run) this.unmute.hidden = false;
      }, () => {
        if (run === this.run) this.show(PLAYER_TEXT.paused);
      });
    });
  }

  onPlaying() {
    if (this.status !== "live") return;
    this.played = true;
    this.attempt = 0;
    this.clearStall();
    this.show("");
    if (this.startMuted && this.video.muted) this.unmute.hidden = false;
  }

  /** How far the picture shown lags behind wall clock, in seconds, from the playlist's
   * EXT-X-PROGRAM-DATE-TIME (hls.js: playingDate; native HLS: getStartDate() plus the
   * position); null before a dated frame plays. */
  delaySeconds(now = Date.now()) {
    let date = null;
    if (this.hls) {
      date = this.hls.playingDate ? this.hls.playingDate.getTime() : null;
    } else if (this.video.getAttribute("src") && typeof this.video.getStartDate === "function") {
      const start = this.video.getStartDate().getTime();
      date = Number.isFinite(start) ? start + this.video.currentTime * 1000 : null;
    }
    return playbackDelay(date, now);
  }

  onStall() {
    if (this.status !== "live" || this.stallTimers.length) return;
    const run = this.run;
    this.stallTimers = [
      setTimeout(() => {
        if (run === this.run) this.show(PLAYER_TEXT.reconnecting);
      }, STALL_NOTICE_MS),
      setTimeout(() => {
        if (run === this.run) this.fail();
      }, STALL_RESTART_MS),
    ];
  }

  clearStall() {
    for (const timer of this.stallTimers) clearTimeout(timer);
    this.stallTimers = [];
    if (this.played && this.status === "live" && !this.video.paused) this.show("");
  }

  /** The stream failed: start again after the back-off, while the session is live. */
  fail() {
    if (this.status !== "live") return;
    this.teardown();
    this.show(this.played ? PLAYER_TEXT.reconnecting : PLAYER_TEXT.connecting);
    const delay = backoffDelay(this.attempt, { start: RETRY_START_MS, max: RETRY_MAX_MS });
    this.attempt += 1;
    this.retryTimer = setTimeout(() => {
      this.retryTimer = null;
      if (this.status === "live") this.start();
    }, delay);
  }

  stop(text) {
    this.teardown();
    this.video.hidden = true;
    this.unmute.hidden = true;
    this.show(text);
  }

  teardown() {
    this.run += 1;
    clearTimeout(this.retryTimer);
    this.retryTimer = null;
    for (const timer of this.stallTimers) clearTimeout(timer);
    this.stallTimers = [];
    if (this.hls) {
      this.hls.destroy();
      this.hls = null;
    }
    if (this.video.getAttribute("src")) {
      this.video.removeAttribute("src");
      this.video.load();
    }
  }
}
