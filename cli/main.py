"""The ``dossier`` command. Imports are lazy so quick tools start quickly; every
DossierError becomes an exit code and a fix-it message here, in one place."""

from __future__ import annotations

import json
import logging
import os
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer
from rich.console import Console

from models.errors import DossierError, ExitCode

if TYPE_CHECKING:
    from storage.index import RecordIndex

app = typer.Typer(add_completion=False, no_args_is_help=True,
                  help="Digitize paper dossiers and reuse their data.")
apikey_app = typer.Typer(no_args_is_help=True, help="Manage API keys for other systems.")
app.add_typer(apikey_app, name="apikey")
user_app = typer.Typer(no_args_is_help=True, help="Manage the people who use the web pages.")
app.add_typer(user_app, name="user")
corrections_app = typer.Typer(no_args_is_help=True, help="Review corrections as labelled data.")
app.add_typer(corrections_app, name="corrections")
# Piped output (CI logs, files) gets a wide table instead of rich's default 80 columns.
console = Console(width=None if sys.stdout.isatty() else 140)
err = Console(stderr=True)


def _settings():
    from models.settings import get_settings

    return get_settings()


@contextmanager
def _index() -> Iterator[RecordIndex]:
    """The index of the settings, closed when the block ends."""
    from storage.index import RecordIndex

    index = RecordIndex(_settings().resolved_index_url())
    try:
        yield index
    finally:
        index.close()


def _private_data_dir():
    """Settings, for a command that keeps data under the data dir: this process and what it
    starts (Prefect server, workers, the S3 server) create private files there (0600, folders
    0700), whatever umask the shell or service manager gave."""
    from storage.private import private_dir, restrict_umask

    restrict_umask()
    s = _settings()
    private_dir(s.data_dir)
    return s


# -- quick one-file tools -------------------------------------------------------------------

@app.command()
def ocr(files: Annotated[list[Path], typer.Argument(help="images (JPEG, PNG, TIFF) or PDFs")],
        lang: Annotated[str | None, typer.Option(
            help="Tesseract languages (default DOSSIER_LANG, vie+eng)")] = None,
        as_json: Annotated[bool, typer.Option("--json", help="pages, lines, words, boxes")] = False,
        pdf: Annotated[bool, typer.Option("--pdf", help="also write a searchable PDF per file")]
        = False,
        out_dir: Annotated[Path | None, typer.Option(
            "--out-dir", help="write one output per input here, named after it")] = None,
        no_cleanup: Annotated[bool, typer.Option("--no-cleanup", help="OCR the raw scan")] = False,
        ) -> None:
    """Text of images or PDFs after the pipeline's cleanup and OCR, all files through one
    pool of DOSSIER_WORKERS processes. One file prints to stdout; with several files, --pdf
    or --out-dir, each input gets its own output (NAME.txt / NAME.json / NAME.pdf) in
    --out-dir (default: the current folder)."""
    from ocr.files import ocr_files
    from ocr.searchable import searchable_pdf

    s = _settings()
    to_files = out_dir is not None or pdf or len(files) > 1
    target = out_dir or Path(".")
    if to_files:
        target.mkdir(parents=True, exist_ok=True)
    opts = s.ocr_options(lang=lang, cleanup=not no_cleanup)
    limits = s.limits()
    names = _output_names(files)
    failed = 0
    for result, name in zip(ocr_files(files, opts, limits=limits, workers=s.workers,
                                      page_images=pdf), names, strict=True):
        if result.error is not None:
            failed += 1
            err.print(f"[red]error:[/red] {result.error}", highlight=False, soft_wrap=True)
            continue
        doc = result.document
        assert doc is not None
        text = (json.dumps(doc.export(), ensure_ascii=False, indent=1) if as_json
                else "\n\f".join(p.text for p in doc.pages)) + "\n"
        if not to_files:
            sys.stdout.write(text)
            continue
        (target / f"{name}.{'json' if as_json else 'txt'}").write_text(text, encoding="utf-8")
        if pdf:
            # A page image that did not encode is left out: zip then refuses the mismatch.
            images = [im for im in result.page_images if im is not None]
            (target / f"{name}.pdf").write_bytes(
                searchable_pdf(zip(images, doc.pages, strict=True), title=result.path.name))
        err.print(f"{result.path} -> {target / name}.*", highlight=False, soft_wrap=True)
    if failed:
        err.print(f"{failed} of {len(files)} file(s) failed; the others were read.")
        raise typer.Exit(ExitCode.some_files_failed if len(files) > 1 else ExitCode.input_file)


