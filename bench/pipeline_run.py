"""Our pipeline on a set of page images, in a process of its own so its memory is its own.

    python -m bench.pipeline_run SPEC.json RESULT.json

Like the digitization flow: pages run in parallel in the OCR process pool (``workers``
processes, each keeping Tesseract's models loaded, one Tesseract thread each), each page
loaded, cleaned up and read there; as soon as a dossier's pages are all done its extraction
(classify, split, fields) runs in this process. Storage is left out: this measures
cleanup + OCR + extraction.
"""

from __future__ import annotations

import resource
import sys
import time
from concurrent.futures import FIRST_COMPLETED, Future, ThreadPoolExecutor, wait
from pathlib import Path

__all__ = ["run_spec", "main"]


def run_spec(spec: dict) -> dict:
    """Run the pipeline over ``spec["dossiers"]``; returns timings and (if asked) outputs."""
    t_start = time.perf_counter()
    from models.batches import PageJob
    from ocr import tesseract
    from ocr.loading import Limits
    from ocr.pipeline import OcrOptions
    from ocr.pool import get_pool, shutdown_pool

    opts = OcrOptions(lang=spec.get("lang", "vie+eng"),
                      tesseract_cmd=spec.get("tesseract_cmd", "tesseract"),
                      timeout=float(spec.get("timeout", 180.0)),
                      engine=spec.get("engine") or None)
    tesseract.check_engine(opts.engine or tesseract.default_engine(), opts.tesseract_cmd,
                           opts.lang)
    # The workers start and load their models first; this process loads the document types
    # meanwhile, and extraction's libraries and tables on a thread of their own while the
    # first pages are read, as the digitization flow's process does.
    pool = get_pool(max(1, int(spec["workers"])), opts)
    pool.start()
    from extraction import extract_documents, load_doctypes, start_warm_up, wait_for_warm_up

    doctypes = load_doctypes(Path(spec["doctypes"]) if spec.get("doctypes") else None)
    start_warm_up()
    threshold = spec.get("review_threshold")  # None: the calibrated rule's own
    collect = bool(spec.get("collect", True))
    limits = Limits()
    startup = time.perf_counter() - t_start

    dossiers = spec["dossiers"]
    page_out: dict[tuple[int, int], dict] = {}
    ocr_pages: dict[int, dict[int, object]] = {i: {} for i in range(len(dossiers))}
    dossier_out: list[dict] = [{"name": d["name"]} for d in dossiers]
    worker_peak_kb = 0

    def one_dossier(di: int) -> None:
        pages = [ocr_pages[di][i] for i in range(len(dossiers[di]["pages"]))]
        del ocr_pages[di]  # done with the OCR trees: memory stays flat over a long run
        wait_for_warm_up()
        t = time.perf_counter()
        docs = extract_documents(pages, doctypes, review_threshold=threshold)
        dossier_out[di]["extract_s"] = time.perf_counter() - t
        if collect:
            dossier_out[di]["documents"] = [d.model_dump(mode="json") for d in docs]

    t0 = time.perf_counter()
    remaining = {i: len(d["pages"]) for i, d in enumerate(dossiers)}
    # Pages go to the worker processes; extraction runs here, on one thread, as soon as a
    # dossier's pages are all read, overlapping the OCR of the next pages.
    with ThreadPoolExecutor(max_workers=1) as extractor:
        pending: dict[Future, tuple[str, int, int]] = {}
        for di, d in enumerate(dossiers):
            for pi, page in enumerate(d["pages"]):
                job = PageJob(path=str(page["image"]), source_page=0, opts=opts, limits=limits)
                pending[pool.submit(job)] = ("page", di, pi)
        while pending:
            done, _ = wait(pending, return_when=FIRST_COMPLETED)
            for fut in done:
                kind, di, pi = pending.pop(fut)
                if kind == "dossier":
                    fut.result()
                    continue
                # A failing page fails the benchmark: it must be looked at.
                outcome = fut.result()
                result = outcome.result(dossiers[di]["pages"][pi]["image"])
                result.index = pi
                worker_peak_kb = max(worker_peak_kb, outcome.worker_peak_rss_kb)
                rec = {"dossier": di, "index": pi, "timings": outcome.timings}
                if collect:
                    rec["text"] = result.text
                    rec["confidence"] = result.confidence
                page_out[(di, pi)] = rec
                ocr_pages[di][pi] = result
                remaining[di] -= 1
                if remaining[di] == 0:
                    pending[extractor.submit(one_dossier, di)] = ("dossier", di, -1)
    processing = time.perf_counter() - t0
    shutdown_pool()  # reaps the workers, so RUSAGE_CHILDREN holds their peak
    return {
        "startup_s": startup,
        "processing_s": processing,
        "pages": [page_out[k] for k in sorted(page_out)],
        "dossiers": dossier_out,
        # ru_maxrss is in KiB on Linux. Children: the largest OCR worker process.
        "self_peak_rss_kb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss,
        "child_peak_rss_kb": max(worker_peak_kb,
                                 resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss),
        "engine": opts.engine or tesseract.default_engine(),
    }


def main(argv: list[str] | None = None) -> int:
    from bench.measure import spec_main

    return spec_main("bench.pipeline_run", run_spec, argv)


if __name__ == "__main__":
    sys.exit(main())
