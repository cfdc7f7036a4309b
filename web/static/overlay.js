// The on-air overlay (web/overlay.py): follows the session over the public viewer socket and
// shows the question on air, its business item and the newest caption lines. The page is
// transparent; its colours and size come from [overlay] in the settings.

import { CaptionLines } from "./caption_lines.js";
import { applyEvent, lookProperties } from "./overlay_state.js";
import { onAirQuestion } from "./questions.js";
import { LiveSocket, frameScheduler } from "./socket.js";

const root = document.getElementById("overlay");
const sessionId = root.dataset.sessionId;
// One question on air per host: a scene may follow one host's (?host=… on the page address).
const host = root.dataset.host;
for (const [name, value] of Object.entries(lookProperties(root.dataset))) {
  root.style.setProperty(name, value);
}

const ui = {
  panel: document.getElementById("on-air"),
  item: document.getElementById("on-air-item"),
  text: document.getElementById("on-air-text"),
  connection: document.getElementById("connection"),
};
const state = { session: null, questions: new Map() };
const captions = new CaptionLines(document.getElementById("captions"), 2);

const render = frameScheduler(() => {
  const q = state.session ? onAirQuestion(state.session, state.questions, host) : null;
  if (!q || state.session.status === "ended") {
    ui.panel.hidden = true;
    return;
  }
  ui.text.textContent = q.text;
  ui.item.textContent = q.item_name || q.category || "";
  ui.item.hidden = !ui.item.textContent;
  ui.panel.dataset.questionId = q.id;
  ui.panel.hidden = false;
});

new LiveSocket(`/ws/live/${encodeURIComponent(sessionId)}`, {
  onStatus: (status) => {
    ui.connection.dataset.status = status;
  },
  onSnapshot: (frame) => {
    state.session = frame.session;
    state.questions = new Map((frame.questions || []).map((q) => [q.id, q]));
    for (const line of frame.captions || []) captions.add(line);
    render();
  },
  onEvent: (frame) => {
    if (frame.kind === "caption") captions.add(frame.caption);
    else if (applyEvent(state, frame)) render();
  },
}).start();