def _output_names(files: list[Path]) -> list[str]:
    """Each input's output name: its file name, made unique when two inputs share one."""
    names: list[str] = []
    seen: set[str] = set()
    for f in files:
        base = name = f.name
        n = 2
        while name in seen:
            name = f"{base}-{n}"
            n += 1
        seen.add(name)
        names.append(name)
    return names


@app.command()
def extract(file: Annotated[Path, typer.Argument(help="image (JPEG, PNG, TIFF) or PDF")],
            doctypes: Annotated[Path | None, typer.Option(
                help="folder of extra document-type YAML files")] = None,
            lang: Annotated[str | None, typer.Option(
                help="Tesseract languages for every page (default: DOSSIER_LANG, vie+eng, and "
                     "a page of a type with its own `lang` is read again in that)")] = None,
            as_json: Annotated[bool, typer.Option("--json")] = False,
            explain: Annotated[bool, typer.Option(
                "--explain", help="show each type's keyword score on each page against its "
                                  "min_score, and where each value was found")] = False,
            ) -> None:
    """Classify a document and print its fields with values and confidences."""
    from cli.explain import field_origins, page_explanations, untyped_pages
    from extraction import (
        extract_documents,
        load_doctypes,
        read_as_their_types,
        start_warm_up,
        wait_for_warm_up,
    )
    from models.batches import PageJob
    from ocr.files import ocr_files
    from ocr.pool import run_page_job
    from ocr.reread import read_lines

    s = _settings()
    types = load_doctypes(doctypes or s.doctypes_dir)  # a bad definition stops before OCR
    # Extraction's tables load while OCR waits on Tesseract.
    start_warm_up()
    # Read exactly as the pipeline reads: the engine, languages and limits of the settings.
    opts = s.ocr_options(lang=lang)
    limits = s.limits()
    result = next(ocr_files([file], opts, limits=limits, workers=s.workers, page_images=True))
    if result.error is not None:
        raise result.error
    assert result.document is not None
    pages, images = result.document.pages, result.page_images
    wait_for_warm_up()  # classifying needs spaCy, which the warm-up may be loading
    read_as: dict[int, str] = {}
    if lang is None:
        # A type that says how it is read (its languages, its layout) has its pages read so.
        def reread(i: int, langs: str, psm: int):
            read_as[i] = f"{langs}, page segmentation {psm}"
            return run_page_job(PageJob(path=str(file), source_page=i, limits=limits,
                                        opts=s.ocr_options(lang=langs, psm=psm))
                                ).result(str(file))

        first, pages = pages, read_as_their_types(pages, types, opts.lang, reread)
        read_as = {i: how for i, how in read_as.items() if pages[i] is not first[i]}

    def read_lines_again(i: int, boxes):
        # The cleaned page as the pipeline keeps it (extraction.reread).
        image = images[i] if 0 <= i < len(images) else None
        if image is None:
            return None
        return read_lines(image, boxes, dpi=pages[i].dpi or 300, opts=opts)

    docs = extract_documents(pages, types, review_threshold=s.review_threshold,
                             calibration=s.resolved_calibration(),
                             reread=read_lines_again if s.second_reading else None)
    why = page_explanations(pages, docs, types, opts.lang, read_as) if explain else []
    if as_json:
        out: dict[str, Any] = {"file": str(file),
                               "documents": [d.model_dump(mode="json") for d in docs]}
        if explain:
            out["pages"] = why
            for d, dumped in zip(docs, out["documents"], strict=True):
                dumped["found_by"] = field_origins(d)
        sys.stdout.write(json.dumps(out, ensure_ascii=False, indent=1) + "\n")
        return
    from rich.markup import escape
    from rich.table import Table

    for w in why:
        console.print(escape(f"page {w['page']} (read in {w['read_in']}): {w['why']}"))
        for t in w["scores"]:
            if t["doctype"] != w["doctype"] and w["doctype"] != "unknown":
                console.print(escape(f"  also {t['doctype']}: {t['score']:g} of the "
                                     f"{t['min_score']:g} it needs (found "
                                     f"{', '.join(t['found'])})"))
    if not explain and untyped_pages(docs):
        err.print(f"page(s) {', '.join(map(str, untyped_pages(docs)))}: no document type "
                  f"reached its min_score; --explain shows each type's score")
    for d in docs:
        t = Table(title=f"{d.title} {escape(f'[{d.doctype}]')} pages {', '.join(str(p + 1) for p in d.pages)}"
                        f" (confidence {d.classification_confidence:.2f})", title_justify="left")
        cols = ["field", "value", "confidence", "status", "source", "other readings"]
        for col in cols + (["found by"] if explain else []):
            t.add_column(col)
        origins = field_origins(d)
        for f in d.fields:
            others = "; ".join(f"{r.value} ({r.source.value}{', ' + r.document if r.document else ''})"
                               for r in f.readings)
            t.add_row(escape(f.name), escape(f.value or ""), f"{f.confidence:.2f}",
                      f.status.value, f.source.value if f.value else "", escape(others),
                      *([escape(origins[f.name])] if explain else []))
        console.print(t)


