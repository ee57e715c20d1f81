"""Reading order of a page's lines: Tesseract's blocks, put back in the order a reader takes.

Tesseract reads a page block by block, and orders the blocks by its own column analysis. On
forms that order goes wrong in two ways: a block that lies wholly below another is sometimes
read first (a card's expiry date before its title, a form's middle before its header), and
two blocks side by side whose lines pair up row by row (an agency name beside the national
motto, two signature captions) are read one after the other instead of row by row.

:func:`reading_order` fixes just these two: a block is never read before a block that ends
above its top (otherwise Tesseract's order stands), and two consecutive blocks side by side
whose lines share rows are read row by row. Lines are never cut or joined, only reordered.
Pages whose lines stand upright (read sideways) keep Tesseract's order.
"""

from __future__ import annotations

import numpy as np

from models.ocr import BBox, Line, union_box

__all__ = ["reading_order"]


def _height(box: BBox) -> int:
    return box[3] - box[1]


def _same_row(a: BBox, b: BBox) -> bool:
    """Two lines on one row: they overlap vertically by half the lower one's height."""
    return min(a[3], b[3]) - max(a[1], b[1]) >= 0.5 * min(_height(a), _height(b))


def _blocks(lines: list[Line]) -> list[list[Line]]:
    """Tesseract's blocks, each its consecutive lines, in Tesseract's order."""
    out: list[list[Line]] = []
    for line in lines:
        if out and out[-1][0].block == line.block:
            out[-1].append(line)
        else:
            out.append([line])
    return out


def _ordered_blocks(blocks: list[list[Line]], line_height: float) -> list[list[Line]]:
    """Blocks in Tesseract's order, except that a block ending above another's top (by half
    a line) always comes first: the earliest block no unread block lies above is next."""
    boxes = np.array([union_box([ln.bbox for ln in b]) for b in blocks], dtype=np.float64)
    # above[i, j]: block i ends above block j's top
    above = boxes[:, 3][:, None] <= boxes[:, 1][None, :] + 0.5 * line_height
    np.fill_diagonal(above, False)
    waiting = above.sum(axis=0)
    done = np.zeros(len(blocks), dtype=bool)
    order = []
    for _ in range(len(blocks)):
        free = np.flatnonzero(~done & (waiting == 0))
        i = int(free[0]) if len(free) else int(np.flatnonzero(~done)[0])
        done[i] = True
        order.append(i)
        waiting -= above[i]
    return [blocks[i] for i in order]


def _row_by_row(a: list[Line], b: list[Line]) -> list[Line] | None:
    """Two blocks side by side whose lines pair up on rows (at least half of the smaller
    block's lines share a row with a line of the other), read row by row; else None."""
    ba, bb = union_box([ln.bbox for ln in a]), union_box([ln.bbox for ln in b])
    if not (ba[2] <= bb[0] or bb[2] <= ba[0]):
        return None
    small, other = (a, b) if len(a) <= len(b) else (b, a)
    paired = sum(any(_same_row(s.bbox, o.bbox) for o in other) for s in small)
    if paired < 0.5 * len(small) + 0.01:
        return None
    rows: list[list[Line]] = []
    for line in sorted(a + b, key=lambda ln: (ln.bbox[1] + ln.bbox[3]) / 2):
        if rows and any(_same_row(line.bbox, r.bbox) for r in rows[-1]):
            rows[-1].append(line)
        else:
            rows.append([line])
    return [ln for row in rows for ln in sorted(row, key=lambda ln: ln.bbox[0])]


def reading_order(lines: list[Line]) -> list[Line]:
    """The page's lines in reading order (see the module's description)."""
    if len(lines) < 2:
        return lines
    upright = sum(_height(ln.bbox) > ln.bbox[2] - ln.bbox[0] for ln in lines)
    if upright > 0.5 * len(lines):
        return lines
    line_height = float(np.median([_height(ln.bbox) for ln in lines]))
    blocks = _ordered_blocks(_blocks(lines), line_height)
    out: list[Line] = []
    i = 0
    while i < len(blocks):
        paired = _row_by_row(blocks[i], blocks[i + 1]) if i + 1 < len(blocks) else None
        if paired is not None:
            out.extend(paired)
            i += 2
        else:
            out.extend(blocks[i])
            i += 1
    return out
