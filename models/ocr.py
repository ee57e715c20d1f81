"""The OCR result tree: Document > Page > Line > Word, every level with boxes and confidences.

Boxes are ``[x0, y0, x1, y1]`` in pixels of the cleaned page image the OCR ran on.
Confidences are 0..1. Beside it, how a page is read (:class:`OcrOptions`) and the limits on an
untrusted input file (:class:`Limits`): plain data a page's job carries to an OCR process.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from pydantic import BaseModel, Field

__all__ = ["BBox", "Word", "MachineCode", "CardShape", "Line", "PageOCR", "OcrDocument",
           "union_box", "line_boxes", "OcrOptions", "Limits"]

BBox = tuple[int, int, int, int]


def union_box(boxes: list[BBox]) -> BBox:
    """Smallest box containing all ``boxes``."""
    if not boxes:
        return (0, 0, 0, 0)
    return (
        min(b[0] for b in boxes),
        min(b[1] for b in boxes),
        max(b[2] for b in boxes),
        max(b[3] for b in boxes),
    )


def line_boxes(boxes: list[BBox]) -> list[BBox]:
    """``boxes`` grouped into printed lines (a box joins a line it overlaps by half its
    height), one union box per line, top to bottom."""
    lines: list[list[BBox]] = []
    for b in sorted(boxes, key=lambda b: (b[1] + b[3]) / 2):
        h = max(1, b[3] - b[1])
        if lines:
            top, bottom = min(x[1] for x in lines[-1]), max(x[3] for x in lines[-1])
            if min(bottom, b[3]) - max(top, b[1]) >= h / 2:
                lines[-1].append(b)
                continue
        lines.append([b])
    return [union_box(line) for line in lines]


class Word(BaseModel):
    text: str
    bbox: BBox
    confidence: float = Field(ge=0.0, le=1.0)


class Line(BaseModel):
    words: list[Word]
    block: int = 0

    @property
    def text(self) -> str:
        return " ".join(w.text for w in self.words)

    @property
    def bbox(self) -> BBox:
        return union_box([w.bbox for w in self.words])

    @property
    def confidence(self) -> float:
        if not self.words:
            return 0.0
        return sum(w.confidence for w in self.words) / len(self.words)

    def export(self) -> dict[str, Any]:
        return {
            "text": self.text,
            "bbox": list(self.bbox),
            "confidence": round(self.confidence, 4),
            "block": self.block,
            "words": [w.model_dump(mode="json") for w in self.words],
        }


class MachineCode(BaseModel):
    """A QR code or barcode found on a page, decoded exactly."""

    format: str  # "QRCode", "Code128", ...
    text: str
    bbox: BBox | None = None  # in the coordinates of the page as loaded (before cleanup)


class CardShape(BaseModel):
    """An identity card found in the page image by its outline (``ocr.shapes``), whatever its
    text reads as."""

    bbox: BBox  # in the coordinates of the page as loaded (before cleanup)
    aspect: float  # its long side over its short side
    photo: bool = False  # a portrait photo where a card's front has it


class PageOCR(BaseModel):
    """OCR of one page, after cleanup."""

    index: int = 0
    width: int
    height: int
    dpi: int = 300
    lines: list[Line] = Field(default_factory=list)
    # What cleanup did, so boxes can be traced back to the original scan.
    rotation: int = 0  # degrees clockwise applied to the original
    skew_angle: float = 0.0  # degrees the page was deskewed by
    scale: float = 1.0  # factor the original was resized by
    source: str = "ocr"  # "ocr" or "text-layer" (born-digital PDF)
    codes: list[MachineCode] = Field(default_factory=list)  # QR codes and barcodes read
    card: CardShape | None = None  # a card the image shows, found by its shape

    @property
    def text(self) -> str:
        return "\n".join(line.text for line in self.lines)

    @property
    def words(self) -> list[Word]:
        return [w for line in self.lines for w in line.words]

    @property
    def confidence(self) -> float:
        words = self.words
        if not words:
            return 0.0
        return sum(w.confidence for w in words) / len(words)

    def export(self) -> dict[str, Any]:
        return {
            "index": self.index,
            "width": self.width,
            "height": self.height,
            "dpi": self.dpi,
            "rotation": self.rotation,
            "skew_angle": self.skew_angle,
            "scale": self.scale,
            "source": self.source,
            "confidence": round(self.confidence, 4),
            "text": self.text,
            "lines": [line.export() for line in self.lines],
            "codes": [c.model_dump(mode="json") for c in self.codes],
            "card": self.card.model_dump(mode="json") if self.card else None,
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> PageOCR:
        lines = [Line(words=[Word(**w) for w in ln["words"]], block=ln.get("block", 0))
                 for ln in data.get("lines", [])]
        keep = {k: data[k] for k in ("index", "width", "height", "dpi", "rotation",
                                     "skew_angle", "scale", "source") if k in data}
        codes = [MachineCode.model_validate(c) for c in data.get("codes", [])]
        card = CardShape.model_validate(data["card"]) if data.get("card") else None
        return cls(lines=lines, codes=codes, card=card, **keep)


class OcrDocument(BaseModel):
    """OCR of a whole file: its pages in order."""

    source: str = ""
    pages: list[PageOCR] = Field(default_factory=list)

    @property
    def text(self) -> str:
        return "\n\f".join(p.text for p in self.pages)

    def export(self) -> dict[str, Any]:
        return {"source": self.source, "pages": [p.export() for p in self.pages]}

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> OcrDocument:
        return cls(source=data.get("source", ""),
                   pages=[PageOCR.from_dict(p) for p in data.get("pages", [])])


@dataclass(frozen=True)
class OcrOptions:
    """How a page is cleaned up and read."""

    lang: str = "vie+eng"
    tesseract_cmd: str = "tesseract"
    timeout: float = 180.0
    detect_orientation: bool = True
    use_text_layer: bool = True
    cleanup: bool = True
    read_codes: bool = True  # QR codes and barcodes (zxing-cpp), about 60 ms a page
    engine: str | None = None  # "tesserocr" or "cli"; None: tesserocr when installed
    # Tesseract's page segmentation: 3 finds columns and blocks; 4 reads the page as one
    # column of lines of varying size (a receipt: its amounts stay on their labels' lines).
    psm: int = 3


@dataclass(frozen=True)
class Limits:
    """What an input file may be: every input file is untrusted."""

    max_file_bytes: int = 300 * 1024 * 1024
    max_image_pixels: int = 120_000_000
    max_pages: int = 1000
    pdf_render_dpi: int = 300