# -- batch digitization ---------------------------------------------------------------------

@app.command()
def ingest(paths: Annotated[list[Path], typer.Argument(help="folders, images or PDFs")],
           station: Annotated[str | None, typer.Option(help="scanning station id")] = None,
           operator: Annotated[str | None, typer.Option(help="operator name")] = None,
           report: Annotated[Path | None, typer.Option(help="write a JSON report here")] = None,
           split_folders: Annotated[bool, typer.Option(
               "--split-folders", help="each file/subfolder of a folder is its own dossier")]
           = False,
           api: Annotated[str | None, typer.Option(
               help="upload to this `dossier serve` (POST /v1/batches) instead of digitizing "
                    "here (default DOSSIER_API_URL); the key (scope batches:write) comes from "
                    "DOSSIER_API_KEY")] = None,
           ) -> None:
    """Upload and digitize a batch; one folder or one file is one dossier."""
    from cli.ingest import run_ingest, run_remote

    s = _settings()
    api = api or s.api_url
    if api:
        key = s.api_key.get_secret_value()
        if not key:
            raise typer.BadParameter("--api needs an API key in DOSSIER_API_KEY "
                                     "(`dossier apikey create --scope batches:write`)")
        code = run_remote(paths, api=api, key=key, station=station, operator=operator,
                          report_path=report, split_folders=split_folders, console=console)
    else:
        _private_data_dir()
        code = run_ingest(paths, station=station, operator=operator, report_path=report,
                          split_folders=split_folders, console=console)
    raise typer.Exit(code)


@app.command()
def demo() -> None:
    """Digitize the sample dossiers as `dossier serve` does (a local Prefect server and a
    worker take the batch) on the embedded stack, and show what came out."""
    from cli.ingest import run_served

    _private_data_dir()
    samples = Path(__file__).resolve().parent.parent / "sample_scans"
    if not samples.is_dir():
        samples = Path("sample_scans")
    t0 = time.perf_counter()
    code = run_served([samples], station="demo", operator="demo", split_folders=True,
                      console=console, show_fields=True)
    s = _settings()
    console.print(f"\nDone in {time.perf_counter() - t0:.0f} s. Where to look next:")
    console.print("  dossier records --citizen-id <ID from the table>   records naming a citizen")
    console.print("  dossier apikey create --name portal --scope records:read")
    console.print("  dossier serve   then GET http://127.0.0.1:8000/v1/citizens/<ID>/records")
    console.print(f"  data: {s.data_dir.resolve()}  (S3 server, index, Prefect)   "
                  "dossier stop   stops the S3 server")
    raise typer.Exit(code)


