"""Dossiers on disk: containers, ground truth beside each dossier, and the corpus manifest."""

from __future__ import annotations

import hashlib
import io
import json
import logging
import random
import shutil
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

from PIL import Image

from .canvas import A4_300, Canvas, render_pdf_page
from .degrade import LEVELS, DegradePlan, ScannedPage, add_overlays, apply_plan, plan_degradations
from .fonts import FONT_FAMILIES, families_for_split
from .registry import CARD_DOCTYPES, DOCTYPES, layouts_for, new_ctx, render_document
from .sheet import Ctx, RenderedDocument

__all__ = ["CONTAINERS", "GENERATOR_VERSION", "DossierSpec", "generate_corpus", "generate_dossier", "plan_dossier"]

log = logging.getLogger(__name__)

CONTAINERS = ("png", "jpeg", "tiff", "pdf-scan", "pdf-text", "folder")
_CONTAINER_WEIGHTS = {"png": 2, "jpeg": 2, "tiff": 1.5, "pdf-scan": 3, "pdf-text": 1.5, "folder": 1}
_EXT = {"png": ".png", "jpeg": ".jpg", "tiff": ".tiff", "pdf-scan": ".pdf", "pdf-text": ".pdf", "folder": ""}
_PDF_DATE = datetime(2024, 1, 1, tzinfo=UTC)
SCHEMA = "dossier-truth/1"
# Bumped whenever the same seed renders different pages (2: real QR codes on chip cards and
# barcodes on receipts); corpus caches key on it.
GENERATOR_VERSION = 2

# Documents a citizen hands in together for one procedure: (doctype, whose card) pairs.
BUNDLES: dict[str, tuple[str, list[tuple[str, str]]]] = {
    "khai-sinh": ("Đăng ký khai sinh", [("receipt_appointment", ""), ("birth_registration", ""),
                                        ("cccd_front", "father"), ("cccd_back", "father")]),
    "ket-hon": ("Đăng ký kết hôn", [("receipt_appointment", ""), ("marriage_registration", ""),
                                    ("cccd_front", "wife"), ("cccd_front", "husband")]),
    "thuong-tru": ("Đăng ký thường trú", [("receipt_appointment", ""), ("application_letter", ""),
                                          ("residence_confirmation", ""), ("cccd_front", "applicant")]),
    "trich-luc": ("Cấp bản sao trích lục hộ tịch", [("receipt_appointment", ""), ("application_letter", ""),
                                                    ("birth_certificate_extract", "")]),
    "doanh-nghiep": ("Đăng ký thành lập doanh nghiệp tư nhân", [
        ("receipt_appointment", ""), ("enterprise_registration", ""), ("power_of_attorney", ""),
        ("cccd_front", "applicant")]),
    "dat-dai": ("Đăng ký biến động quyền sử dụng đất", [
        ("receipt_appointment", ""), ("land_use_certificate", ""), ("power_of_attorney", ""),
        ("cccd_front", "applicant"), ("cccd_back", "applicant")]),
}
_ROLE_OF_APPLICANT = {"khai-sinh": "father", "ket-hon": "husband"}


@dataclass
class DossierSpec:
    """Everything that decides one dossier; the same spec always gives the same bytes."""

    name: str
    seed: int
    split: str
    container: str
    degradation: str = "mixed"
    items: list[tuple[str, str, str]] = field(default_factory=list)  # (doctype, layout, card role)
    bundle: str | None = None
    family: str | None = None
    card_on_a4: bool | None = None
    forced: dict[str, object] = field(default_factory=dict)  # page plan overrides, e.g. rotation


def derive_seed(*parts: object) -> int:
    h = hashlib.sha256(":".join(str(p) for p in parts).encode()).digest()
    return int.from_bytes(h[:6], "big")


