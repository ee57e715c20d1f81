"""Visual rows: words regrouped by position, whatever blocks Tesseract cut the page into.

Forms put a label and its value on one visual row, but Tesseract often splits them into
separate blocks (wide gaps, dotted leaders). Field extraction works on these rows.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from models.ocr import BBox, PageOCR, Word, union_box

__all__ = ["Row", "page_rows"]


@dataclass
class Row:
    page: int
    words: list[Word] = field(default_factory=list)

    @property
    def bbox(self) -> BBox:
        return union_box([w.bbox for w in self.words])

    @property
    def height(self) -> int:
        hs = sorted(w.bbox[3] - w.bbox[1] for w in self.words)
        return hs[len(hs) // 2] if hs else 0

    @property
    def text(self) -> str:
        return " ".join(w.text for w in self.words)


def _leader_junk(words: list[Word]) -> set[int]:
    """Words Tesseract made out of a dotted leader line: flat strings of several characters,
    a few pixels high. Left in, they form rows of their own between a value and its
    continuation line."""
    heights = sorted(w.bbox[3] - w.bbox[1] for w in words)
    if not heights:
        return set()
    median = heights[len(heights) // 2]
    return {id(w) for w in words
            if len(w.text) >= 2 and (w.bbox[3] - w.bbox[1]) < 0.25 * median}


def page_rows(page: PageOCR, page_index: int) -> list[Row]:
    """Group a page's words into rows top to bottom, each row left to right."""
    junk = _leader_junk(page.words)
    kept = [w for w in page.words if id(w) not in junk]
    # Specks (a dot of a leader, a comma, a mark of a seal), a few pixels high, are placed
    # after the words: placed first, one would start a row of its own that the words of its
    # line, tilted a little on a skewed scan, then split between.
    heights = sorted(w.bbox[3] - w.bbox[1] for w in kept)
    small = 0.25 * heights[len(heights) // 2] if heights else 0
    words = sorted(kept, key=lambda w: (w.bbox[3] - w.bbox[1] < small,
                                        (w.bbox[1] + w.bbox[3]) / 2))
    rows: list[tuple[float, float, list[Word]]] = []  # (center, height, words)
    for w in words:
        cy = (w.bbox[1] + w.bbox[3]) / 2
        h = max(1, w.bbox[3] - w.bbox[1])
        placed = False
        # A word is placed among the last rows (words come top to bottom); a speck, placed
        # after all words, among any.
        reach = len(rows) if h < small else 3
        for i in range(len(rows) - 1, max(-1, len(rows) - 1 - reach), -1):
            rc, rh, rw = rows[i]
            if abs(cy - rc) <= 0.5 * min(rh, h) + 1:
                rw.append(w)
                n = len(rw)
                rows[i] = ((rc * (n - 1) + cy) / n, max(rh, h) if n < 3 else rh, rw)
                placed = True
                break
        if not placed:
            rows.append((cy, h, [w]))
    out = []
    for _, _, ws in rows:
        ws.sort(key=lambda w: w.bbox[0])
        out.append(Row(page=page_index, words=ws))
    out.sort(key=lambda r: r.bbox[1])
    return out
