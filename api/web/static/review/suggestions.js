// A value people verified before for the same field of the same document type, offered
// beside the field; Alt+G (or the button) takes it. Asked for once the page is ready
// (GET /review/{id}/suggestions): the page never waits for them.
import { $ } from "./dom.js";
import { T } from "./messages.js";
import { ctx, field, input, stored } from "./state.js";
import { show } from "./validation.js";
import { getJSON } from "./api.js";
import { acceptField } from "./decisions.js";

let suggestions = {};

function offer(name, value) {
  const f = stored(name);
  if (!f || ctx.readonly || $(`suggest-${name}`)) return;
  const sug = document.createElement("div");
  sug.className = "suggestion";
  sug.id = `suggest-${name}`;
  const what = document.createElement("span");
  what.className = "muted";
  what.textContent = T.suggestion;
  const shown = document.createElement("span");
  shown.className = "value";
  shown.id = `suggested-${name}`;
  shown.textContent = show(f, value);
  const take = document.createElement("button");
  take.type = "button";
  take.id = `take-${name}`;
  take.tabIndex = -1;  // Tab goes field to field; Alt+G takes it from the field
  take.title = "Alt+G";
  const key = document.createElement("kbd");
  key.textContent = "Alt+G";
  take.append("↵ ", key);
  take.addEventListener("click", () => takeSuggestion(name));
  sug.append(what, shown, take);
  $(`msg-${name}`).after(sug);
  sug.hidden = field(name).settled;
}

export async function loadSuggestions() {
  const data = await getJSON(`/review/${ctx.state.record_id}/suggestions`);
  if (data === null) return;
  suggestions = data.suggestions || {};
  for (const [name, value] of Object.entries(suggestions)) offer(name, value);
}

export function takeSuggestion(name) {
  const offered = suggestions[name];
  if (ctx.readonly || !offered) return;
  const el = input(name);
  el.value = show(field(name), offered);
  acceptField(el);
}
