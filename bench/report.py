"""The benchmark report: markdown tables and PNG plots, written from the run's summary alone."""

from __future__ import annotations

import json
import logging
from pathlib import Path

__all__ = ["write_report", "render_markdown", "SECTIONS"]

log = logging.getLogger(__name__)

SECTIONS = ("## Headline", "## Accuracy", "## Speed", "## Scale", "## How this was measured")


def _pct(x: float | None) -> str:
    return "–" if x is None else f"{100 * x:.1f} %"


def _num(x: float | None, fmt: str = ".1f") -> str:
    return "–" if x is None else format(x, fmt)


def _table(header: list[str], rows: list[list[str]]) -> list[str]:
    out = ["| " + " | ".join(header) + " |", "|" + "|".join("---" for _ in header) + "|"]
    out += ["| " + " | ".join(r) + " |" for r in rows]
    return out + [""]


def _plots(summary: dict, target: Path) -> dict[str, str]:
    """Draw the figures; returns {name: file name}. Without matplotlib, none (and a note)."""
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        log.warning("matplotlib is not installed: the report has no plots "
                    "(pip install -e \".[bench]\")")
        return {}
    files: dict[str, str] = {}

    def save(fig, name: str) -> None:
        fig.tight_layout()
        fig.savefig(target / name, dpi=110)
        plt.close(fig)
        files[name.removesuffix(".png")] = name

    by_deg = summary["ocr"]["by_degradation"]
    systems = list(summary["ocr"]["overall"])
    if by_deg and systems:
        degs = list(by_deg)
        fig, ax = plt.subplots(figsize=(10, 4.2))
        width = 0.8 / len(systems)
        for i, sname in enumerate(systems):
            vals = [100 * by_deg[d].get(sname, {}).get("cer", 0.0) for d in degs]
            ax.bar([x + i * width for x in range(len(degs))], vals, width, label=sname)
        ax.set_xticks([x + width * (len(systems) - 1) / 2 for x in range(len(degs))])
        ax.set_xticklabels([f"{d}\n({next(iter(by_deg[d].values()))['pages']} p)" for d in degs],
                           fontsize=8)
        ax.set_ylabel("character error rate, %")
        ax.set_title("OCR character error rate by degradation (lower is better)")
        ax.legend(fontsize=8)
        save(fig, "cer_by_degradation.png")

    rows = [s for s in summary["speed"]["systems"] if s["pages_per_min"]]
    if rows:
        fig, ax = plt.subplots(figsize=(8, 3.2))
        ax.barh([s["name"] for s in rows][::-1], [s["pages_per_min"] for s in rows][::-1],
                color=["#4c72b0" if s["name"] == rows[0]["name"] else "#999999"
                       for s in rows][::-1])
        for i, s in enumerate(rows[::-1]):
            ax.text(s["pages_per_min"], i, f" {s['pages_per_min']:.1f}", va="center", fontsize=8)
        ax.set_xlabel(f"pages per minute, {summary['machine']['workers']} workers "
                      f"(higher is better)")
        ax.set_title(f"Throughput on the same {summary['speed']['pages']} pages")
        save(fig, "throughput.png")

    stages = summary["speed"]["stages"]
    if stages:
        fig, ax = plt.subplots(figsize=(8, 2.2))
        left = 0.0
        for name, st in stages.items():
            ax.barh([0], [st["per_page_s"]], left=left, label=f"{name} {st['per_page_s']:.2f} s")
            left += st["per_page_s"]
        ax.set_yticks([])
        ax.set_xlabel("seconds of work per page (summed over workers)")
        ax.legend(ncol=len(stages), fontsize=8, loc="upper center", bbox_to_anchor=(0.5, -0.45))
        ax.set_title("Where our pipeline's time goes")
        save(fig, "stages.png")

    scale = summary["scale"]
    if scale:
        fig, (a1, a2) = plt.subplots(1, 2, figsize=(10, 3.6))
        xs = [s["pages"] for s in scale]
        a1.plot(xs, [s["wall_s"] for s in scale], "o-")
        a1.set_xscale("log")
        a1.set_yscale("log")
        a1.set_xlabel("pages")
        a1.set_ylabel("wall time, s")
        a1.set_title("Time")
        a2.plot(xs, [s["process_peak_mb"] for s in scale], "o-", label="pipeline process")
        a2.set_xscale("log")
        a2.set_xlabel("pages")
        a2.set_ylabel("peak resident memory, MB")
        a2.set_ylim(bottom=0)
        a2.set_title("Peak memory")
        a2.legend(fontsize=8)
        save(fig, "scale.png")

    by_type = summary["documents"]["by_type"]
    types = [t for t, st in by_type.items() if st["instances"]]
    if types:
        fig, ax = plt.subplots(figsize=(10, 3.8))
        width = 0.27
        for i, (key, label) in enumerate((("precision", "precision"), ("recall", "recall"),
                                          ("exact", "exact match"))):
            ax.bar([x + i * width for x in range(len(types))],
                   [100 * (by_type[t][key] or 0.0) for t in types], width, label=label)
        ax.set_xticks([x + width for x in range(len(types))])
        ax.set_xticklabels(types, rotation=25, ha="right", fontsize=8)
        ax.set_ylabel("%")
        ax.set_ylim(0, 105)
        ax.set_title("Field extraction by document type")
        ax.legend(fontsize=8)
        save(fig, "fields_by_type.png")
    return files