def plan_dossier(index: int, *, seed: int, split: str, doctypes: list[str], containers: list[str],
                 degradation: str) -> DossierSpec:
    """Choose container and contents of the index-th dossier of a corpus."""
    dseed = derive_seed("dossier", split, seed, index)
    rng = random.Random(dseed)
    container = rng.choices(containers, weights=[_CONTAINER_WEIGHTS[c] for c in containers])[0]
    items: list[tuple[str, str, str]] = []
    bundle = None
    if container not in ("png", "jpeg") and rng.random() < 0.6:
        names = sorted(BUNDLES)
        rng.shuffle(names)
        for b in names:
            chosen = [(d, r) for d, r in BUNDLES[b][1] if d in doctypes]
            if len(chosen) >= 2:
                bundle = b
                items = [(d, rng.choice(layouts_for(d, split)), r or "applicant") for d, r in chosen]
                break
    if not items:
        n = 1 if container in ("png", "jpeg") else rng.choice((1, 1, 2))
        for _ in range(n):
            d = rng.choice(sorted(doctypes))
            items.append((d, rng.choice(layouts_for(d, split)), "applicant"))
    slug = bundle or "-".join(dict.fromkeys(d.replace("_", "-") for d, _, _ in items))
    name = f"{split}-{index:05d}-{slug}"
    return DossierSpec(name=name, seed=dseed, split=split, container=container, degradation=degradation,
                       items=items, bundle=bundle)


def _card_page(card: Canvas, rng: random.Random, on_a4: bool) -> Canvas:
    if on_a4:
        page = Canvas(*A4_300)
        page.place(card, rng.uniform(150, A4_300[0] - card.width - 150), rng.uniform(150, 900))
    else:
        m = rng.randint(24, 60)
        page = Canvas(card.width + 2 * m, card.height + 2 * m, background=(250, 250, 248))
        page.place(card, m, m)
    return page


def _render_items(spec: DossierSpec, rng: random.Random, ctx: Ctx) -> list[tuple[RenderedDocument, list[Canvas]]]:
    out = []
    if spec.bundle:
        ctx.procedure = BUNDLES[spec.bundle][0]
        role = _ROLE_OF_APPLICANT.get(spec.bundle)
        if role:
            sex = "Nam" if role in ("father", "husband") else "Nữ"
            ctx.people["applicant"] = ctx.person(role, sex=sex, born=(1975, 2000))
    for doctype, layout, role in spec.items:
        ctx.card_role = role
        doc = render_document(doctype, layout, rng, ctx=ctx)
        pages = doc.pages
        if doctype in CARD_DOCTYPES:
            on_a4 = spec.card_on_a4 if spec.card_on_a4 is not None else rng.random() < 0.5
            pages = [_card_page(p, rng, on_a4) for p in pages]
        out.append((doc, pages))
    return out


def _page_truth(index: int, file: str | None, source_page: int, page: ScannedPage | None, canvas: Canvas,
                dpi: int, size: tuple[int, int]) -> dict[str, object]:
    if page is None:  # born-digital page
        words = [{"text": w.text, "bbox": [max(0, int(w.bbox[0])), max(0, int(w.bbox[1])),
                                           min(canvas.width, int(w.bbox[2] + 0.999)),
                                           min(canvas.height, int(w.bbox[3] + 0.999))]}
                 for w in canvas.words()]
        text, rotation, skew, degr = canvas.text_content(), 0, 0.0, []
    else:
        words = [{"text": t, "bbox": list(b)} for t, b in page.words]
        text, rotation, skew, degr = page.text, page.plan.rotation, page.plan.skew_deg, list(page.plan.names)
    return {"index": index, "file": file, "source_page": source_page, "width": size[0], "height": size[1],
            "dpi": dpi, "rotation": rotation, "skew_deg": skew, "degradations": degr, "text": text,
            "words": words}


def _scan_mode(rng: random.Random, page: ScannedPage) -> Image.Image:
    img = page.image
    if img.mode == "1":
        return img
    if "phone_photo" not in page.plan.names and rng.random() < 0.55:
        return img.convert("L")
    return img


