"""What people decided, as training values for the field scorer.

A record a person confirmed or corrected fields of is read again, from the OCR the pipeline
stored for its pages, the way the pipeline reads it; every value extraction finds for a field
the person decided is labelled right when it equals what the person left there. These join
the generated dev corpus when ``dossier calibrate`` retrains the scorer.
"""

from __future__ import annotations

import json
import logging

from extraction.doctypes import DoctypeDef
from extraction.known import norm
from extraction.training import Example
from models.errors import NotFoundError
from models.ocr import PageOCR
from models.records import FieldStatus, Record, RecordStatus
from storage.index import RecordIndex
from storage.objects import ObjectStore

__all__ = ["correction_examples"]

log = logging.getLogger(__name__)


def correction_examples(store: ObjectStore, index: RecordIndex,
                        doctypes: list[DoctypeDef]) -> list[Example]:
    """Labelled values from every record a person decided fields of (rejected ones aside),
    grouped by dossier."""
    from extraction import extract_documents

    out: list[Example] = []
    seen: set[str] = set()
    for event, _doctype in index.iter_audit_events(actions=["confirmed", "corrected"]):
        if event.record_id in seen:
            continue
        seen.add(event.record_id)
        record = Record.from_json(store.get_record(event.record_id))
        decided = {f.name: f.value for f in record.fields
                   if f.reviewed_by is not None and f.value is not None
                   and f.status in (FieldStatus.confirmed, FieldStatus.corrected)}
        if record.status == RecordStatus.rejected or not decided:
            continue
        pages: list[PageOCR] = []
        try:
            for i, ref in enumerate(sorted(record.pages, key=lambda p: p.index)):
                if ref.ocr_key is None:
                    raise NotFoundError(f"page {ref.index} has no stored OCR")
                page = PageOCR.from_dict(json.loads(store.get_derived(ref.ocr_key)))
                page.index = i
                pages.append(page)
        except NotFoundError as e:
            log.warning("record %s left out of training: %s", record.record_id, e.message)
            continue
        docs = [d for d in extract_documents(pages, doctypes, calibrate=False)
                if d.doctype == record.doctype]
        if not docs:
            continue
        for f in docs[0].fields:
            if f.value is not None and f.name in decided:
                out.append(Example(f, norm(f.value) == norm(decided[f.name]),
                                   record.dossier_id))
    return out
