// The review page: keyboard first. Enter decides the focused field as shown and moves on
// (Shift+Enter is a new line in a field of several lines), Esc puts the machine's value back,
// Alt+M marks a field not on the document, Alt+G takes the value verified before that is
// offered beside a field, Ctrl+Enter approves, Ctrl+S saves without approving, Alt+T changes
// the document type, Alt+S skips, Alt+R rejects, ? shows the keys. The clerk's decisions are
// kept on the page and stored together, as one version of the record, when the document is
// approved (or saved, or its type changed); every save names the revision it edited. The
// messages come from the server, in the language of the page it rendered.
(() => {
  "use strict";
  const $ = (id) => document.getElementById(id);
  const read = (id) => JSON.parse($(id).textContent);
  let state = read("review-state");
  const T = read("review-strings");
  const PROVINCES = new Set(read("review-provinces"));
  const CONFIG = read("review-config");
  const RULES = CONFIG.rules;
  const MULTI_KINDS = new Set(RULES.multiline_kinds);
  const csrf = document.querySelector('meta[name="csrf-token"]').content;
  const ICON = { accepted: "✓", review: "⚠", missing: "∅", confirmed: "✔", corrected: "✎", not_on_document: "⊘" };
  let readonly = CONFIG.readonly || state.held_by_other;
  let page = 0;
  let zoom = 1;
  let busy = false;
  let focusedName = null;
  let conflicted = false;
  // Decisions made on the page and not stored yet, by field, in the order they were made
  // (the server checks each against those before it, as the page did): the decision sent,
  // and the field as the page shows it meanwhile.
  const pending = new Map();
  const MAX_AGO_MS = 12 * 3600 * 1000;  // review/lifecycle.py: MAX_DECIDED_AGO_MS

  // -- values shown vs stored: dates are shown as dd/mm/yyyy, stored ISO ----------------------
  const show = (f, v) => {
    if (v == null) return "";
    const m = f.kind === "date" && /^(\d{4})-(\d{2})-(\d{2})$/.exec(v);
    return m ? `${m[3]}/${m[2]}/${m[1]}` : v;
  };

  // -- checks: the rules of review/validation.py, with the limits it passes in RULES --------
  // A value of several lines keeps its line breaks; spaces are made one either way.
  const multiline = (f, raw) => MULTI_KINDS.has(f.kind) || raw.includes("\n");
  function clean(v, several) {
    v = v.normalize("NFC");
    if (!several) return v.replace(/\s+/g, " ").trim();
    return v.split(/\r\n|\r|\n/).map((l) => l.replace(/[^\S\n\r]+/g, " ").trim())
      .filter(Boolean).join("\n");
  }

  const ISO = /^([0-9]{4})-([0-9]{1,2})-([0-9]{1,2})$/;
  const DMY = /^([0-9]{1,2})\s*[/.\-]\s*([0-9]{1,2})\s*[/.\-]\s*([0-9]{4})$/;
  const escapeClass = (chars) => chars.replace(/[\]\\^-]/g, "\\$&");
  const NAME_WORD = new RegExp(`^\\p{L}+(?:[${escapeClass(RULES.name_joiners)}]\\p{L}+)*$`, "u");

  // {y, mo, d}, null when not written as a date, "bad" when no such day exists.
  function parseDate(v) {
    let m = ISO.exec(v);
    let y, mo, d;
    if (m) { [y, mo, d] = [+m[1], +m[2], +m[3]]; }
    else {
      m = DMY.exec(v);
      if (!m) return null;
      [d, mo, y] = [+m[1], +m[2], +m[3]];
    }
    // Counted, not Date(): Date maps the years 0-99 onto 1900-1999.
    const leap = y % 4 === 0 && (y % 100 !== 0 || y % 400 === 0);
    const days = [31, leap ? 29 : 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31][mo - 1];
    if (y < 1 || !days || d < 1 || d > days) return "bad";
    return { y, mo, d };
  }

  // The birth year a 12-digit ID encodes (century/sex digit, two digits), or null.
  function idYear(digits) {
    const base = /^[0-9]{12}$/.test(digits) ? RULES.centuries[digits[3]] : undefined;
    return base === undefined ? null : base + +digits.slice(4, 6);
  }

  // The same person's ID (for a birth date) or birth date (for an ID), once it is settled:
  // whichever of the two is decided second is checked against the first.
  function partner(f) {
    const o = f.pair ? field(f.pair) : null;
    return o && o.settled && o.value ? o.value : null;
  }

  // The problems' codes (none: valid); the server checks the same again on save.
  function validate(f, raw) {
    const v = clean(raw, multiline(f, raw));
    if (!v) return ["empty"];
    if (f.kind === "citizen_id") {
      const digits = v.replace(/ /g, "");
      if (!/^[0-9]{12}$/.test(digits)) return ["id12"];
      const out = [];
      if (!PROVINCES.has(digits.slice(0, 3))) out.push("province");
      const year = idYear(digits);
      const birth = partner(f);
      if (year === null) out.push("century");
      else if (birth && ISO.test(birth) && +birth.slice(0, 4) !== year) out.push("id_birth");
      return out;
    }
    if (f.kind === "date") {
      const p = parseDate(v);
      if (p === null) return ["date_format"];
      if (p === "bad") return ["date_real"];
      if (p.y < RULES.years[0] || p.y > RULES.years[1]) return ["date_range"];
      const id = partner(f);
      const year = id ? idYear(id) : null;
      return year !== null && p.y !== year ? ["id_birth"] : [];
    }
    if (f.kind === "person_name") {
      const words = v.split(" ");
      if (!words.every((w) => NAME_WORD.test(w))) return ["name_letters"];
      if (words.length < 2) return ["name_words"];
      return [];
    }
    if (["phone", "enterprise_code", "number"].includes(f.kind)) {
      return /^[0-9]+$/.test(v.replace(/[ .]/g, "")) ? [] : ["digits"];
    }
    return [];
  }

  // A check's outcome beside the field; a value that only disagrees with the same person's
  // other value may be kept, explicitly, when the document says so.
  function showCheck(name, codes) {
    $(`msg-${name}`).textContent = codes.map((c) => T[c] || c).join("; ");
    input(name).setAttribute("aria-invalid", codes.length ? "true" : "false");
    $(`keep-${name}`).hidden = readonly || !(codes.length === 1 && codes[0] === "id_birth");
  }

  // -- rendering -----------------------------------------------------------------------------
  const list = $("field-list");
  const img = $("page-image");
  const wrap = $("image-wrap");
  const scroller = $("image-scroll");

  function statusBadge(status) {
    const b = document.createElement("span");
    b.className = `badge ${status}`;
    b.textContent = `${ICON[status] || ""} ${T[status] || status}`;
    return b;
  }

  // The list is built once; later states update it in place, so the focused input (and
  // anything typed ahead while a save is in flight) is never replaced.
  function buildFields() {
    list.replaceChildren();
    for (const f of state.fields) {
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
      input.readOnly = readonly;
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
        r.textContent = f.readings.map((x) => `${x.source}: ${x.value ?? "—"}`).join(" · ");
        li.append(r);
      }
      list.append(li);
      input.addEventListener("focus", () => onFocus(f.name));
      input.addEventListener("input", () => showCheck(f.name, validate(field(f.name), input.value)));
      if (f.problems && f.problems.length && !f.settled) msg.textContent = f.problems.join("; ");
    }
    updateFields(null);
  }

  // A value people verified for the same field of the same type, offered beside the field;
  // Alt+G (or the button) takes it.
  let suggestions = {};
  function offer(name, value) {
    const f = stored(name);
    if (!f || readonly || $(`suggest-${name}`)) return;
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

  async function loadSuggestions() {
    const resp = await fetch(`/review/${state.record_id}/suggestions`,
                             { credentials: "same-origin", headers: { Accept: "application/json" } });
    if (!resp.ok) return;
    suggestions = (await resp.json()).suggestions || {};
    for (const [name, value] of Object.entries(suggestions)) offer(name, value);
  }

  function updateFields(saved) {
    for (const s of state.fields) {
      const f = field(s.name);
      const li = $(`field-${f.name}`);
      li.className = `field st-${f.status}${f.pending ? " pending" : ""}` +
        `${f.name === focusedName ? " focused" : ""}`;
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
      $(`src-${f.name}`).textContent = f.source;
      if (saved && saved.includes(f.name)) {
        input(f.name).value = show(f, f.value);
        showCheck(f.name, []);
      }
    }
    drawBoxes();
  }

  function renderStrip() {
    const strip = $("page-strip");
    strip.replaceChildren();
    state.pages.forEach((p, i) => {
      const b = document.createElement("button");
      b.type = "button";
      b.textContent = String(i + 1);
      b.className = i === page ? "current" : "";
      b.tabIndex = -1;
      b.addEventListener("click", () => showPage(i));
      strip.append(b);
    });
    strip.hidden = state.pages.length < 2;
  }

  function scale() {
    return img.naturalWidth ? img.clientWidth / img.naturalWidth : 1;
  }

  function drawBoxes() {
    wrap.querySelectorAll(".box").forEach((b) => b.remove());
    const s = scale();
    for (const f of state.fields) {
      if (!f.bbox || f.page !== page) continue;
      const [x0, y0, x1, y1] = f.bbox;
      const b = document.createElement("div");
      const st = field(f.name).status;
      b.className = `box st-${st}${f.name === focusedName ? " active" : ""}`;
      b.id = `box-${f.name}`;
      b.dataset.name = f.name;
      Object.assign(b.style, { left: `${x0 * s}px`, top: `${y0 * s}px`,
                               width: `${(x1 - x0) * s}px`, height: `${(y1 - y0) * s}px` });
      wrap.append(b);
    }
    for (const f of state.fields) drawCrop(f);
  }

  function drawCrop(f) {
    const c = $(`crop-${f.name}`);
    if (!c) return;
    const p = f.page != null ? state.pages[f.page] : null;
    if (!f.bbox || !p || !p.has_image) { c.hidden = true; return; }
    const [x0, y0, x1, y1] = f.bbox;
    const pad = 6;
    const w = x1 - x0 + 2 * pad, h = y1 - y0 + 2 * pad;
    const s = Math.min(1.2, 380 / w, 38 / h);
    const nw = p.nw || null;
    c.hidden = false;
    Object.assign(c.style, {
      width: `${w * s}px`, height: `${h * s}px`, backgroundImage: `url("${p.url}")`,
      backgroundPosition: `${-(x0 - pad) * s}px ${-(y0 - pad) * s}px`,
      backgroundSize: nw ? `${nw * s}px auto` : "auto",
    });
  }

  function showPage(i) {
    if (i === page && img.getAttribute("src")) return Promise.resolve();
    page = i;
    renderStrip();
    const p = state.pages[i];
    return new Promise((resolve) => {
      if (!p || !p.has_image) { img.removeAttribute("src"); drawBoxes(); resolve(); return; }
      img.onload = () => { applyZoom(); resolve(); };
      img.onerror = () => resolve();
      img.src = p.url;
    });
  }

  function applyZoom() {
    img.style.width = `${Math.round(zoom * 100)}%`;
    drawBoxes();
    if (focusedName) scrollToBox(focusedName);
  }

  function scrollToBox(name) {
    const b = $(`box-${name}`);
    if (!b) return;
    const top = b.offsetTop - scroller.clientHeight / 2 + b.offsetHeight / 2;
    const left = b.offsetLeft - scroller.clientWidth / 2 + b.offsetWidth / 2;
    scroller.scrollTo({ top: Math.max(0, top), left: Math.max(0, left), behavior: "instant" });
  }

  async function onFocus(name) {
    focusedName = name;
    document.querySelectorAll(".field.focused").forEach((x) => x.classList.remove("focused"));
    $(`field-${name}`).classList.add("focused");
    $(`field-${name}`).scrollIntoView({ block: "nearest" });  // its suggestion and messages too
    const f = field(name);
    if (f.page != null && f.page !== page) await showPage(f.page);
    wrap.querySelectorAll(".box.active").forEach((b) => b.classList.remove("active"));
    const b = $(`box-${name}`);
    if (b) {
      b.classList.add("active");
      // A small box is zoomed to a readable size; the page is scrolled to bring it in view.
      const want = b.offsetHeight < 14 && zoom < 2 ? 1.6 : zoom;
      if (want !== zoom) { zoom = want; applyZoom(); }
      scrollToBox(name);
    }
  }

  // A field as stored, and as the page shows it: with the clerk's decision not stored yet.
  const stored = (name) => state.fields.find((f) => f.name === name);
  function field(name) {
    const f = stored(name);
    const p = pending.get(name);
    return p ? Object.assign({}, f, { value: p.value, status: p.status, settled: true,
                                      pending: true }) : f;
  }
  const input = (name) => $(`input-${name}`);

  // A typed value as the server stores it, for the page's own checks of the other fields
  // (a date as yyyy-mm-dd, an ID without spaces).
  function storedForm(f, v) {
    if (v == null) return v;
    if (f.kind === "date") {
      const p = parseDate(v);
      if (p && p !== "bad") {
        const two = (n) => String(n).padStart(2, "0");
        return `${String(p.y).padStart(4, "0")}-${two(p.mo)}-${two(p.d)}`;
      }
    }
    if (f.kind === "citizen_id") return v.replace(/ /g, "");
    return v;
  }

  function say(text, kind = "") {
    const s = $("status-line");
    s.textContent = text;
    s.className = `notice ${kind}`;
  }

  function banner(text, withReload) {
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

  async function post(url, body) {
    const resp = await fetch(url, {
      method: "POST", credentials: "same-origin",
      headers: { "Content-Type": "application/json", "x-csrftoken": csrf, Accept: "application/json" },
      body: JSON.stringify(body || {}),
    });
    let data = null;
    try { data = await resp.json(); } catch (e) { data = { detail: resp.statusText }; }
    return { ok: resp.ok, status: resp.status, data };
  }

  function nextUnresolved(after) {
    const names = state.fields.map((f) => f.name);
    const start = after ? names.indexOf(after) + 1 : 0;
    for (let k = 0; k < names.length; k++) {
      const f = field(names[(start + k) % names.length]);
      if (!f.settled) return f.name;
    }
    return null;
  }

  function unresolvedCount() {
    return state.fields.filter((f) => !field(f.name).settled).length;
  }

  // The count of decisions not stored yet, on the Save button and in the status line.
  function showPending() {
    const c = $("pending-count");
    c.textContent = String(pending.size);
    c.hidden = pending.size === 0;
    if (pending.size) say(T.pending_count.replace("{n}", String(pending.size)));
  }

  // Each decision says how long ago the clerk made it: the audit keeps when each field was
  // decided, and the review metrics the time spent on it.
  function decisions() {
    const now = performance.now();
    return [...pending.values()].map((p) => Object.assign({}, p.decision, {
      decided_ms_ago: Math.min(MAX_AGO_MS, Math.max(0, Math.round(now - p.at))) }));
  }

  // A value the server refused: its words beside the field, which gets the focus.
  function showRefused(x) {
    $(`msg-${x.field}`).textContent = x.messages.join("; ");
    input(x.field).setAttribute("aria-invalid", "true");
    $(`keep-${x.field}`).hidden = readonly || !x.as_printed;
    say("");
    input(x.field).focus();
  }

  function conflict() {
    conflicted = true;
    banner(T.conflict, true);
    say("");
  }

  function applyState(next, saved) {
    next.pages.forEach((p, i) => { if (state.pages[i]) p.nw = state.pages[i].nw; });
    state = next;
    $("revision").textContent = String(state.revision);
    updateFields(saved);
  }

  // The decisions made so far stored as one version of the record.
  async function saveAll() {
    if (readonly || busy) return false;
    if (!pending.size) { say(T.nothing_to_save); return true; }
    busy = true;
    say(T.saving);
    try {
      const names = [...pending.keys()];
      const r = await post(`/review/${state.record_id}/fields`,
                           { revision: state.revision, decisions: decisions() });
      if (r.status === 409) { conflict(); return false; }
      if (!r.ok) { say(r.data.detail || T.error.replace("{msg}", r.status), "warn"); return false; }
      if (r.data.refused) { showRefused(r.data.refused); return false; }
      pending.clear();
      applyState(r.data, names);
      showPending();
      say(T.saved, "ok");
      return true;
    } finally {
      busy = false;
    }
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
  function acceptField(el, asPrinted = false) {
    if (readonly) return;
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

  function takeSuggestion(name) {
    const offered = suggestions[name];
    if (readonly || !offered) return;
    const el = input(name);
    el.value = show(field(name), offered);
    acceptField(el);
  }

  function keepAsPrinted(name) {
    if (readonly) return;
    acceptField(input(name), true);
  }

  function markMissing(el) {
    if (readonly) return;
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
  function restore(el) {
    const name = el.dataset.name;
    pending.delete(name);
    el.value = show(stored(name), stored(name).machine_value);
    el.dispatchEvent(new Event("input"));
    updateFields(null);
    showPending();
  }

  // Ctrl+Enter: the decisions made on the page and the approval, stored as one version.
  async function approve() {
    if (readonly || busy) return;
    const n = unresolvedCount();
    if (n > 0) {
      say(T.unresolved_left.replace("{n}", String(n)), "warn");
      const first = nextUnresolved(null);
      if (first) input(first).focus();
      return;
    }
    busy = true;
    say(T.saving);
    try {
      const r = await post(`/review/${state.record_id}/approve`,
                           { revision: state.revision, decisions: decisions() });
      if (r.status === 409) { conflict(); return; }
      if (!r.ok) { say(r.data.detail || T.error.replace("{msg}", r.status), "warn"); return; }
      if (r.data.refused) { showRefused(r.data.refused); return; }
      pending.clear();
      location.assign(r.data.next);
    } finally {
      busy = false;
    }
  }

  // Alt+T, then a type and Enter: the document read again as that type, with the decisions
  // made on the page, as one version; the page then shows the new type's fields.
  async function retype() {
    const sel = $("doctype-select");
    if (readonly || busy || !sel.value || sel.value === state.doctype) return;
    busy = true;
    say(T.retyping.replace("{type}", sel.options[sel.selectedIndex].text));
    try {
      const r = await post(`/review/${state.record_id}/type`,
                           { revision: state.revision, doctype: sel.value,
                             decisions: decisions() });
      if (r.status === 409) { conflict(); return; }
      if (!r.ok) { say(r.data.detail || T.error.replace("{msg}", r.status), "warn"); return; }
      if (r.data.refused) { showRefused(r.data.refused); return; }
      pending.clear();
      location.reload();
    } finally {
      busy = false;
    }
  }

  // Skip: the decisions made so far are stored first, then the document goes back.
  async function skip() {
    if (busy) return;
    if (pending.size && !(await saveAll())) return;
    busy = true;
    try {
      const r = await post(`/review/${state.record_id}/skip`, {});
      if (r.ok) location.assign(r.data.next);
    } finally {
      busy = false;
    }
  }

  function openReject() {
    if (readonly) return;
    $("reject-msg").textContent = "";
    $("reject-dialog").showModal();
    $("reject-reason").focus();
  }

  async function confirmReject(ev) {
    ev.preventDefault();
    const reason = clean($("reject-reason").value, false);
    if (reason.length < 3) { $("reject-msg").textContent = T.reason_required; return; }
    const r = await post(`/review/${state.record_id}/reject`, { revision: state.revision, reason });
    if (r.status === 409) { $("reject-dialog").close(); banner(T.conflict, true); return; }
    if (!r.ok) { $("reject-msg").textContent = r.data.detail || T.reason_required; return; }
    location.assign(r.data.next);
  }

  // A failure in this script is shown, not swallowed.
  window.addEventListener("unhandledrejection", (ev) => {
    say(T.error.replace("{msg}", String(ev.reason)), "warn");
    console.error(ev.reason);
  });

  // -- keys ----------------------------------------------------------------------------------
  document.addEventListener("keydown", (e) => {
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
      if (!readonly) $("doctype-select").focus();
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
  });

  $("btn-approve").addEventListener("click", approve);
  $("btn-save").addEventListener("click", saveAll);
  $("doctype-form").addEventListener("submit", (ev) => { ev.preventDefault(); retype(); });
  // Leaving with decisions not stored asks first (a conflict's reload excepted: they cannot
  // be stored).
  window.addEventListener("beforeunload", (ev) => {
    if (pending.size && !conflicted && !readonly) { ev.preventDefault(); ev.returnValue = ""; }
  });
  $("btn-skip").addEventListener("click", skip);
  $("btn-reject").addEventListener("click", openReject);
  $("btn-help").addEventListener("click", () => $("help-dialog").showModal());
  $("reject-form").addEventListener("submit", confirmReject);
  $("reject-cancel").addEventListener("click", () => $("reject-dialog").close());
  $("zoom-in").addEventListener("click", () => { zoom = Math.min(4, zoom * 1.25); applyZoom(); });
  $("zoom-out").addEventListener("click", () => { zoom = Math.max(0.5, zoom / 1.25); applyZoom(); });
  window.addEventListener("resize", drawBoxes);

  // The lease is renewed while the page is open; a lost lease makes the page read-only.
  if (!readonly) {
    const every = Math.max(5, Math.floor(CONFIG.lease_seconds / 3)) * 1000;
    setInterval(async () => {
      const r = await post(`/review/${state.record_id}/lease`, {});
      if (r.status === 409) { readonly = true; banner(T.lease_lost, true); }
    }, every);
  }
  if (readonly) {
    for (const b of ["btn-approve", "btn-reject", "btn-save", "btn-doctype", "doctype-select"]) {
      $(b).disabled = true;
    }
  }

  // Natural page sizes, for the crops above the inputs.
  state.pages.forEach((p) => {
    if (!p.has_image) return;
    const probe = new Image();
    probe.onload = () => { p.nw = probe.naturalWidth; for (const f of state.fields) drawCrop(f); };
    probe.src = p.url;
  });
  renderStrip();
  buildFields();
  if (state.unknown_type && !readonly) say(T.unknown_type, "warn");
  const first = nextUnresolved(null) || (state.fields[0] && state.fields[0].name);
  const firstPage = first && field(first).page != null ? field(first).page : 0;
  showPage(firstPage).then(() => {
    if (first) input(first).focus();
    // Asked for once the page is ready to work on: the page never waits for them.
    if (!readonly) loadSuggestions();
  });
})();
