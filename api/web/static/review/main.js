// The review page, keyboard first (keys.js lists the keys). The clerk's decisions are kept
// on the page (decisions.js) and stored together, as one version of the record, when the
// document is approved, saved or its type changed (actions.js); every save names the
// revision it edited. The messages come from the server, in the language of the page it
// rendered (messages.js), and so do the limits of the checks made as values are typed
// (validation.js). This module starts the page: the template loads it as a module.
import { $ } from "./dom.js";
import { T, say } from "./messages.js";
import { ctx, field, input, nextUnresolved, pending } from "./state.js";
import { drawBoxes, measurePages, renderStrip, showPage, zoomIn, zoomOut } from "./image.js";
import { buildFields } from "./fields.js";
import { loadSuggestions } from "./suggestions.js";
import { approve, confirmReject, openReject, retype, saveAll, skip } from "./actions.js";
import { listenToKeys } from "./keys.js";
import { keepLease } from "./lease.js";

// A failure in these modules is shown, not swallowed.
window.addEventListener("unhandledrejection", (ev) => {
  say(T.error.replace("{msg}", String(ev.reason)), "warn");
  console.error(ev.reason);
});

listenToKeys();
$("btn-approve").addEventListener("click", approve);
$("btn-save").addEventListener("click", saveAll);
$("doctype-form").addEventListener("submit", (ev) => { ev.preventDefault(); retype(); });
// Leaving with decisions not stored asks first (a conflict's reload excepted: they cannot
// be stored).
window.addEventListener("beforeunload", (ev) => {
  if (pending.size && !ctx.conflicted && !ctx.readonly) { ev.preventDefault(); ev.returnValue = ""; }
});
$("btn-skip").addEventListener("click", skip);
$("btn-reject").addEventListener("click", openReject);
$("btn-help").addEventListener("click", () => $("help-dialog").showModal());
$("reject-form").addEventListener("submit", confirmReject);
$("reject-cancel").addEventListener("click", () => $("reject-dialog").close());
$("zoom-in").addEventListener("click", zoomIn);
$("zoom-out").addEventListener("click", zoomOut);
window.addEventListener("resize", drawBoxes);

if (!ctx.readonly) keepLease();
if (ctx.readonly) {
  for (const b of ["btn-approve", "btn-reject", "btn-save", "btn-doctype", "doctype-select"]) {
    $(b).disabled = true;
  }
}

measurePages();
renderStrip();
buildFields();
if (ctx.state.unknown_type && !ctx.readonly) say(T.unknown_type, "warn");
const first = nextUnresolved(null) || (ctx.state.fields[0] && ctx.state.fields[0].name);
const firstPage = first && field(first).page != null ? field(first).page : 0;
showPage(firstPage).then(() => {
  if (first) input(first).focus();
  // Asked for once the page is ready to work on: the page never waits for them.
  if (!ctx.readonly) loadSuggestions();
});
