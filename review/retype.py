"""A document read again as the type a person chose, from the OCR the pipeline stored for its
pages. The pipeline's own extraction runs with that type alone; when the pages do not read as
that type by its keywords (a form the classifier could not tell), the type's fields are read
over all of them, with the same calibrated rule for what is accepted."""

from __future__ import annotations

from pathlib import Path

from extraction.doctypes import DoctypeDef
from extraction.known import KnownLookup
from models.ocr import PageOCR
from models.records import ExtractedDocument

__all__ = ["read_as"]


def read_as(pages: list[PageOCR], doctype: DoctypeDef, *, calibration: Path | None = None,
            review_threshold: float | None = None,
            known: KnownLookup | None = None) -> ExtractedDocument:
    """``pages`` (one document's, in order) read as one document of ``doctype``. Fields'
    ``page`` are positions in ``pages``."""
    from extraction import extract_documents

    every = list(range(len(pages)))
    docs = extract_documents(pages, [doctype], review_threshold=review_threshold,
                             calibration=calibration, known=known)
    if len(docs) == 1 and docs[0].doctype == doctype.id and docs[0].pages == every:
        return docs[0]

    from extraction.confidence import apply_calibration, load_calibrator
    from extraction.fields import extract_fields
    from extraction.layout import page_rows

    rows = [r for i, p in enumerate(pages) for r in page_rows(p, i)]
    fields = extract_fields(doctype, rows,
                            page_sizes={i: (p.width, p.height) for i, p in enumerate(pages)})
    doc = ExtractedDocument(doctype=doctype.id, title=doctype.title, pages=every,
                            classification_confidence=1.0, fields=fields)
    apply_calibration([doc], load_calibrator(str(calibration) if calibration else None),
                      threshold=review_threshold)
    return doc
