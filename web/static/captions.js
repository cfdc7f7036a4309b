// The caption console: a captioner types what is said on air; Enter sends the line (the
// `caption` staff action over the staff websocket) and the box is cleared for the next one,
// the focus staying in it. The lines sent (by every captioner of the session, from the
// `caption` events) are listed newest first; a refusal is shown in an alert and the typed
// text stays in the box to be corrected.

import { clock } from "./format.js";
import { LiveSocket, el, showStatus } from "./socket.js";

const SHOWN = 50; // lines listed

const root = document.getElementById("console");
const sessionId = root.dataset.sessionId;
const $ = (id) => document.getElementById(id);
const dom = {
  form: $("caption-form"), text: $("caption-text"), error: $("caption-error"),
  sent: $("sent"), sentEmpty: $("sent-empty"), connection: $("connection"),
};
const seen = new Set();

function showLine(caption) {
  if (seen.has(caption.id)) return;
  seen.add(caption.id);
  dom.sent.prepend(el("li", { class: "caption-sent-line", dataset: { captionId: caption.id } },
    el("time", { text: clock(caption.at, true) }), " ", caption.text));
  while (dom.sent.children.length > SHOWN) dom.sent.lastElementChild.remove();
  dom.sentEmpty.hidden = true;
}

function showError(message) {
  dom.error.textContent = message;
  dom.error.hidden = !message;
}

const socket = new LiveSocket(`/ws/staff/${encodeURIComponent(sessionId)}`, {
  onStatus: (status) => showStatus(dom.connection, status),
  onEvent: (frame) => {
    if (frame.kind === "caption") showLine(frame.caption);
  },
});

dom.form.addEventListener("submit", (ev) => {
  ev.preventDefault();
  const text = dom.text.value;
  if (!text.trim()) return;
  showError("");
  dom.text.value = "";
  socket.request("caption", { text }).then((ack) => {
    showLine({ id: ack.caption_id, text: ack.text, at: ack.at });
  }, (err) => {
    // Give the line back to be corrected, unless something new has been typed meanwhile.
    if (!dom.text.value) dom.text.value = text;
    showError(err.message);
  });
  dom.text.focus();
});

socket.start();
