// The embeddable player (/embed/<id>, web/embed.py): the live page's player, muted, in a
// frame on another site. No websocket (a third-party frame has no cookies): the session's
// status comes from /embed/<id>/status, asked again every STATUS_POLL_MS until it has ended.

import { LivePlayer, PLAYER_TEXT } from "./player.js";

const STATUS_POLL_MS = 15_000;
const root = document.getElementById("embed");
const player = new LivePlayer(document.getElementById("player"));
const replay = document.getElementById("embed-replay");

function apply(status, replayUrl) {
  player.setStatus(status);
  if (status === "ended" && !player.enabled) player.show(PLAYER_TEXT.ended);
  root.dataset.status = status;
  if (replay && replayUrl !== undefined) replay.setAttribute("href", replayUrl);
  if (replay) replay.hidden = !(status === "ended" && replay.getAttribute("href"));
}

async function poll() {
  try {
    const response = await fetch(`/embed/${encodeURIComponent(root.dataset.sessionId)}/status`,
      { cache: "no-store" });
    if (response.ok) {
      const frame = await response.json();
      apply(frame.status, frame.replay || "");
    }
  } catch {
    // offline for a moment: ask again at the next poll
  }
  if (root.dataset.status !== "ended") setTimeout(poll, STATUS_POLL_MS);
}

apply(root.dataset.status);
if (root.dataset.status !== "ended") setTimeout(poll, STATUS_POLL_MS);
