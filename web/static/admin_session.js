// The admin session page: keeps the video panel's ingest health and the simulcast
// destinations' health current over the staff websocket (the snapshot's "ingest" and
// "simulcast", then every "ingest" and "simulcast" event).

import { LiveSocket, readJson } from "./socket.js";
import { renderIngest } from "./ingest.js";
import { renderSimulcast } from "./simulcast.js";

const container = document.getElementById("ingest");
const targets = document.getElementById("simulcast-targets");

if (container) {
  renderIngest(container, readJson("ingest-data", null));
  new LiveSocket(`/ws/staff/${encodeURIComponent(container.dataset.sessionId)}`, {
    onSnapshot: (frame) => {
      renderIngest(container, frame.ingest);
      renderSimulcast(targets, frame.simulcast);
    },
    onEvent: (frame) => {
      if (frame.kind === "ingest") renderIngest(container, frame.ingest);
      if (frame.kind === "simulcast") renderSimulcast(targets, frame.simulcast);
    },
  }).start();
}
