// Behaviour every page shares, kept out of the HTML so the Content-Security-Policy can forbid
// inline script: a <select data-submit-on-change> sends its form when changed (the language).
(function () {
  "use strict";
  for (const select of document.querySelectorAll("select[data-submit-on-change]")) {
    select.addEventListener("change", () => select.form.submit());
  }
})();
