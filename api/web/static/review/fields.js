// The list of fields: each one's crop, label, input, status, confidence, source and OCR
// text, and the outcome of its checks. Built once; later states update it in place, so the
// focused input (and anything typed ahead while a save is in flight) is never replaced.
import { $ } from "./dom.js";
import { T } from "./messages.js";
import { ctx, field, input } from "./state.js";
import { show, validate } from "./validation.js";
import { drawBoxes, showBox } from "./image.js";
import { keepAsPrinted } from "./decisions.js";

const ICON = { accepted: "✓", review: "⚠", missing: "∅", confirmed: "✔", corrected: "✎",
               not_on_document: "⊘" };
const list = $("field-list");

// A check's outcome beside the field; a value that only disagrees with the same person's
// other value may be kept, explicitly, when the document says so.
// Where a value or a reading of it came from, in the page's language.
function sourceLabel(source) {
  return T[`source_${source}`] ?? source;
}

export function showCheck(name, codes) {
  $(`msg-${name}`).textContent = codes.map((c) => T[c] || c).join("; ");
  input(name).setAttribute("aria-invalid", codes.length ? "true" : "false");
  $(`keep-${name}`).hidden = ctx.readonly || !(codes.length === 1 && codes[0] === "id_birth");
}

export function buildFields() {
  list.replaceChildren();
  for (const f of ctx.state.fields) {
    const li = document.createElement("li");
    li.id = `field-${f.name}`;
    const crop = document.createElement("div");
    crop.className = "crop";
    crop.id = `crop-${f.name}`;
    const label = document.createElement("label");
    label.htmlFor = `input-${f.name}`;
    label.textContent = f.label;
    // A value of several lines (a card's MRZ) in a box that keeps its line breaks.
    const input = document.createElement(f.multiline ? "textarea" : "input");
    input.id = `input-${f.name}`;
    input.dataset.name = f.name;
    input.value = show(f, f.value);
    input.autocomplete = "off";
    input.spellcheck = false;
    input.readOnly = ctx.readonly;
    if (f.multiline) {
      input.rows = Math.max(2, (f.value || f.machine_value || "").split("\n").length);
      input.wrap = "off";
    }
    if (f.kind === "mrz") input.classList.add("mono");
    const keep = document.createElement("div");
    keep.className = "as-printed";
    keep.id = `keep-${f.name}`;
    keep.hidden = true;
    const keepBtn = document.createElement("button");
    keepBtn.type = "button";
    keepBtn.id = `asprinted-${f.name}`;
    keepBtn.textContent = `✔ ${T.as_printed}`;
    keepBtn.addEventListener("click", () => keepAsPrinted(f.name));
    const keepHint = document.createElement("span");
    keepHint.className = "muted";
    keepHint.textContent = T.as_printed_hint;
    keep.append(keepBtn, " ", keepHint);
    const meta = document.createElement("div");
    meta.className = "meta";
    const badge = document.createElement("span");
    badge.id = `badge-${f.name}`;
    const conf = document.createElement("span");
    conf.className = "conf";
    conf.textContent = `${Math.round(f.confidence * 100)} %`;
    const src = document.createElement("span");
    src.className = "src";
    src.id = `src-${f.name}`;
    const raw = document.createElement("span");
    raw.className = "raw";
    raw.textContent = f.raw ? `OCR: ${f.raw}` : "";
    meta.append(badge, conf, src, raw);
    const msg = document.createElement("div");
    msg.className = "field-msg";
    msg.id = `msg-${f.name}`;
    msg.setAttribute("role", "status");
    li.append(crop, label, input, keep, meta, msg);
    if (f.readings && f.readings.length) {
      const r = document.createElement("div");
      r.className = "readings";
      r.textContent = f.readings.map((x) => `${sourceLabel(x.source)}: ${x.value ?? "—"}`)
        .join(" · ");
      li.append(r);
    }
    list.append(li);
    input.addEventListener("focus", () => onFocus(f.name));
    input.addEventListener("input", () => showCheck(f.name, validate(field(f.name), input.value)));
    if (f.problems && f.problems.length && !f.settled) msg.textContent = f.problems.join("; ");
  }
  updateFields(null);
}

// Each field's status (and "not saved yet"), source and suggestion shown as the page now
// sees it; ``saved``: the fields the server just stored, whose inputs get the stored value.
export function updateFields(saved) {
  for (const s of ctx.state.fields) {
    const f = field(s.name);
    const li = $(`field-${f.name}`);
    li.className = `field st-${f.status}${f.pending ? " pending" : ""}` +
      `${f.name === ctx.focusedName ? " focused" : ""}`;
    const badge = $(`badge-${f.name}`);
    badge.className = `badge ${f.status}`;
    badge.textContent = `${ICON[f.status] || ""} ${T[f.status] || f.status}`;
    if (f.pending) {
      const mark = document.createElement("span");
      mark.className = "pending";
      mark.textContent = ` · ${T.pending}`;
      badge.append(mark);
    }
    const sug = $(`suggest-${f.name}`);
    if (sug) sug.hidden = f.settled;
    $(`src-${f.name}`).textContent = sourceLabel(f.source);
    if (saved && saved.includes(f.name)) {
      input(f.name).value = show(f, f.value);
      showCheck(f.name, []);
    }
  }
  drawBoxes();
}

// Focusing a field highlights it, with its suggestion and messages in view, and its box.
async function onFocus(name) {
  ctx.focusedName = name;
  document.querySelectorAll(".field.focused").forEach((x) => x.classList.remove("focused"));
  $(`field-${name}`).classList.add("focused");
  $(`field-${name}`).scrollIntoView({ block: "nearest" });  // its suggestion and messages too
  await showBox(name);
}