@app.command()
def records(citizen_id: Annotated[str, typer.Option("--citizen-id", help="12-digit ID")],
            as_json: Annotated[bool, typer.Option("--json", help="full record JSON")] = False
            ) -> None:
    """Every record that names a citizen ID."""

    s = _settings()
    with _index() as index:
        entries = index.records_for_citizen(citizen_id)
    if as_json:
        from models.records import Record
        from storage.objects import open_object_store

        store = open_object_store(s)
        out = [Record.from_json(store.get_record(e.record_id)).model_dump(mode="json")
               for e in entries]
        sys.stdout.write(json.dumps(out, ensure_ascii=False, indent=1) + "\n")
        return
    if not entries:
        err.print(f"No record names citizen ID {citizen_id}.")
        raise typer.Exit(ExitCode.not_found)
    from rich.table import Table

    t = Table()
    for col in ("record", "document type", "status", "confidence", "key fields"):
        t.add_column(col)
    for e in entries:
        t.add_row(e.record_id, e.doctype, e.status.value, f"{e.confidence:.2f}",
                  "; ".join(f"{k}={v}" for k, v in list(e.summary.items())[:4]))
    console.print(t)


@app.command()
def reindex() -> None:
    """Rebuild the SQL index from the record JSON and audit events in the object store."""
    from storage.objects import open_object_store
    from storage.records import RecordStore

    s = _settings()
    store = open_object_store(s)
    with _index() as index:
        n, removed, events = RecordStore(store, index).reindex()
    console.print(f"Index rebuilt: {n} records (was {removed}), {events} audit events.")


@app.command()
def calibrate(pages: Annotated[int, typer.Option(help="dev-split pages to train on")] = 320,
              test_pages: Annotated[int, typer.Option(
                  help="held-out test-split pages to judge on")] = 120,
              workers: Annotated[int, typer.Option(help="OCR processes")] = os.cpu_count() or 1,
              install: Annotated[bool, typer.Option(
                  help="install the new scorer when it passes")] = False) -> None:
    """Retrain the field scorer on the dev corpus plus the values people confirmed or
    corrected in review; show it beside the scorer in use on held-out values; install it
    (--install) only if its accepted values are right at least 99.5 % of the time."""
    from cli.calibrate import calibrate as run

    run(_settings(), pages=pages, test_pages=test_pages, workers=workers, install=install,
        say=console.print)


@app.command()
def serve(host: Annotated[str, typer.Option(help="bind address")] = "127.0.0.1",
          port: Annotated[int, typer.Option(help="port")] = 8000,
          workers: Annotated[int, typer.Option(
              help="local `dossier worker` processes to start (0: workers run elsewhere)")] = 1,
          web_workers: Annotated[int, typer.Option(
              help="web processes answering requests (uvicorn workers sharing the port); "
                   "about one per core for many API clients")] = 1,
          ) -> None:
    """The web app: REST API for other systems (API keys) and the pages for staff (login);
    uploads become flow runs that Prefect workers execute.

    Without PREFECT_API_URL a Prefect server (own SQLite database under the data dir) is
    started on 127.0.0.1 with one local worker, and both are stopped on exit. HTTP is parsed
    by httptools on uvloop (uvicorn picks them when installed).
    """
    import signal

    import uvicorn

    from api.app import create_app, redact_access_log
    from flows.service import local_stack

    def terminated(signum: int, frame: object) -> None:
        raise KeyboardInterrupt  # uvicorn re-raises SIGTERM after its shutdown: clean up too

    signal.signal(signal.SIGTERM, terminated)
    s = _private_data_dir()
    with local_stack(s, workers=workers, say=err.print) as api_url:
        redact_access_log()
        console.print(f"Serving on http://{host}:{port} (pages: log in at /login; API docs at "
                      f"/docs), Prefect at {api_url}, {workers} local worker(s); Ctrl+C stops.")
        if web_workers > 1:
            # Each process builds its own app (index pool, S3 client, caches).
            uvicorn.run("api.app:served_app", factory=True, workers=web_workers, host=host,
                        port=port, log_level="info")
        else:
            uvicorn.run(create_app(s), host=host, port=port, log_level="info")


