// Calls to the server: JSON both ways, same-origin, the session's CSRF token on every POST;
// and what the page does when a store is not made: a conflict (409, someone else changed
// the record: nothing of theirs is overwritten, the page offers a reload), an error, or a
// value the server refused.
import { T, banner, say } from "./messages.js";
import { ctx } from "./state.js";
import { showRefused } from "./decisions.js";

const csrf = document.querySelector('meta[name="csrf-token"]').content;

// {ok, status, data}; data is the answer's JSON, or {detail} when it has none.
export async function post(url, body) {
  const resp = await fetch(url, {
    method: "POST", credentials: "same-origin",
    headers: { "Content-Type": "application/json", "x-csrftoken": csrf, Accept: "application/json" },
    body: JSON.stringify(body || {}),
  });
  let data = null;
  try { data = await resp.json(); } catch (e) { data = { detail: resp.statusText }; }
  return { ok: resp.ok, status: resp.status, data };
}

// The answer's JSON, or null when the server said no.
export async function getJSON(url) {
  const resp = await fetch(url, { credentials: "same-origin", headers: { Accept: "application/json" } });
  if (!resp.ok) return null;
  return resp.json();
}

function conflict() {
  ctx.conflicted = true;
  banner(T.conflict, true);
  say("");
}

// Whether a call that stores decisions stored them; when not, why is shown.
export function wasStored(r) {
  if (r.status === 409) { conflict(); return false; }
  if (!r.ok) { say(r.data.detail || T.error.replace("{msg}", r.status), "warn"); return false; }
  if (r.data.refused) { showRefused(r.data.refused); return false; }
  return true;
}
