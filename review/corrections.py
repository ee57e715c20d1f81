"""Corrections as labelled data: every field a person confirmed or changed, with the crop of
its box (stored once in the derived bucket), the OCR text, the machine's value and the final
value. This is what the extraction and confidence work learns from."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterator
from typing import IO

import cv2
import numpy as np
from pydantic import BaseModel

from models.records import FieldStatus, Record
from storage.index import RecordIndex
from storage.objects import ObjectStore

__all__ = ["CorrectionExample", "iter_corrections", "export_corrections"]

_PAD = 6


class CorrectionExample(BaseModel):
    record_id: str
    doctype: str
    field: str
    action: str  # confirmed or corrected
    ocr_text: str
    machine_value: str | None
    final_value: str | None
    machine_confidence: float
    crop_key: str | None  # PNG of the field's box in the derived bucket
    reviewed_by: str | None


def _crop_key(store: ObjectStore, cleaned_key: str, bbox: tuple[int, int, int, int],
              cache: dict[str, np.ndarray | None]) -> str | None:
    key = "crops/" + hashlib.sha256(f"{cleaned_key}|{bbox}".encode()).hexdigest() + ".png"
    if store.derived_exists(key):
        return key
    if cleaned_key not in cache:
        data = np.frombuffer(store.get_derived(cleaned_key), np.uint8)
        cache.clear()  # one page image at a time
        cache[cleaned_key] = cv2.imdecode(data, cv2.IMREAD_UNCHANGED)
    img = cache[cleaned_key]
    if img is None:
        return None
    x0, y0, x1, y1 = bbox
    h, w = img.shape[:2]
    crop = img[max(0, y0 - _PAD):min(h, y1 + _PAD), max(0, x0 - _PAD):min(w, x1 + _PAD)]
    if crop.size == 0:
        return None
    ok, png = cv2.imencode(".png", crop)
    if not ok:
        return None
    store.put_derived(key, png.tobytes(), "image/png")
    return key


def iter_corrections(store: ObjectStore, index: RecordIndex) -> Iterator[CorrectionExample]:
    seen: set[str] = set()
    cache: dict[str, np.ndarray | None] = {}  # None: an image that does not decode
    for event, _doctype in index.iter_audit_events(actions=["confirmed", "corrected"]):
        if event.record_id in seen:
            continue
        seen.add(event.record_id)
        record = Record.from_json(store.get_record(event.record_id))
        pages = {p.index: p for p in record.pages}
        for f in record.fields:
            if f.reviewed_by is None or f.status not in (FieldStatus.confirmed,
                                                         FieldStatus.corrected):
                continue
            ref = pages.get(f.page) if f.page is not None else None
            crop = (_crop_key(store, ref.cleaned_key, f.bbox, cache)
                    if ref is not None and ref.cleaned_key and f.bbox else None)
            yield CorrectionExample(
                record_id=record.record_id, doctype=record.doctype, field=f.name,
                action=f.status.value, ocr_text=f.raw, machine_value=f.machine_value,
                final_value=f.value, machine_confidence=f.confidence, crop_key=crop,
                reviewed_by=f.reviewed_by)


def export_corrections(store: ObjectStore, index: RecordIndex, out: IO[str]) -> int:
    n = 0
    for ex in iter_corrections(store, index):
        out.write(json.dumps(ex.model_dump(mode="json"), ensure_ascii=False) + "\n")
        n += 1
    return n
