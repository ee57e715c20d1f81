"""``dossier ingest``: discover dossiers, run the flow with a progress bar, summarize."""

from __future__ import annotations

import json
import logging
from pathlib import Path

from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

from models.errors import ExitCode
from models.records import FileStatus, IngestFileResult, IngestReport

__all__ = ["run_ingest", "ingest_paths"]

log = logging.getLogger(__name__)


def ingest_paths(paths: list[Path], *, station: str | None = None,
                 operator: str | None = None, split_folders: bool = False,
                 listener=None) -> IngestReport:
    """Accept ``paths`` as a batch (the same path as an upload) and digitize it here.

    The report names every input file.
    """
    from flows.plan import discover
    from flows.runtime import configure_prefect, get_runtime
    from storage.intake import Upload, accept_batch

    rt = get_runtime()
    configure_prefect(rt.settings)
    from flows import progress
    from flows.digitize import digitize_batch, new_batch_id

    dossiers, problems = discover(paths, split_folders=split_folders)
    batch_id = new_batch_id()
    progress.set_listener(listener)
    try:
        if dossiers:
            accept_batch([Upload(name=str(f), path=f, dossier=d.name)
                          for d in dossiers for f in d.files],
                         store=rt.store, ledger=rt.ledger,
                         spool_dir=rt.settings.resolved_spool_dir(),
                         max_file_bytes=rt.settings.max_file_bytes, station=station,
                         operator=operator, batch_id=batch_id)
            report = digitize_batch(batch_id)
        else:
            report = IngestReport(batch_id=batch_id, station=station, operator=operator)
    finally:
        progress.set_listener(None)
    for path, problem in problems:
        report.files.append(IngestFileResult(path=str(path), status=FileStatus.failed,
                                             error=f"{path}: {problem}",
                                             error_kind="InputFileError"))
    return report


def run_ingest(paths: list[Path], *, station: str | None, operator: str | None,
               report_path: Path | None, split_folders: bool, console: Console,
               show_fields: bool = False) -> int:
    with Progress(TextColumn("[bold]{task.description}"), BarColumn(), MofNCompleteColumn(),
                  TextColumn("pages"), TimeElapsedColumn(), console=console,
                  transient=False) as bar:
        task = bar.add_task("starting", total=None)
        planned = 0

        def on_event(ev) -> None:
            nonlocal planned
            if ev.kind == "pages_planned":
                planned += ev.count
                bar.update(task, total=planned, description="digitizing")
            elif ev.kind == "page_done":
                bar.advance(task)
            elif ev.kind == "file_failed":
                bar.console.print(f"[red]failed[/red] {ev.dossier}: {ev.detail}")

        report = ingest_paths(paths, station=station, operator=operator,
                              split_folders=split_folders, listener=on_event)
        bar.update(task, description="done")
    if report_path is not None:
        report_path.write_text(report.model_dump_json(indent=2), encoding="utf-8")
    _summary(report, console, show_fields)
    return int(ExitCode.some_files_failed) if report.failed else 0


def _summary(report: IngestReport, console: Console, show_fields: bool) -> None:
    """One row per document found, one per failed file."""
    from flows.runtime import get_runtime

    t = Table(title=f"Batch {report.batch_id}", title_justify="left", show_lines=show_fields)
    for col in ("dossier", "document type", "key fields", "confidence", "status"):
        t.add_column(col, overflow="fold")
    index = get_runtime().index if report.files else None
    seen: set[str] = set()
    for f in report.files:
        dossier = f.dossier or Path(f.path).name
        if f.status == FileStatus.failed:
            t.add_row(dossier, "-", f"[red]{f.error}[/red]", "-", "[red]failed")
            continue
        new = [r for r in f.record_ids if r not in seen]
        seen.update(f.record_ids)
        entries = [e for e in (index.get_record(r) for r in new) if e is not None] if index else []
        if not entries and not f.record_ids:
            t.add_row(dossier, "-", "no document recognized", "-", f.status.value)
        for e in entries:
            shown = list(e.summary.items())[:3]
            fields = ("\n".join(f"{k}: {v}" for k, v in shown) if show_fields
                      else f"{len(e.summary)} fields")
            status = f.status.value if f.status == FileStatus.duplicate else e.status.value
            t.add_row(dossier, e.doctype, fields, f"{e.confidence:.2f}", status)
    console.print(t)
    ok = sum(1 for f in report.files if f.status == FileStatus.accepted)
    dup = sum(1 for f in report.files if f.status == FileStatus.duplicate)
    console.print(f"Files: {ok} accepted, {dup} already digitized, {len(report.failed)} failed.")
    for f in report.failed:
        console.print(f"[red]✗[/red] {f.error}", highlight=False)


def report_json(report: IngestReport) -> str:
    return json.dumps(report.model_dump(mode="json"), ensure_ascii=False, indent=2)
