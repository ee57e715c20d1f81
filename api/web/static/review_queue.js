// The review queue: Alt+N opens the next document of the queue, wherever the focus is (the
// button's key, shown on it).
(() => {
  "use strict";
  const next = document.getElementById("next-document");
  if (!next) return;
  let sent = false;  // one claim per press, however long the key is held
  window.addEventListener("pageshow", () => { sent = false; });
  document.addEventListener("keydown", (e) => {
    if (e.isComposing || e.keyCode === 229) return;  // an input method composing owns keys
    if (!e.altKey || e.ctrlKey || e.metaKey || e.shiftKey) return;
    if (e.code !== "KeyN" && e.key !== "n" && e.key !== "N") return;
    e.preventDefault();
    if (sent) return;
    sent = true;
    next.form.requestSubmit(next);
  });
})();
