// The on-air overlay's state without the DOM (tests/js/overlay.test.js): its public events
// and its look. Which question is on air is questions.js's onAirQuestion, as on the live page.

/** Apply one public event to the overlay's state ({session, questions}); returns whether
 * what the overlay shows may have changed (captions are handled by the caption lines). */
export function applyEvent(state, frame) {
  if (frame.kind === "session") {
    state.session = frame.session;
    return true;
  }
  if (frame.kind === "question") {
    state.questions.set(frame.question.id, frame.question);
    return true;
  }
  if (frame.kind === "question_removed") {
    return state.questions.delete(frame.id);
  }
  return false;
}

/** Colours and size from the page's data attributes, as CSS custom properties. */
export function lookProperties(dataset) {
  const props = {};
  if (dataset.fontPx) props["--overlay-font"] = `${Number(dataset.fontPx)}px`;
  if (dataset.textColor) props["--overlay-text"] = dataset.textColor;
  if (dataset.panelColor) props["--overlay-panel"] = dataset.panelColor;
  if (dataset.accentColor) props["--overlay-accent"] = dataset.accentColor;
  return props;
}
