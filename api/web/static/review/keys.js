// The page's keys (the help dialog, ?, lists them): Enter decides the focused field as shown
// and moves on (Shift+Enter is a new line in a field of several lines), Esc puts the
// machine's value back, Alt+M marks a field not on the document, Alt+G takes the value
// verified before, Ctrl+Enter approves, Ctrl+S saves without approving, Alt+T goes to the
// document type (Enter there reads the document again as the chosen one), Alt+S skips,
// Alt+R rejects, ? or F1 shows the keys. Tab and Shift+Tab are the browser's own.
import { $ } from "./dom.js";
import { ctx } from "./state.js";
import { acceptField, markMissing, restore } from "./decisions.js";
import { takeSuggestion } from "./suggestions.js";
import { approve, openReject, retype, saveAll, skip } from "./actions.js";

function onKey(e) {
  // An input method still composing (Telex, VNI) owns Enter: never accept a half-typed value.
  if (e.isComposing || e.keyCode === 229) return;
  if ($("reject-dialog").open || $("help-dialog").open) return;
  const el = document.activeElement;
  const inField = el && (el.tagName === "INPUT" || el.tagName === "TEXTAREA") && el.dataset
    && el.dataset.name;
  if (e.key === "Enter" && (e.ctrlKey || e.metaKey)) { e.preventDefault(); approve(); return; }
  if ((e.ctrlKey || e.metaKey) && (e.code === "KeyS" || e.key === "s")) {
    e.preventDefault();
    saveAll();
    return;
  }
  if (e.altKey && (e.code === "KeyT" || e.key === "t")) {
    e.preventDefault();
    if (!ctx.readonly) $("doctype-select").focus();
    return;
  }
  if (el && el.id === "doctype-select" && e.key === "Enter") {
    e.preventDefault();
    retype();
    return;
  }
  if (e.altKey && (e.code === "KeyS" || e.key === "s")) { e.preventDefault(); skip(); return; }
  if (e.altKey && (e.code === "KeyR" || e.key === "r")) { e.preventDefault(); openReject(); return; }
  if (e.key === "F1" || (e.key === "?" && !inField)) {
    e.preventDefault();
    $("help-dialog").showModal();
    return;
  }
  if (!inField) return;
  if (e.key === "Enter") {
    if (e.shiftKey && el.tagName === "TEXTAREA") return;  // a new line
    e.preventDefault();
    acceptField(el);
  }
  else if (e.key === "Escape") { e.preventDefault(); restore(el); }
  else if (e.altKey && (e.code === "KeyM" || e.key === "m")) { e.preventDefault(); markMissing(el); }
  else if (e.altKey && (e.code === "KeyG" || e.key === "g")) {
    e.preventDefault();
    takeSuggestion(el.dataset.name);
  }
}

export function listenToKeys() {
  document.addEventListener("keydown", onKey);
}
