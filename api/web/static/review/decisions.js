// The clerk's decisions on fields: Enter decides a field as shown (confirmed, or corrected
// if changed), Alt+M marks it not on the document, Esc puts the machine's value back. They
// wait on the page, marked "not saved yet", until the document is approved or saved (see
// actions.js), which sends them together with how long ago each was made.
import { $ } from "./dom.js";
import { T, say } from "./messages.js";
import { CONFIG, ctx, field, input, nextUnresolved, pending, stored } from "./state.js";
import { clean, multiline, show, storedForm, validate } from "./validation.js";
import { showCheck, updateFields } from "./fields.js";

// The longest "how long ago" the server takes (review/lifecycle.py: MAX_DECIDED_AGO_MS).
const MAX_AGO_MS = CONFIG.max_decided_ago_ms;

// The count of decisions not stored yet, on the Save button and in the status line.
export function showPending() {
  const c = $("pending-count");
  c.textContent = String(pending.size);
  c.hidden = pending.size === 0;
  if (pending.size) say(T.pending_count.replace("{n}", String(pending.size)));
}

// Each decision says how long ago the clerk made it: the audit keeps when each field was
// decided, and the review metrics the time spent on it.
export function decisions() {
  const now = performance.now();
  return [...pending.values()].map((p) => Object.assign({}, p.decision, {
    decided_ms_ago: Math.min(MAX_AGO_MS, Math.max(0, Math.round(now - p.at))) }));
}

// A value the server refused: its words beside the field, which gets the focus.
export function showRefused(x) {
  $(`msg-${x.field}`).textContent = x.messages.join("; ");
  input(x.field).setAttribute("aria-invalid", "true");
  $(`keep-${x.field}`).hidden = ctx.readonly || !x.as_printed;
  say("");
  input(x.field).focus();
}

function moveOn(from) {
  const nxt = nextUnresolved(from);
  if (nxt) input(nxt).focus();
  else {
    input(from).focus();
    if (pending.size) showPending();
    else say(T.unresolved_left.replace("{n}", "0"), "ok");
  }
}

// Enter on a field: its value confirmed when the clerk left it as stored (compared exactly,
// or after spaces and Unicode form, which are no change), else the typed value kept as a
// correction. ``asPrinted``: the clerk said the document says so (see showCheck). The
// decision waits on the page until the document is approved or saved.
export function acceptField(el, asPrinted = false) {
  if (ctx.readonly) return;
  const name = el.dataset.name;
  const f = field(name);
  const s = stored(name);
  const codes = validate(f, el.value);
  showCheck(name, codes);
  if (codes.some((c) => !(asPrinted && c === "id_birth"))) return;
  const shown = show(s, s.value);
  const several = multiline(f, el.value) || multiline(f, shown);
  const value = clean(el.value, several);
  const unchanged = el.value === shown || value === clean(shown, several)
    || (s.value != null && storedForm(f, value) === s.value);
  pending.delete(name);
  if (!(unchanged && s.settled && !asPrinted)) {
    const decision = unchanged ? { field: name, action: "confirm" }
                               : { field: name, action: "correct", value };
    if (asPrinted) decision.as_printed = true;
    pending.set(name, {
      decision,
      at: performance.now(),
      value: unchanged ? s.value : storedForm(f, value),
      status: unchanged && s.status !== "corrected" ? "confirmed" : "corrected",
    });
  }
  showCheck(name, []);
  updateFields(null);
  showPending();
  moveOn(name);
}

// "The document says so": the value kept although it disagrees with the same person's other.
export function keepAsPrinted(name) {
  if (ctx.readonly) return;
  acceptField(input(name), true);
}

// Alt+M: the field is not on the document.
export function markMissing(el) {
  if (ctx.readonly) return;
  const name = el.dataset.name;
  pending.delete(name);
  pending.set(name, { decision: { field: name, action: "not_on_document" }, value: null,
                      status: "not_on_document", at: performance.now() });
  el.value = "";
  showCheck(name, []);
  updateFields(null);
  showPending();
  moveOn(name);
}

// Esc: the machine's value back in the field, and the clerk's decision on it undone.
export function restore(el) {
  const name = el.dataset.name;
  pending.delete(name);
  el.value = show(stored(name), stored(name).machine_value);
  el.dispatchEvent(new Event("input"));
  updateFields(null);
  showPending();
}
