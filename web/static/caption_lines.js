// The live captions under the video: the newest few lines typed by a captioner.
//
// The box is a polite live region (role=log, aria-live=polite, additions only): a screen
// reader reads each new line once, and never takes the focus. Lines carry their id, so a line
// that comes again (a replay after a reconnect) is shown once; older lines scroll away.

export const CAPTION_LINES = 3;

export class CaptionLines {
  /**
   * @param {HTMLElement|null} node  the region
   * @param {number} keep  how many lines stay shown
   */
  constructor(node, keep = CAPTION_LINES) {
    this.node = node;
    this.keep = keep;
    this.seen = new Set();
  }

  /** Show one line ({id, text, at}) below the others. */
  add(caption) {
    if (!this.node || !caption || this.seen.has(caption.id)) return;
    this.seen.add(caption.id);
    const line = document.createElement("p");
    line.className = "caption-line";
    line.dataset.captionId = caption.id;
    line.textContent = caption.text;
    this.node.append(line);
    while (this.node.children.length > this.keep) this.node.firstElementChild.remove();
  }
}
