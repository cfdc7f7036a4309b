// The admin session page: keeps the video panel's ingest health current over the staff
// websocket (the snapshot's "ingest", then every "ingest" event).

import { LiveSocket, readJson } from "./socket.js";
import { renderIngest } from "./ingest.js";

const container = document.getElementById("ingest");

if (container) {
  renderIngest(container, readJson("ingest-data", null));
  new LiveSocket(`/ws/staff/${encodeURIComponent(container.dataset.sessionId)}`, {
    onSnapshot: (frame) => renderIngest(container, frame.ingest),
    onEvent: (frame) => {
      if (frame.kind === "ingest") renderIngest(container, frame.ingest);
    },
  }).start();
}
