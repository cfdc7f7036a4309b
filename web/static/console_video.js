// The live picture in the moderation and host consoles (templates/console_video.html): the
// live page's player (player.js), muted by default, and the broadcast delay — how far the
// picture shown lags behind wall clock, from the stream's EXT-X-PROGRAM-DATE-TIME
// (LivePlayer.delaySeconds), refreshed every second. The session's status comes from the
// console's own websocket: its script keeps #session-status's class at "status-<status>",
// which this module watches, so the consoles need no second connection.

import { LivePlayer, delayText } from "./player.js";

const root = document.getElementById("player");
const delay = document.getElementById("broadcast-delay");
const badge = document.getElementById("session-status");

if (root && delay) {
  const player = new LivePlayer(root);
  const statusOf = () => {
    const match = badge && /(?:^|\s)status-(\w+)/.exec(badge.className);
    return match ? match[1] : root.dataset.status;
  };
  player.setStatus(statusOf());
  if (badge) {
    new MutationObserver(() => player.setStatus(statusOf()))
      .observe(badge, { attributes: true, attributeFilter: ["class"] });
  }
  setInterval(() => {
    const seconds = player.status === "live" ? player.delaySeconds() : null;
    delay.textContent = delayText(seconds);
    delay.dataset.seconds = seconds === null ? "" : seconds.toFixed(1);
  }, 1000);
}