@app.command()
def worker(limit: Annotated[int | None, typer.Option(
               help="batches this worker runs at once, sharing its OCR pool "
                    "(default DOSSIER_WORKER_BATCHES, 4)")] = None,
           name: Annotated[str | None, typer.Option(help="worker name shown in Prefect")]
           = None) -> None:
    """Take digitize-batch runs from the work pool (PREFECT_API_URL, or the local server
    `dossier serve` started for this data dir) until stopped."""
    import os

    from flows.service import api_url_for, plain_http_env, prefect_env, run_worker
    from models.errors import ConfigurationError

    s = _private_data_dir()
    for k, v in prefect_env(s).items():
        os.environ.setdefault(k, v)
    url = api_url_for(s)
    if not url:
        raise ConfigurationError("no Prefect API to take work from",
                                 hint="set PREFECT_API_URL, or start `dossier serve` first")
    os.environ["PREFECT_API_URL"] = url
    os.environ.update(plain_http_env(url, s))
    err.print(f"Worker on pool {s.work_pool!r} at {url}, {limit or s.worker_batches} "
              f"batch(es) at a time sharing {s.workers} OCR process(es).")
    from storage.webhooks import delivering

    with delivering(s):  # this worker also delivers webhooks
        run_worker(s, limit=limit, name=name)


@app.command()
def stop() -> None:
    """Stop the embedded S3 server, if one runs for this data dir."""
    from storage.embedded import EmbeddedS3

    stopped = EmbeddedS3(_settings().data_dir).stop()
    console.print("S3 server stopped." if stopped else "No S3 server was running.")


@app.command()
def bench(split: Annotated[str, typer.Option(help="generator split: test (held-out layouts) or dev")]
          = "test",
          pages: Annotated[int, typer.Option(help="pages for accuracy and the side-by-side run")]
          = 20,
          scale: Annotated[str, typer.Option(help="page counts for the scale runs, e.g. 10,100,1000")]
          = "10,100",
          seed: Annotated[int, typer.Option(help="corpus seed")] = 1,
          degradation: Annotated[str, typer.Option(help="clean, light, mixed or heavy")] = "mixed",
          baselines: Annotated[bool, typer.Option(help="run OCRmyPDF beside the pipeline")] = True,
          engines: Annotated[bool, typer.Option(
              help="also time the pipeline with the other OCR engine")] = True,
          pdf_scale: Annotated[str, typer.Option(
              help="page counts of one long scanned PDF read page by page, e.g. 10,100,1000")]
          = "",
          out: Annotated[Path | None, typer.Option(help="report folder (default bench/results)")]
          = None,
          review: Annotated[bool, typer.Option(
              "--review", help="only the review workspace: page ready and save times with "
              "--records rows in the index, keystrokes per document")] = False,
          records: Annotated[int, typer.Option(help="index size for --review")] = 10_000) -> None:
    """Accuracy, speed beside bare Tesseract and OCRmyPDF, and scale; writes a markdown report."""
    from bench.run import RESULTS_DIR, BenchOptions, run_bench

    if review:
        from datetime import date

        from bench.review import run_review_bench

        result = run_review_bench(records=records,
                                  progress=lambda m: err.print(f"[dim]bench:[/dim] {m}"))
        folder = (out or RESULTS_DIR) / f"{date.today().isoformat()}-review"
        folder.mkdir(parents=True, exist_ok=True)
        text = result.markdown() + f"\n\nCommand: `dossier bench --review --records {records}`\n"
        (folder / "report.md").write_text(text, encoding="utf-8")
        sys.stdout.write(text)
        err.print(f"Report: {folder / 'report.md'}")
        return

    s = _settings()
    try:
        sizes = tuple(int(x) for x in scale.split(",") if x.strip())
        pdf_sizes = tuple(int(x) for x in pdf_scale.split(",") if x.strip())
    except ValueError:
        raise typer.BadParameter(f"--scale {scale!r} / --pdf-scale {pdf_scale!r}: give page "
                                 "counts like 10,100,1000") from None
    if split not in ("dev", "test"):
        raise typer.BadParameter(f"--split {split!r}: use dev or test")
    opts = BenchOptions(data_dir=s.data_dir, out_dir=out or RESULTS_DIR, split=split, seed=seed,
                        degradation=degradation, pages=pages, scale=sizes, workers=s.workers,
                        lang=s.lang, tesseract_cmd=s.tesseract_cmd,
                        review_threshold=s.review_threshold, baselines=baselines,
                        engine=s.ocr_engine or None, compare_engines=engines,
                        pdf_scale=pdf_sizes,
                        command="dossier bench " + " ".join(sys.argv[2:]))
    outcome = run_bench(opts, progress=lambda m: err.print(f"[dim]bench:[/dim] {m}"))
    sys.stdout.write(outcome.markdown + "\n")
    err.print(f"Report: {outcome.report}")


