"""One small real benchmark run: generated pages, real Tesseract, the report on disk."""

from __future__ import annotations

from bench.run import BenchOptions, run_bench


def test_small_run_writes_a_complete_report(tmp_path):
    opts = BenchOptions(data_dir=tmp_path / "data", out_dir=tmp_path / "results", split="dev",
                        seed=5, degradation="clean", pages=2, scale=(2,), workers=2,
                        baselines=False, command="test", compare_engines=False,
                        pdf_scale=(3,))
    messages: list[str] = []
    outcome = run_bench(opts, progress=messages.append)
    text = outcome.report.read_text(encoding="utf-8")
    for section in ("## Headline", "## Accuracy", "### OCR error rates by degradation",
                    "### Fields by document type", "## Speed", "### Where the time goes",
                    "## Scale", "## How this was measured"):
        assert section in text, section
    s = outcome.summary
    assert s["corpus"]["pages"] >= 2
    for rates in s["ocr"].values():
        assert all(0.0 <= r <= 1.0 for r in _rates(rates))
    ours = s["speed"]["systems"][0]
    assert ours["pages_per_min"] > 0 and ours["peak_rss_mb"] > 0
    names = [x["name"] for x in s["speed"]["systems"]]
    assert "tesseract CLI" in names
    assert s["scale"] and s["scale"][0]["pages"] >= 2
    assert any("report written" in m for m in messages)
    # One long scanned PDF, read page by page in the workers: every page came back as text.
    (long,) = s["long_pdf"]
    assert long["pages"] == 3 and long["chars"] > 300 and long["worker_peak_mb"] > 50 and long["parent_peak_mb"] > 50
    assert "### One long scanned PDF" in text
    # Clean generated pages read well: a broken pipeline would not pass this.
    assert s["documents"]["fields"]["exact"] is not None


def _rates(node):
    if isinstance(node, dict):
        for k, v in node.items():
            if k in ("cer", "wer"):
                yield v
            else:
                yield from _rates(v)
    elif isinstance(node, list):
        for v in node:
            yield from _rates(v)