def render_markdown(summary: dict, plots: dict[str, str]) -> str:
    """The report's text from the run's summary."""
    c, m, sp, docs = summary["corpus"], summary["machine"], summary["speed"], summary["documents"]
    ocr = summary["ocr"]
    ours = sp["systems"][0]
    raw_name = next((k for k in ocr["overall"] if k.startswith("tesseract")), None)
    ours_name = next(k for k in ocr["overall"] if k.startswith("our"))
    f = docs["fields"]
    rv = docs["review"]
    L: list[str] = []
    L += [f"# Benchmark, {summary['started'][:16].replace('T', ' ')}", ""]
    L += [f"`{summary['command']}` on the **{c['split']}** split (seed {c['seed']}, "
          f"degradation `{c['degradation']}`): {c['pages']} pages in {c['dossiers']} dossiers. "
          f"{m['cores']} cores, {m['workers']} workers, "
          f"{_num(m['memory_gb'])} GiB RAM; {m['tesseract']}, OCRmyPDF {m['ocrmypdf']}, "
          f"Python {m['python']}, commit `{m['commit']}`, languages `{m['lang']}`.", ""]

    L += ["## Headline", ""]
    if raw_name:
        L.append(f"- OCR character error rate: **{_pct(ocr['overall'][raw_name]['cer'])}** raw "
                 f"(bare Tesseract) → **{_pct(ocr['overall'][ours_name]['cer'])}** after our "
                 f"cleanup; word error rate {_pct(ocr['overall'][raw_name]['wer'])} → "
                 f"{_pct(ocr['overall'][ours_name]['wer'])}.")
    else:
        L.append(f"- OCR character error rate after our cleanup: "
                 f"**{_pct(ocr['overall'][ours_name]['cer'])}**.")
    L.append(f"- Fields: exact match **{_pct(f['exact'])}**, precision {_pct(f['precision'])}, "
             f"recall {_pct(f['recall'])} over {f['instances']} truth fields; auto-accepted "
             f"fields are right {_pct(rv['accepted_precision'])} of the time, "
             f"{_pct(rv['review_share'])} of found fields go to review.")
    L.append(f"- Document type per page {_pct(docs['page_type_accuracy'])}; documents found "
             f"with the right type and pages {_pct(docs['documents_found'])}.")
    speed = [f"**{_num(ours['pages_per_min'])} pages/min** end to end"]
    for s in sp["systems"][1:]:
        if s["pages_per_min"]:
            speed.append(f"{s['name']} {_num(s['pages_per_min'])} (ours ×{s['ours_speedup']:.2f})")
        else:
            speed.append(f"{s['name']} skipped")
    L.append("- Speed: " + "; ".join(speed) + ".")
    pl = sp["pipeline"]
    tess = _tesseract_peak(sp)
    pool = summary.get("ocr_pool") or {}
    L.append(f"- Peak memory: each of the {m['workers']} OCR worker processes "
             f"{pool.get('worker_peak_mb', 0):.0f} MB (Tesseract's models included), the "
             f"pipeline's parent process {pl['process_peak_mb']:.0f} MB"
             + (f"; bare Tesseract {tess:.0f} MB on the largest pages." if tess else "."))
    L.append("")

    L += ["## Accuracy", "", "### OCR error rates by degradation", ""]
    L += ["Character (CER) and word (WER) error rates against the generator's truth text. "
          "A page counts under every degradation it has; `clean` pages have none. "
          "`tesseract CLI (no cleanup)` is the raw page straight into Tesseract.", ""]
    if "cer_by_degradation" in plots:
        L += [f"![CER by degradation]({plots['cer_by_degradation']})", ""]
    names = list(ocr["overall"])
    header = ["degradation", "pages"] + [f"CER {n}" for n in names] + [f"WER {n}" for n in names]
    rows = []
    for deg, per in ocr["by_degradation"].items():
        first = next(iter(per.values()))
        rows.append([deg, str(first["pages"])]
                    + [_pct(per.get(n, {}).get("cer")) for n in names]
                    + [_pct(per.get(n, {}).get("wer")) for n in names])
    allp = ocr["overall"][names[0]]
    rows.append(["**all pages**", str(allp["pages"])]
                + [f"**{_pct(ocr['overall'][n]['cer'])}**" for n in names]
                + [f"**{_pct(ocr['overall'][n]['wer'])}**" for n in names])
    L += _table(header, rows)

    L += ["### Document types and page splitting", ""]
    L += _table(["measure", "value"], [
        ["pages given the right document type", _pct(docs["page_type_accuracy"])],
        ["truth documents found (right type, exactly its pages)",
         f"{_pct(docs['documents_found'])} of {docs['documents']}"],
        ["document boundaries: precision", _pct(docs["boundary_precision"])],
        ["document boundaries: recall", _pct(docs["boundary_recall"])],
        ["multi-page dossiers split exactly right",
         f"{_pct(docs['split_exact'])} of {docs['multi_page_dossiers']}"],
    ])

    L += ["### Fields by document type", ""]
    L += ["Precision: found values that equal the truth. Recall: truth values found right. "
          "Exact match: fields whose output equals the truth (an empty truth is matched by "
          "no value). Values compare after NFC, case folding and spacing. Types without a "
          "definition (`defined` no) cannot be recognized yet, so all their fields count as "
          "missed.", ""]
    if "fields_by_type" in plots:
        L += [f"![Fields by type]({plots['fields_by_type']})", ""]
    rows = []
    for t, st in docs["by_type"].items():
        rows.append([t, "yes" if st["defined"] else "no", str(st["docs"]), str(st["pages"]),
                     _pct(st["page_type_accuracy"]), str(st["instances"]),
                     _pct(st["precision"]), _pct(st["recall"]), _pct(st["exact"]),
                     _pct(st["docs_all_exact"])])
    rows.append(["**all**", "", str(docs["documents"]), str(docs["pages"]),
                 _pct(docs["page_type_accuracy"]), str(f["instances"]), _pct(f["precision"]),
                 _pct(f["recall"]), _pct(f["exact"]), ""])
    L += _table(["type", "defined", "docs", "pages", "page type right", "fields", "precision",
                 "recall", "exact", "docs all exact"], rows)

    L += ["### Fields one by one", ""]
    rows = [[k.split(".", 1)[0], k.split(".", 1)[1], str(st["instances"]), str(st["emitted"]),
             _pct(st["precision"]), _pct(st["recall"]), _pct(st["exact"])]
            for k, st in docs["by_field"].items() if st["instances"] or st["emitted"]]
    L += _table(["type", "field", "truth", "found", "precision", "recall", "exact"], rows)

    L += ["### Auto-accepted fields and the review queue", ""]
    threshold = (f"at least {rv['threshold']:.2f}" if rv["threshold"] is not None
                 else "at least the calibrated rule's threshold")
    L += [f"A found field is accepted automatically when it passes its validators and its "
          f"confidence is {threshold}; otherwise it goes to review.", ""]
    L += _table(["", "fields", "share of found", "right"], [
        ["found (have a value)", str(rv["found"]), "100 %", _pct(f["precision"])],
        ["accepted automatically", str(rv["accepted"]), _pct(_ratio(rv["accepted"], rv["found"])),
         _pct(rv["accepted_precision"])],
        ["routed to review", str(rv["review"]), _pct(rv["review_share"]),
         _pct(rv["review_precision"])],
    ])

    from bench.report_trust import trust_markdown

    L += trust_markdown(summary, plots)

    L += ["## Speed", ""]
    L += [f"All systems read the same {sp['pages']} page images one after another on the same "
          f"{m['workers']} cores. Wall time is from launch to exit (process start-up included). "
          "Peak memory is the largest single process of the system's process tree "
          "(`wait4` resident set).", ""]
    if "throughput" in plots:
        L += [f"![Throughput]({plots['throughput']})", ""]
    rows = []
    for s in sp["systems"]:
        if s["skipped"]:
            rows.append([s["name"], "skipped", "", "", "", s["skipped"]])
            continue
        ratio = "1.00" if s is ours else _num(s["ours_speedup"], ".2f")
        rows.append([s["name"], _num(s["wall_s"]), _num(s["pages_per_min"]), ratio,
                     f"{s['peak_rss_mb']:.0f}", f"`{s['command']}`"])
    L += _table(["system", "wall s", "pages/min", "ours ÷ it", "peak MB", "how"], rows)
    tess_text = (f"{tess:.0f} MB peak on the largest pages, measured apart from the timed runs "
                 "with Tesseract forked from a small parent, since a child's peak counts what "
                 "its parent held at the fork" if tess else "not measured here")
    L += [f"Our pipeline: {pl['startup_s']:.1f} s start-up (imports, document types, Tesseract "
          f"check), then {pl['processing_s']:.1f} s of processing. Memory per worker: the "
          f"pipeline's parent process peaked at {pl['process_peak_mb']:.0f} MB; each of its "
          f"{m['workers']} OCR worker processes keeps Tesseract loaded (their peak is under "
          f"\"OCR worker pool\" below). Bare Tesseract: {tess_text}.", ""]
    skipped = [s for s in sp["systems"] if s["skipped"]]
    for s in skipped:
        L += [f"> **{s['name']} did not run:** {s['skipped']}", ""]

    L += ["### Where the time goes", ""]
    L += ["Seconds of work per page in each stage of our pipeline, summed over the worker "
          "processes. `orientation` is Tesseract's orientation detection (OSD) and the "
          "second cleanup of pages that read as turned; their second reading counts under "
          "`ocr`.", ""]
    if "stages" in plots:
        L += [f"![Stages]({plots['stages']})", ""]
    L += _table(["stage", "s per page", "share"],
                [[k, _num(v["per_page_s"], ".3f"), _pct(v["share"])]
                 for k, v in sp["stages"].items()])

    L += ["## Scale", ""]
    if summary["scale"]:
        L += ["Our pipeline alone on the first dossiers of the same corpus, each size in a fresh "
              "process (whole dossiers, so sizes round up).", ""]
        if "scale" in plots:
            L += [f"![Scale]({plots['scale']})", ""]
        L += _table(["pages", "dossiers", "wall s", "start-up s", "pages/min",
                     "process peak MB"],
                    [[str(s["pages"]), str(s["dossiers"]), _num(s["wall_s"]),
                      _num(s["startup_s"]), _num(s["pages_per_min"]),
                      f"{s['process_peak_mb']:.0f}"]
                     for s in summary["scale"]])
    else:
        L += ["No scale sizes were asked for (`--scale 10,100,1000`).", ""]
    if summary.get("long_pdf"):
        L += ["### One long scanned PDF", "",
              "`dossier ocr` on one PDF holding the corpus's page images in turn (pages "
              "showing the same image share it in the file): every page is rendered and read "
              "in a worker one at a time, each size in a fresh process. Peak memory is the "
              "largest OCR worker's and the parent's (which keeps the document's OCR tree).",
              ""]
        L += _table(["pages", "file MB", "wall s", "pages/min", "worker peak MB",
                     "parent peak MB"],
                    [[str(x["pages"]), f"{x['file_mb']:.1f}", _num(x["wall_s"]),
                      _num(x["pages_per_min"]), f"{x['worker_peak_mb']:.0f}",
                      f"{x['parent_peak_mb']:.0f}"] for x in summary["long_pdf"]])

    L += ["## How this was measured", ""]
    L += [
        f"- Corpus: `sample_scans.generator`, split `{c['split']}` (held-out layouts and "
        f"fonts), seed {c['seed']}, containers {_counts(c['containers'])}; documents "
        f"{_counts(c['doctypes'])}. Cached in `{c['cache']}`.",
        "- Every page is decoded once the way the pipeline loads it (PDF pages rendered at "
        "300 dpi) and kept as a PNG with its dpi; all systems read those images. OCRmyPDF "
        "gets them as one lossless image PDF (img2pdf), so its rasterization is its own cost. "
        "Born-digital pages are OCRed too (the pipeline's text-layer shortcut is not used).",
        "- Our pipeline runs as in the flow: pages in parallel in a pool of worker "
        "processes (one per core, each keeping Tesseract's models loaded, one Tesseract thread "
        "each); extraction per dossier, in the parent, when its pages are done. "
        "Storage (S3, index) is not part of the measurement.",
        "- Text is compared after NFC normalization, with runs of leader dots and underscores "
        "dropped and all whitespace collapsed, so reading order across lines counts, line "
        "breaks do not. Rates are total edits over total truth length.",
        "- The bare Tesseract and OCRmyPDF texts are scored too (OCRmyPDF's `--sidecar`).",
    ]
    return "\n".join(L) + "\n"


