"""One long scanned PDF read the way ``dossier ocr`` reads it: time and memory by length.

    python -m bench.long_pdf SPEC.json RESULT.json

The PDF (:func:`build_long_pdf`) holds the corpus's page images in turn, each page an image
of its own size at its own dpi; pages that show the same image share one image object, so a
1,000-page file stays small on disk while every page is rendered and read like any other.
The run (in a process of its own, so its memory is its own) reads it through the OCR pool,
one rendered page per worker at a time, and reports the wall time, the largest worker's peak
resident memory and the parent's.
"""

from __future__ import annotations

import io
import resource
import sys
import time
from pathlib import Path

__all__ = ["build_long_pdf", "run_spec", "main"]


def build_long_pdf(images: list[tuple[Path, int]], pages: int, target: Path) -> Path:
    """A ``pages``-page PDF cycling through ``images`` ((PNG, dpi)); kept if already built."""
    if target.exists():
        return target
    import cv2
    from fpdf import FPDF

    jpegs = []
    for path, dpi in images:
        gray = cv2.imread(str(path), cv2.IMREAD_GRAYSCALE)
        ok, buf = cv2.imencode(".jpg", gray, [cv2.IMWRITE_JPEG_QUALITY, 85])
        if not ok:
            raise ValueError(f"cannot encode {path}")
        jpegs.append((buf.tobytes(), gray.shape[1] * 72.0 / dpi, gray.shape[0] * 72.0 / dpi))
    pdf = FPDF(unit="pt")
    pdf.set_auto_page_break(False)
    pdf.set_margin(0)
    for i in range(pages):
        data, w, h = jpegs[i % len(jpegs)]
        pdf.add_page(format=(w, h))
        # The same bytes under the same name: fpdf2 embeds each image once.
        pdf.image(io.BytesIO(data), x=0, y=0, w=w, h=h)
    target.parent.mkdir(parents=True, exist_ok=True)
    tmp = target.with_suffix(".part")
    pdf.output(str(tmp))
    tmp.replace(target)
    return target


def run_spec(spec: dict) -> dict:
    """Read ``spec["pdf"]`` with ``spec["workers"]`` OCR workers; timings and peaks."""
    t0 = time.perf_counter()
    from ocr.files import ocr_files
    from ocr.loading import Limits
    from ocr.pipeline import OcrOptions
    from ocr.pool import shutdown_pool

    opts = OcrOptions(lang=spec.get("lang", "vie+eng"), engine=spec.get("engine") or None,
                      tesseract_cmd=spec.get("tesseract_cmd", "tesseract"))
    pages = chars = 0
    worker_kb = 0
    for fr in ocr_files([Path(spec["pdf"])], opts, limits=Limits(),
                        workers=int(spec["workers"])):
        if fr.error is not None:
            raise fr.error
        assert fr.document is not None
        pages += len(fr.document.pages)
        chars += sum(len(p.text) for p in fr.document.pages)
        worker_kb = max(worker_kb, fr.worker_peak_rss_kb)
    wall = time.perf_counter() - t0
    shutdown_pool()  # reaps the workers, so RUSAGE_CHILDREN holds their peak
    return {"pages": pages, "chars": chars, "seconds": wall,
            "parent_peak_kb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss,
            "worker_peak_kb": max(worker_kb,
                                  resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss)}


def main(argv: list[str] | None = None) -> int:
    from bench.measure import spec_main

    return spec_main("bench.long_pdf", run_spec, argv)


if __name__ == "__main__":
    sys.exit(main())
