// What is done to the whole document: save the decisions (Ctrl+S), approve (Ctrl+Enter),
// read it again as another type (Alt+T), skip (Alt+S), reject (Alt+R). Each store sends the
// decisions made on the page and names the revision it edited, as one version of the record.
import { $ } from "./dom.js";
import { T, banner, say } from "./messages.js";
import { ctx, input, nextUnresolved, pending, unresolvedCount } from "./state.js";
import { clean } from "./validation.js";
import { post, wasStored } from "./api.js";
import { decisions, showPending } from "./decisions.js";
import { updateFields } from "./fields.js";

const url = (what) => `/review/${ctx.state.record_id}/${what}`;

function applyState(next, saved) {
  next.pages.forEach((p, i) => { if (ctx.state.pages[i]) p.nw = ctx.state.pages[i].nw; });
  ctx.state = next;
  $("revision").textContent = String(ctx.state.revision);
  updateFields(saved);
}

// The decisions made so far stored as one version of the record.
export async function saveAll() {
  if (ctx.readonly || ctx.busy) return false;
  if (!pending.size) { say(T.nothing_to_save); return true; }
  ctx.busy = true;
  say(T.saving);
  try {
    const names = [...pending.keys()];
    const r = await post(url("fields"), { revision: ctx.state.revision, decisions: decisions() });
    if (!wasStored(r)) return false;
    pending.clear();
    applyState(r.data, names);
    showPending();
    say(T.saved, "ok");
    return true;
  } finally {
    ctx.busy = false;
  }
}

// Ctrl+Enter: the decisions made on the page and the approval, stored as one version.
export async function approve() {
  if (ctx.readonly || ctx.busy) return;
  const n = unresolvedCount();
  if (n > 0) {
    say(T.unresolved_left.replace("{n}", String(n)), "warn");
    const first = nextUnresolved(null);
    if (first) input(first).focus();
    return;
  }
  ctx.busy = true;
  say(T.saving);
  try {
    const r = await post(url("approve"), { revision: ctx.state.revision, decisions: decisions() });
    if (!wasStored(r)) return;
    pending.clear();
    location.assign(r.data.next);
  } finally {
    ctx.busy = false;
  }
}

// Alt+T, then a type and Enter: the document read again as that type, with the decisions
// made on the page, as one version; the page then shows the new type's fields.
export async function retype() {
  const sel = $("doctype-select");
  if (ctx.readonly || ctx.busy || !sel.value || sel.value === ctx.state.doctype) return;
  ctx.busy = true;
  say(T.retyping.replace("{type}", sel.options[sel.selectedIndex].text));
  try {
    const r = await post(url("type"), { revision: ctx.state.revision, doctype: sel.value,
                                        decisions: decisions() });
    if (!wasStored(r)) return;
    pending.clear();
    location.reload();
  } finally {
    ctx.busy = false;
  }
}

// Skip: the decisions made so far are stored first, then the document goes back.
export async function skip() {
  if (ctx.busy) return;
  if (pending.size && !(await saveAll())) return;
  ctx.busy = true;
  try {
    const r = await post(url("skip"), {});
    if (r.ok) location.assign(r.data.next);
  } finally {
    ctx.busy = false;
  }
}

// Alt+R: back to the scanning counter, with a reason (required).
export function openReject() {
  if (ctx.readonly) return;
  $("reject-msg").textContent = "";
  $("reject-dialog").showModal();
  $("reject-reason").focus();
}

export async function confirmReject(ev) {
  ev.preventDefault();
  const reason = clean($("reject-reason").value, false);
  if (reason.length < 3) { $("reject-msg").textContent = T.reason_required; return; }
  const r = await post(url("reject"), { revision: ctx.state.revision, reason });
  if (r.status === 409) { $("reject-dialog").close(); banner(T.conflict, true); return; }
  if (!r.ok) { $("reject-msg").textContent = r.data.detail || T.reason_required; return; }
  location.assign(r.data.next);
}
