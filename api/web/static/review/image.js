// The page image with every field's box (coloured by the field's status, the focused one
// active), the strip of pages, the zoom, and the crop of each box above its input.
import { $ } from "./dom.js";
import { ctx, field } from "./state.js";

const img = $("page-image");
const wrap = $("image-wrap");
const scroller = $("image-scroll");

export function renderStrip() {
  const strip = $("page-strip");
  strip.replaceChildren();
  ctx.state.pages.forEach((p, i) => {
    const b = document.createElement("button");
    b.type = "button";
    b.textContent = String(i + 1);
    b.className = i === ctx.page ? "current" : "";
    b.tabIndex = -1;
    b.addEventListener("click", () => showPage(i));
    strip.append(b);
  });
  strip.hidden = ctx.state.pages.length < 2;
}

function scale() {
  return img.naturalWidth ? img.clientWidth / img.naturalWidth : 1;
}

export function drawBoxes() {
  wrap.querySelectorAll(".box").forEach((b) => b.remove());
  const s = scale();
  for (const f of ctx.state.fields) {
    if (!f.bbox || f.page !== ctx.page) continue;
    const [x0, y0, x1, y1] = f.bbox;
    const b = document.createElement("div");
    const st = field(f.name).status;
    b.className = `box st-${st}${f.name === ctx.focusedName ? " active" : ""}`;
    b.id = `box-${f.name}`;
    b.dataset.name = f.name;
    Object.assign(b.style, { left: `${x0 * s}px`, top: `${y0 * s}px`,
                             width: `${(x1 - x0) * s}px`, height: `${(y1 - y0) * s}px` });
    wrap.append(b);
  }
  drawCrops();
}

function drawCrop(f) {
  const c = $(`crop-${f.name}`);
  if (!c) return;
  const p = f.page != null ? ctx.state.pages[f.page] : null;
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

function drawCrops() {
  for (const f of ctx.state.fields) drawCrop(f);
}

// Natural page sizes, for the crops above the inputs.
export function measurePages() {
  ctx.state.pages.forEach((p) => {
    if (!p.has_image) return;
    const probe = new Image();
    probe.onload = () => { p.nw = probe.naturalWidth; drawCrops(); };
    probe.src = p.url;
  });
}

export function showPage(i) {
  if (i === ctx.page && img.getAttribute("src")) return Promise.resolve();
  ctx.page = i;
  renderStrip();
  const p = ctx.state.pages[i];
  return new Promise((resolve) => {
    if (!p || !p.has_image) { img.removeAttribute("src"); drawBoxes(); resolve(); return; }
    img.onload = () => { applyZoom(); resolve(); };
    img.onerror = () => resolve();
    img.src = p.url;
  });
}

function applyZoom() {
  img.style.width = `${Math.round(ctx.zoom * 100)}%`;
  drawBoxes();
  if (ctx.focusedName) scrollToBox(ctx.focusedName);
}

// The zoom buttons: a quarter more or less, between half and four times.
export function zoomIn() { ctx.zoom = Math.min(4, ctx.zoom * 1.25); applyZoom(); }
export function zoomOut() { ctx.zoom = Math.max(0.5, ctx.zoom / 1.25); applyZoom(); }

function scrollToBox(name) {
  const b = $(`box-${name}`);
  if (!b) return;
  const top = b.offsetTop - scroller.clientHeight / 2 + b.offsetHeight / 2;
  const left = b.offsetLeft - scroller.clientWidth / 2 + b.offsetWidth / 2;
  scroller.scrollTo({ top: Math.max(0, top), left: Math.max(0, left), behavior: "instant" });
}

// A field focused: its page shown, its box active and brought in view.
export async function showBox(name) {
  const f = field(name);
  if (f.page != null && f.page !== ctx.page) await showPage(f.page);
  wrap.querySelectorAll(".box.active").forEach((b) => b.classList.remove("active"));
  const b = $(`box-${name}`);
  if (b) {
    b.classList.add("active");
    // A small box is zoomed to a readable size; the page is scrolled to bring it in view.
    const want = b.offsetHeight < 14 && ctx.zoom < 2 ? 1.6 : ctx.zoom;
    if (want !== ctx.zoom) { ctx.zoom = want; applyZoom(); }
    scrollToBox(name);
  }
}
