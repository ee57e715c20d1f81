"""`dossier extract --explain`: how each page was typed (every type's keyword score against
its ``min_score``) and where each value was found (label, position, pattern)."""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from extraction.doctypes import DoctypeDef
    from models.ocr import PageOCR
    from models.records import ExtractedDocument

__all__ = ["page_explanations", "field_origins", "untyped_pages"]


def page_explanations(pages: list[PageOCR], docs: list[ExtractedDocument],
                      doctypes: list[DoctypeDef], lang: str,
                      read_as: dict[int, str] | None = None) -> list[dict]:
    """Per page: how it was read (``lang``, or as its type asks: ``read_as`` by page index),
    the type it was given and every type whose keywords were found on it, with its score,
    the score it needs and the keywords found and not found."""
    from extraction.classify import keyword_scores

    typed = {p: d.doctype for d in docs for p in d.pages}
    out = []
    for i, page in enumerate(pages):
        scores = keyword_scores(page, doctypes)
        out.append({
            "page": i + 1,
            "read_in": (read_as or {}).get(i, f"{lang}, page segmentation 3"),
            "doctype": typed.get(i, "unknown"),
            "scores": [{"doctype": t.doctype, "score": t.score, "min_score": t.min_score,
                        "found": t.found, "not_found": t.missing}
                       for t in scores if t.score > 0],
            "why": _why(typed.get(i, "unknown"), scores),
        })
    return out


def _why(doctype: str, scores) -> str:
    best = next((t for t in scores if t.doctype == doctype), None)
    if best is not None and best.enough:
        return (f"{doctype}: keywords weigh {best.score:g}, it needs {best.min_score:g} "
                f"(found {', '.join(best.found)})")
    near = [t for t in scores if t.score > 0]
    if doctype != "unknown":
        return (f"{doctype}: not by its keywords but by its shape, the pages around it or a "
                f"code it carries")
    if not near:
        return "unknown: no keyword of any document type was found on the page"
    parts = [f"{t.doctype} weighs {t.score:g} of the {t.min_score:g} it needs (found "
             f"{', '.join(t.found)}; not found {', '.join(t.missing) or 'none'})"
             for t in near[:3]]
    return "unknown: no document type reached its min_score: " + "; ".join(parts)


def field_origins(doc: ExtractedDocument) -> dict[str, str]:
    """Where each field's value was found, as extraction noted it."""
    return {f.name: f._origin for f in doc.fields}


def untyped_pages(docs: list[ExtractedDocument]) -> list[int]:
    """Pages (1-based) no document type claimed."""
    return sorted(p + 1 for d in docs if d.doctype == "unknown" for p in d.pages)
