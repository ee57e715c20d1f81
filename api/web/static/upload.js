// The upload page: stage files and folders (a folder is a dossier), send them as one batch,
// then follow the batch through server-sent events; a failed file can be replaced.
(function () {
  "use strict";
  const W = JSON.parse(document.getElementById("upload-words").textContent);
  const csrf = document.querySelector('meta[name="csrf-token"]').content;
  const $ = (id) => document.getElementById(id);
  const staged = []; // [{file, name}] where name is "folder/sub/file" or "file"
  let source = null;
  let batchId = null;
  let replacing = null;

  function el(tag, attrs, ...children) {
    const n = document.createElement(tag);
    for (const [k, v] of Object.entries(attrs || {})) {
      if (k === "class") n.className = v; else if (k.startsWith("on")) n.addEventListener(k.slice(2), v);
      else n.setAttribute(k, v);
    }
    for (const c of children) if (c !== null && c !== undefined) n.append(c);
    return n;
  }

  function stage(file, name) {
    staged.push({ file, name: name || file.webkitRelativePath || file.name });
    showStaged();
  }

  function showStaged() {
    const list = $("staged");
    list.replaceChildren(...staged.map((s) => el("li", {}, `${s.name} (${Math.ceil(s.file.size / 1024)} KB)`)));
  }

  // Folders dropped on the page: walk them, keeping each file's path inside the folder.
  function walk(entry, prefix) {
    return new Promise((resolve) => {
      if (entry.isFile) {
        entry.file((f) => { stage(f, prefix + f.name); resolve(); }, () => resolve());
      } else if (entry.isDirectory) {
        const reader = entry.createReader();
        const all = [];
        const next = () => reader.readEntries((batch) => {
          if (!batch.length) {
            Promise.all(all.map((e) => walk(e, prefix + entry.name + "/"))).then(resolve);
          } else { all.push(...batch); next(); }
        }, () => resolve());
        next();
      } else resolve();
    });
  }

  const drop = $("drop");
  drop.addEventListener("dragover", (e) => { e.preventDefault(); drop.classList.add("over"); });
  drop.addEventListener("dragleave", () => drop.classList.remove("over"));
  drop.addEventListener("drop", (e) => {
    e.preventDefault();
    drop.classList.remove("over");
    const entries = [...e.dataTransfer.items].map((i) => i.webkitGetAsEntry && i.webkitGetAsEntry()).filter(Boolean);
    if (entries.length) entries.forEach((en) => walk(en, ""));
    else [...e.dataTransfer.files].forEach((f) => stage(f));
  });
  $("pick-files").addEventListener("change", (e) => { [...e.target.files].forEach((f) => stage(f, f.name)); e.target.value = ""; });
  $("pick-folder").addEventListener("change", (e) => { [...e.target.files].forEach((f) => stage(f)); e.target.value = ""; });
  $("clear").addEventListener("click", () => { staged.length = 0; showStaged(); });

  function notice(text, kind) { const n = $("notice"); n.textContent = text; n.className = "notice " + (kind || ""); }

  // The server says what went wrong and what to do in the page's language, with the
  // request id the administrator can find in the log.
  async function post(url, form) {
    const r = await fetch(url, { method: "POST", body: form, headers: { "x-csrftoken": csrf }, credentials: "same-origin" });
    const body = await r.json().catch(() => ({}));
    if (!r.ok) {
      const words = [body.detail || W.server_error, body.hint].filter(Boolean).join(" ");
      throw new Error(body.request_id ? `${words} (${W.request_id}: ${body.request_id})` : words);
    }
    return body;
  }

  $("send").addEventListener("click", async () => {
    if (!staged.length) { notice(W.no_files, "warn"); return; }
    const form = new FormData();
    for (const s of staged) form.append("files", s.file, s.name);
    notice(W.uploading);
    $("send").disabled = true;
    try {
      const r = await post("/upload", form);
      staged.length = 0; showStaged();
      notice(W.received, "ok");
      follow(r.batch_id);
    } catch (err) {
      notice(`${W.upload_failed}: ${err.message}`, "warn");
    } finally { $("send").disabled = false; }
  });

  $("replace-input").addEventListener("change", async (e) => {
    const f = e.target.files[0];
    e.target.value = "";
    if (!f || !replacing) return;
    const form = new FormData();
    form.append("file", f, f.name);
    try {
      await post(`/upload/batches/${batchId}/files/${replacing}`, form);
      follow(batchId);
    } catch (err) { notice(`${W.upload_failed}: ${err.message}`, "warn"); }
  });

  // A store (object store or index) unreachable: the batch waits, its worker retries and
  // nothing is lost; the progress drawn last stays until the store is back.
  function render(view) {
    const waiting = view.waiting_for || [];
    $("waiting").hidden = !waiting.length;
    $("progress-card").dataset.waiting = waiting.join(" ");
    if (waiting.length && !view.dossiers.length) return;
    const box = $("progress");
    box.replaceChildren(...view.dossiers.map((d) => {
      const head = el("h3", {}, d.name, " ", el("span", { class: `badge ${d.stage}`, "data-stage": d.stage }, d.stage_text));
      if (d.finished && d.records) head.append(el("a", { href: `/upload/dossiers/${d.dossier_id}`, class: "records" }, `${W.records} (${d.records})`));
      const files = d.files.map((f) => {
        const pages = el("span", { class: "pages" }, ...f.pages.map((p) => el("span", { class: `page ${p.stage}`, title: `${p.n}: ${p.text}` })));
        const right = f.error ? el("div", { class: "problem" }, f.what, " ", el("span", { class: "detail muted" }, f.error),
          el("span", { class: "todo" }, `${W.what_to_do}: ${f.todo}`),
          el("button", { type: "button", class: "replace", onclick: () => { replacing = f.file_no; $("replace-input").click(); } }, W.replace)) : el("div", {});
        return el("div", { class: "file", "data-name": f.name, "data-stage": f.stage },
          el("div", {}, f.name, pages), el("span", { class: `badge ${f.stage}` }, f.stage_text), right);
      });
      return el("div", { class: "dossier", "data-dossier": d.name, "data-stage": d.stage }, head, ...files);
    }));
  }

  function follow(id) {
    batchId = id;
    $("progress-card").hidden = false;
    $("batch-id").textContent = id;
    if (source) source.close();
    source = new EventSource(`/upload/batches/${id}/events`);
    source.onmessage = (e) => render(JSON.parse(e.data));
    source.addEventListener("finished", () => { source.close(); source = null; });
    // The browser gives up on a stream the server refused (it could not answer for a while):
    // follow the batch again a little later.
    const mine = source;
    source.onerror = () => {
      if (mine.readyState !== EventSource.CLOSED || source !== mine) return;
      source = null;
      setTimeout(() => { if (batchId === id && source === null) follow(id); }, 3000);
    };
  }

  const given = $("progress-card").dataset.batch;
  if (given) follow(given);
})();