# -- API keys -------------------------------------------------------------------------------

@apikey_app.command("create")
def apikey_create(name: Annotated[str, typer.Option(help="who uses the key")],
                  scope: Annotated[list[str], typer.Option(
                      help="repeat for several: records:read, originals:read, "
                           "access-log:read, batches:read, batches:write, events:read, "
                           "webhooks:manage, metrics:read, or * for every scope")]
                  = ["records:read"],  # noqa: B006 - typer reads the default
                  agency: Annotated[str | None, typer.Option(
                      help="the agency the key reads for, named in every access record")]
                  = None,
                  doctype: Annotated[list[str] | None, typer.Option(
                      help="limit the key to this document type (repeat for several); "
                           "default: every type")] = None) -> None:
    """Create a key; it is printed once and stored only as a hash."""

    s = _settings()
    if doctype:
        from extraction import load_doctypes

        known = {d.id for d in load_doctypes(s.doctypes_dir)}
        unknown = sorted(set(doctype) - known)
        if unknown:
            raise _bad_args(f"unknown document type {', '.join(unknown)}; known: "
                            f"{', '.join(sorted(known))}")
    with _index() as index:
        key, info = index.create_api_key(name, scope, agency=agency, doctypes=doctype or None)
    limits = f", document types {', '.join(info.doctypes)}" if info.doctypes else ""
    err.print(f"API key {info.key_id} for {info.name!r}"
              f"{f' ({info.agency})' if info.agency else ''}, scopes "
              f"{', '.join(info.scopes)}{limits}. It is shown only now: store it safely.")
    sys.stdout.write(key + "\n")


@apikey_app.command("list")
def apikey_list() -> None:
    """List keys (never the keys themselves)."""

    with _index() as index:
        for k in index.list_api_keys():
            console.print(f"{k.key_id}  {k.name}  {k.agency or '-'}  {','.join(k.scopes)}  "
                          f"{','.join(k.doctypes) if k.doctypes else 'all types'}  "
                          f"{'revoked' if k.revoked else 'active'}")


@apikey_app.command("revoke")
def apikey_revoke(key_id: str) -> None:
    """Revoke a key by its id."""

    with _index() as index:
        index.revoke_api_key(key_id)
    console.print(f"Key {key_id} revoked.")


# -- users ----------------------------------------------------------------------------------

def _bad_args(message: str) -> typer.Exit:
    err.print(f"[red]error:[/red] {message}", highlight=False)
    return typer.Exit(int(ExitCode.bad_args))