def render_ocr_pool(summary: dict) -> str:
    """The OCR worker pool's figures: headline against the baselines, both OCR engines on
    the same pages, and peak memory per worker process at every size."""
    pool = summary.get("ocr_pool")
    if not pool:
        return ""
    sp, ocr = summary["speed"], summary["ocr"]
    ours = sp["systems"][0]
    L: list[str] = ["", "## OCR worker pool", ""]
    ratios = [f"{x['name']} {_num(x['pages_per_min'])} pages/min (ours ×{x['ours_speedup']:.2f})"
              for x in sp["systems"][1:] if x["pages_per_min"]]
    L.append(f"- End to end (cleanup + OCR + extraction) **{_num(ours['pages_per_min'])} "
             f"pages/min** with the `{pool['engine']}` engine; " + "; ".join(ratios) + ".")
    ours_name = next(k for k in ocr["overall"] if k.startswith("our"))
    raw_name = next((k for k in ocr["overall"] if k.startswith("tesseract")), None)
    clean = ocr["by_degradation"].get("clean", {})
    cer = f"- CER overall **{_pct(ocr['overall'][ours_name]['cer'])}**"
    if raw_name:
        cer += f" (raw {_pct(ocr['overall'][raw_name]['cer'])})"
    if ours_name in clean:
        cer += f"; on clean pages **{_pct(clean[ours_name]['cer'])}**"
        if raw_name in clean:
            cer += f" (raw {_pct(clean[raw_name]['cer'])})"
    L.append(cer + ".")
    worse = [deg for deg, by in ocr["by_degradation"].items()
             if raw_name in by and ours_name in by and by[ours_name]["cer"] > by[raw_name]["cer"]]
    L.append("- Degradations where our CER is above the raw page's: "
             + (", ".join(worse) if worse else "none") + ".")
    L.append(f"- Peak memory per OCR worker process: **{pool['worker_peak_mb']:.0f} MB** "
             f"(parent process {pool['parent_peak_mb']:.0f} MB).")
    L.append("")
    L += ["### Both OCR engines, same pages", "",
          "`tesserocr` keeps Tesseract's models loaded in each worker process; `cli` starts "
          "the `tesseract` program per page through pytesseract. Set with "
          "`DOSSIER_OCR_ENGINE`.", ""]
    L += _table(["engine", "wall s", "pages/min", "CER", "worker peak MB"],
                [[f"`{e['engine']}`", _num(e["wall_s"]), _num(e["pages_per_min"]),
                  _pct(e.get("cer", ocr["overall"][ours_name]["cer"])),
                  f"{e['worker_peak_mb']:.0f}"] for e in pool["engines"]])
    if summary["scale"]:
        L += ["### Memory by batch size", ""]
        L += _table(["pages", "wall s", "pages/min", "worker peak MB", "parent peak MB"],
                    [[str(x["pages"]), _num(x["wall_s"]), _num(x["pages_per_min"]),
                      f"{x.get('worker_peak_mb', 0):.0f}", f"{x.get('parent_peak_mb', 0):.0f}"]
                     for x in summary["scale"]])
    return "\n".join(L) + "\n"


def _tesseract_peak(speed: dict) -> float | None:
    """Peak memory of one Tesseract process on the largest pages (a separate, untimed run)."""
    return speed["pipeline"].get("tesseract_peak_mb")


def _ratio(a: int, b: int) -> float | None:
    return a / b if b else None


def _counts(d: dict) -> str:
    return ", ".join(f"{k} {v}" for k, v in sorted(d.items(), key=lambda kv: -kv[1]))


def write_report(summary: dict, target: Path) -> tuple[Path, str]:
    """Write ``report.md``, the plots and ``summary.json`` into ``target``."""
    target.mkdir(parents=True, exist_ok=True)
    plots = _plots(summary, target)
    from bench.report_trust import trust_plots

    plots.update(trust_plots(summary, target))
    markdown = render_markdown(summary, plots) + render_ocr_pool(summary)
    report = target / "report.md"
    report.write_text(markdown, encoding="utf-8")
    (target / "summary.json").write_text(json.dumps(summary, ensure_ascii=False, indent=1) + "\n",
                                         encoding="utf-8")
    return report, markdown
