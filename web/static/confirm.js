// Any form with data-confirm asks before it submits (ending a broadcast, deleting a clip):
// the actions that cannot be undone.

document.addEventListener("submit", (event) => {
  const form = event.target;
  if (form instanceof HTMLFormElement && form.dataset.confirm && !window.confirm(form.dataset.confirm)) {
    event.preventDefault();
  }
});
