// The page's messages and where they show. The words come from the server, in the language
// of the page it rendered (review_pages._strings): the script has no copy of its own.
import { $, readJSON } from "./dom.js";

export const T = readJSON("review-strings");

// The status line under the page's bar.
export function say(text, kind = "") {
  const s = $("status-line");
  s.textContent = text;
  s.className = `notice ${kind}`;
}

// The alert above the page, with a reload button when reloading is the way out.
export function banner(text, withReload) {
  const b = $("banner");
  b.replaceChildren(document.createTextNode(text));
  if (withReload) {
    const r = document.createElement("button");
    r.type = "button";
    r.id = "btn-reload";
    r.textContent = T.reload;
    r.addEventListener("click", () => location.reload());
    b.append(" ", r);
  }
  b.hidden = false;
}