def _read_password() -> str:
    """The new password: asked twice on a terminal, else the first line of stdin."""
    if sys.stdin.isatty():
        first = typer.prompt("Password", hide_input=True)
        again = typer.prompt("Repeat the password", hide_input=True)
        if first != again:
            raise _bad_args("the two passwords differ")
        return str(first)
    return sys.stdin.readline().rstrip("\r\n")


@user_app.command("create")
def user_create(name: Annotated[str, typer.Argument(help="login name")],
                role: Annotated[str, typer.Option(help="operator, reviewer, counter or admin")],
                station: Annotated[str | None, typer.Option(help="the operator's station")] = None,
                lang: Annotated[str, typer.Option(help="vi or en")] = "vi") -> None:
    """Create a user; the password is prompted for, or read from stdin."""
    from api.web.accounts import hash_password
    from models.accounts import LANGUAGES, Role

    if role not in {r.value for r in Role}:
        raise _bad_args(f"--role {role!r}: use operator, reviewer, counter or admin")
    if lang not in LANGUAGES:
        raise _bad_args(f"--lang {lang!r}: use {' or '.join(LANGUAGES)}")
    try:
        hashed = hash_password(_read_password())
    except ValueError as e:
        raise _bad_args(str(e)) from None
    with _index() as index:
        index.create_user(name, hashed, Role(role), lang=lang, station=station)
    console.print(f"User {name!r} created with role {role}.")


@user_app.command("list")
def user_list() -> None:
    """List users with their role and state."""

    with _index() as index:
        for u in index.list_users():
            console.print(f"{u.name}  {u.role.value}  {u.station or '-'}  {u.lang}  "
                          f"{'disabled' if u.disabled else 'active'}", highlight=False)


@user_app.command("disable")
def user_disable(name: str) -> None:
    """Disable a user; their sessions end at once."""

    with _index() as index:
        index.update_user(name, disabled=True)
    console.print(f"User {name!r} disabled.")


@corrections_app.command("export")
def corrections_export(out: Annotated[Path, typer.Option("--out", help="JSON-lines file")]) -> None:
    """Every field a person confirmed or changed: crop key, OCR text, machine and final value."""
    from review.corrections import export_corrections
    from storage.objects import open_object_store

    s = _settings()
    store = open_object_store(s)
    with _index() as index:
        with out.open("w", encoding="utf-8") as f:
            n = export_corrections(store, index, f)
    console.print(f"{n} reviewed fields written to {out}.")


@app.command("separator-sheet")
def separator_sheet(out: Annotated[Path, typer.Argument(help="PDF file to write")] = Path(
                        "separator-sheet.pdf"),
                    label: Annotated[str, typer.Option(help="a line printed under the codes")]
                    = "") -> None:
    """Write a printable separator sheet: put it between dossiers of one scanned stack."""
    from extraction.separator import render_separator_sheet

    console.print(f"Separator sheet written to {render_separator_sheet(out, label=label)}")


def main() -> None:
    logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(name)s: %(message)s")
    try:
        # Without standalone mode click returns typer.Exit's code instead of exiting.
        rc = app(standalone_mode=False)
        sys.exit(rc if isinstance(rc, int) else 0)
    except DossierError as e:
        from rich.markup import escape

        # Messages quote commands like `pip install -e ".[bench]"`: print them verbatim.
        err.print(f"[red]error:[/red] {escape(str(e))}", highlight=False)
        sys.exit(int(e.exit_code))
    except typer.Exit as e:
        sys.exit(e.exit_code)
    except (typer.Abort, KeyboardInterrupt):
        err.print("interrupted")
        sys.exit(130)
    except typer.TyperException as e:  # usage errors: an unknown option, a bad value
        show = getattr(e, "show", None)
        if show is not None:
            show()
        else:
            err.print(f"error: {e.format_message()}", highlight=False, markup=False)
        sys.exit(ExitCode.bad_args)


if __name__ == "__main__":
    main()