def generate_dossier(out_dir: Path, spec: DossierSpec) -> dict[str, object]:
    """Write one dossier and its truth file into out_dir; returns its manifest entry."""
    if spec.container not in CONTAINERS:
        raise ValueError(f"unknown container {spec.container!r}; expected one of {', '.join(CONTAINERS)}")
    rng = random.Random(spec.seed)
    family = spec.family or rng.choice(families_for_split(spec.split))
    ctx = new_ctx(rng, family)
    rendered = _render_items(spec, rng, ctx)
    out_dir.mkdir(parents=True, exist_ok=True)
    target = out_dir / (spec.name + _EXT[spec.container])
    truth_pages: list[dict[str, object]] = []
    documents: list[dict[str, object]] = []
    images: list[tuple[Image.Image, int, str]] = []  # image, dpi, format hint
    canvases: list[Canvas] = []
    idx = 0
    for doc, pages in rendered:
        doc_pages = []
        for src, canvas in enumerate(pages):
            if spec.container == "pdf-text":
                truth_pages.append(_page_truth(idx, None, src, None, canvas, 300, (canvas.width, canvas.height)))
                canvases.append(canvas)
            else:
                plan = plan_degradations(rng, spec.degradation, card=canvas.width < 2000)
                _force(plan, spec.forced)
                add_overlays(canvas, plan, rng, FONT_FAMILIES[family])
                scanned = apply_plan(canvas, plan, rng)
                img = _scan_mode(rng, scanned)
                fmt = "jpeg" if ("jpeg" in plan.names or spec.container == "jpeg") and img.mode != "1" else "png"
                fname = f"page-{idx + 1:03d}.{'jpg' if fmt == 'jpeg' else 'png'}" if spec.container == "folder" else None
                truth_pages.append(_page_truth(idx, fname, src, scanned, canvas, scanned.dpi, img.size))
                q = int(plan.params.get("jpeg_quality", 90))
                images.append((img, scanned.dpi, f"{fmt}:{q}"))
            doc_pages.append(idx)
            idx += 1
        entry = {"doctype": doc.doctype, "layout": doc.layout, "pages": doc_pages, "fields": doc.fields}
        if doc.codes:
            entry["codes"] = doc.codes
        documents.append(entry)
    _write_container(target, spec.container, images, canvases)
    truth = {"schema": SCHEMA, "dossier": target.name, "container": spec.container, "seed": spec.seed,
             "split": spec.split, "pages": truth_pages, "documents": documents}
    truth_path = out_dir / f"{spec.name}{_EXT[spec.container]}.truth.json"
    if spec.container == "folder":
        truth_path = out_dir / f"{spec.name}.truth.json"
    truth_path.write_text(json.dumps(truth, ensure_ascii=False, indent=1) + "\n", encoding="utf-8")
    log.debug("wrote dossier %s (%d pages)", target.name, idx)
    return {"dossier": target.name, "truth": truth_path.name, "container": spec.container, "split": spec.split,
            "seed": spec.seed, "pages": idx, "doctypes": [d["doctype"] for d in documents]}


def _force(plan: DegradePlan, forced: dict[str, object]) -> None:
    """Override parts of a drawn plan (used by the committed sample set)."""
    if "names" in forced:
        plan.names = sorted(forced["names"])  # type: ignore[arg-type]
        plan.params = {**_DEFAULT_PARAMS, **dict(forced.get("params", {}))}  # type: ignore[arg-type]
        plan.skew_deg = float(forced.get("skew_deg", 0.0))  # type: ignore[arg-type]
        plan.rotation = 0
        plan.dpi = 300
    if "skew_deg" in forced:
        plan.skew_deg = float(forced["skew_deg"])  # type: ignore[arg-type]
        plan.names = sorted({*plan.names} - {"skew"} | ({"skew"} if plan.skew_deg else set()))
    if "rotation" in forced:
        plan.rotation = int(forced["rotation"])  # type: ignore[arg-type]
        if plan.rotation and "rotation" not in plan.names:
            plan.names = sorted([*plan.names, "rotation"])
    if "dpi" in forced:
        plan.dpi = int(forced["dpi"])  # type: ignore[arg-type]
        plan.names = sorted({*plan.names} - {"resample"} | ({"resample"} if plan.dpi not in (300, 600) else set()))


_DEFAULT_PARAMS = {"noise_sigma": 4.0, "jpeg_quality": 85, "shadow_strength": 0.15, "blur_sigma": 0.8}


