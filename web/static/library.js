// The public clip library (/clips and /clips/{id}). The pages work without this script;
// it adds: the item filter applies a choice made with the pointer at once (a choice made
// with the keyboard waits for Enter or the 筛选 button, so the arrow keys can browse the
// options), a view is counted when playback starts, and the share link can be copied.

import { viewsText } from "./format.js";

const search = document.getElementById("library-search");
const itemSelect = document.getElementById("library-item");
if (search && itemSelect) {
  // Chromium and Firefox fire "change" on every arrow key of a closed <select>: submitting
  // then would reload the page on the first key (WCAG 3.2.2, On Input).
  let byKeyboard = false;
  itemSelect.addEventListener("keydown", (ev) => {
    if (ev.key === "Enter") {
      ev.preventDefault();
      search.requestSubmit();
    } else if (ev.key !== "Tab") {
      byKeyboard = true;
    }
  });
  itemSelect.addEventListener("pointerdown", () => { byKeyboard = false; });
  itemSelect.addEventListener("change", () => {
    if (!byKeyboard) search.requestSubmit();
  });
}


const clip = document.getElementById("clip");
const video = document.getElementById("clip-video");
if (clip && video) {
  // Counted once per viewer, clip and day by the server; the first "playing" of this page
  // is enough to ask (replays and seeks are not new views).
  let asked = false;
  video.addEventListener("playing", async () => {
    if (asked) return;
    asked = true;
    try {
      const response = await fetch(clip.dataset.viewUrl, {
        method: "POST",
        credentials: "same-origin",
        headers: { "X-CSRF-Token": clip.dataset.csrf, Accept: "application/json" },
      });
      if (!response.ok) return;
      const body = await response.json();
      const views = document.getElementById("clip-views");
      if (views && Number.isInteger(body.views)) views.textContent = viewsText(body.views);
    } catch {
      // The count is not the viewer's business: nothing to show if it fails.
    }
  });
}

const copyButton = document.getElementById("copy-link");
const shareUrl = document.getElementById("share-url");
const copyStatus = document.getElementById("copy-status");
if (copyButton && shareUrl) {
  copyButton.addEventListener("click", async () => {
    const url = copyButton.dataset.url;
    let copied = false;
    if (navigator.clipboard && window.isSecureContext) {
      try {
        await navigator.clipboard.writeText(url);
        copied = true;
      } catch {
        copied = false;
      }
    }
    if (!copied) {
      // Plain http (a LAN address) has no clipboard API: select the text for the user.
      shareUrl.focus();
      shareUrl.select();
      try {
        copied = document.execCommand("copy");
      } catch {
        copied = false;
      }
    }
    if (copyStatus) copyStatus.textContent = copied ? "链接已复制。" : "请长按或按 Ctrl+C 复制上面的链接。";
  });
}