def _encode(img: Image.Image, dpi: int, hint: str) -> tuple[bytes, str]:
    fmt, q = hint.split(":")
    buf = io.BytesIO()
    if fmt == "jpeg":
        img.save(buf, "JPEG", quality=int(q), dpi=(dpi, dpi))
    else:
        img.save(buf, "PNG", dpi=(dpi, dpi), optimize=False)
    return buf.getvalue(), fmt


def _new_pdf():  # type: ignore[no-untyped-def]
    from fpdf import FPDF

    pdf = FPDF(unit="pt")
    pdf.set_auto_page_break(False)
    pdf.set_creation_date(_PDF_DATE)
    pdf.set_producer("sample_scans.generator")
    return pdf


def _write_container(target: Path, container: str, images: list[tuple[Image.Image, int, str]],
                     canvases: list[Canvas]) -> None:
    if container == "png":
        img, dpi, _ = images[0]
        img.save(target, "PNG", dpi=(dpi, dpi))
    elif container == "jpeg":
        img, dpi, hint = images[0]
        q = int(hint.split(":")[1])
        (img.convert("L") if img.mode == "1" else img).save(target, "JPEG", quality=q, dpi=(dpi, dpi))
    elif container == "tiff":
        frames = [im for im, _, _ in images]
        dpi = images[0][1]
        frames[0].save(target, "TIFF", save_all=True, append_images=frames[1:], compression="tiff_deflate",
                       dpi=(dpi, dpi))
    elif container == "folder":
        if target.exists():
            shutil.rmtree(target)
        target.mkdir(parents=True)
        for i, (img, dpi, hint) in enumerate(images):
            data, fmt = _encode(img, dpi, hint)
            (target / f"page-{i + 1:03d}.{'jpg' if fmt == 'jpeg' else 'png'}").write_bytes(data)
    elif container == "pdf-scan":
        pdf = _new_pdf()
        for img, dpi, hint in images:
            w_pt, h_pt = img.width * 72 / dpi, img.height * 72 / dpi
            pdf.add_page(format=(w_pt, h_pt))
            if img.mode == "1":
                data = _encode(img, dpi, "png:0")[0]
            else:
                data = _encode(img, dpi, f"jpeg:{min(88, int(hint.split(':')[1]))}")[0]
            pdf.image(io.BytesIO(data), 0, 0, w_pt, h_pt)
        pdf.output(str(target))
    elif container == "pdf-text":
        pdf = _new_pdf()
        for canvas in canvases:
            render_pdf_page(pdf, canvas)
        pdf.output(str(target))
    else:
        raise ValueError(f"unknown container {container!r}")


def generate_corpus(out_dir: Path, *, dossiers: int, seed: int, split: str = "dev",
                    doctypes: list[str] | None = None, containers: list[str] | None = None,
                    degradation: str = "mixed") -> Path:
    """Generate `dossiers` dossiers with truth files into out_dir; returns the manifest path.

    Dossiers are written one at a time (memory stays flat for thousands of pages). The dossier
    seeds derive from (split, seed, index), so dev and test never share a seed, and dev and test
    render disjoint layouts and font families.
    """
    out_dir = Path(out_dir)
    families_for_split(split)
    doctypes = list(doctypes or DOCTYPES)
    for d in doctypes:
        layouts_for(d, split)
    containers = list(containers or CONTAINERS)
    for c in containers:
        if c not in CONTAINERS:
            raise ValueError(f"unknown container {c!r}; expected one of {', '.join(CONTAINERS)}")
    if degradation not in LEVELS:
        raise ValueError(f"unknown degradation level {degradation!r}; expected one of {', '.join(LEVELS)}")
    out_dir.mkdir(parents=True, exist_ok=True)
    entries = []
    for i in range(dossiers):
        spec = plan_dossier(i, seed=seed, split=split, doctypes=doctypes, containers=containers,
                            degradation=degradation)
        entries.append(generate_dossier(out_dir, spec))
    manifest = {"schema": "dossier-manifest/1", "seed": seed, "split": split, "degradation": degradation,
                "dossiers": entries}
    path = out_dir / "manifest.json"
    path.write_text(json.dumps(manifest, ensure_ascii=False, indent=1) + "\n", encoding="utf-8")
    return path
