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

__all__ = ["run_ingest", "ingest_paths", "run_served", "run_remote", "report_from_status",
           "PageTally", "waiting_line"]

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
    return _with_problems(report, problems)


class PageTally:
    """The pages of a batch for its progress bar: each dossier's pages counted once, although
    a dossier a store outage stopped is planned again and its pages already read are done
    again (reused, not read) when it is tried again."""

    def __init__(self) -> None:
        self._planned: dict[str, int] = {}
        self._this_try: dict[str, int] = {}  # pages done since the dossier was last planned
        self._done: dict[str, int] = {}  # the most pages done in any try

    def planned(self, dossier: str, pages: int) -> None:
        self._planned[dossier] = pages
        self._this_try[dossier] = 0

    def page_done(self, dossier: str) -> None:
        n = self._this_try[dossier] = self._this_try.get(dossier, 0) + 1
        self._done[dossier] = max(self._done.get(dossier, 0), n)

    @property
    def total(self) -> int:
        return sum(self._planned.values())

    @property
    def done(self) -> int:
        return sum(min(n, self._planned.get(d, n)) for d, n in self._done.items())


def run_ingest(paths: list[Path], *, station: str | None, operator: str | None,
               report_path: Path | None, split_folders: bool, console: Console,
               show_fields: bool = False) -> int:
    with Progress(TextColumn("[bold]{task.description}"), BarColumn(), MofNCompleteColumn(),
                  TextColumn("pages"), TimeElapsedColumn(), console=console,
                  transient=False) as bar:
        task = bar.add_task("starting", total=None)
        pages = PageTally()

        def on_event(ev) -> None:
            if ev.kind == "pages_planned":
                pages.planned(ev.dossier, ev.count)
                bar.update(task, total=pages.total, completed=pages.done,
                           description="digitizing")
            elif ev.kind == "page_done":
                pages.page_done(ev.dossier)
                bar.update(task, completed=pages.done)
            elif ev.kind == "file_failed":
                bar.console.print(f"[red]failed[/red] {ev.dossier}: {ev.detail}")

        report = ingest_paths(paths, station=station, operator=operator,
                              split_folders=split_folders, listener=on_event)
        bar.update(task, description="done")
    if report_path is not None:
        report_path.write_text(report.model_dump_json(indent=2), encoding="utf-8")
    _summary(report, console, show_fields)
    return int(ExitCode.some_files_failed) if report.failed else 0


def report_from_status(status) -> IngestReport:
    """The ingest report of a batch as the ledger has it (see ``BatchLedger.status``)."""
    from models.batches import Stage

    report = IngestReport(batch_id=status.batch_id, station=status.station,
                          operator=status.operator, started_at=status.created_at,
                          finished_at=status.finished_at)
    for f in status.files:
        if f.replaced_by is not None:
            continue
        state = (FileStatus.failed if f.stage == Stage.failed else FileStatus.duplicate
                 if f.stage == Stage.duplicate else FileStatus.accepted)
        report.files.append(IngestFileResult(
            path=f.name, dossier=f.dossier, dossier_id=f.dossier_id, sha256=f.sha256,
            status=state, error=(f"{f.error} ({f.hint})" if f.hint else f.error),
            error_kind=f.error_kind, pages=len(f.pages),
            record_ids=[r.record_id for r in f.records]))
    return report


def run_served(paths: list[Path], *, station: str | None, operator: str | None,
               split_folders: bool, console: Console, show_fields: bool = False) -> int:
    """Accept ``paths`` as a batch and let a worker digitize it, as `dossier serve` does: the
    Prefect API (``PREFECT_API_URL``, else a local server) and one local worker come up for
    the run and go down after it."""
    import time

    from flows.plan import discover
    from flows.runtime import get_runtime
    from flows.service import local_stack, submit_batch
    from models.batches import BatchState, Stage
    from storage.intake import Upload, accept_batch

    rt = get_runtime()
    dossiers, problems = discover(paths, split_folders=split_folders)
    with local_stack(rt.settings, workers=1, say=console.print):
        plan = accept_batch([Upload(name=str(f), path=f, dossier=d.name)
                             for d in dossiers for f in d.files],
                            store=rt.store, ledger=rt.ledger,
                            spool_dir=rt.settings.resolved_spool_dir(),
                            max_file_bytes=rt.settings.max_file_bytes, station=station,
                            operator=operator)
        rt.ledger.submitted(plan.batch_id, submit_batch(plan.batch_id))
        with Progress(TextColumn("[bold]{task.description}"), BarColumn(), MofNCompleteColumn(),
                      TextColumn("pages"), TimeElapsedColumn(), console=console) as bar:
            task = bar.add_task("waiting for a worker", total=None)
            while True:
                status = rt.ledger.status(plan.batch_id)
                pages = [p for f in status.files for p in f.pages]
                read = sum(p.stage not in (Stage.queued, Stage.reading) for p in pages)
                bar.update(task, total=len(pages) or None, completed=read,
                           description=status.state.value)
                if status.state == BatchState.finished:
                    break
                time.sleep(0.5)
    report = _with_problems(report_from_status(status), problems)
    _summary(report, console, show_fields)
    return int(ExitCode.some_files_failed) if report.failed else 0


def run_remote(paths: list[Path], *, api: str, key: str, station: str | None,
               operator: str | None, report_path: Path | None, split_folders: bool,
               console: Console) -> int:
    """Upload ``paths`` to a running `dossier serve` (``POST /v1/batches``, files streamed
    from disk) and follow the batch there until it is finished."""
    import contextlib
    import time

    import httpx

    from flows.plan import discover
    from models.batches import BatchStatus, Stage

    dossiers, problems = discover(paths, split_folders=split_folders)
    headers = {"Authorization": f"Bearer {key}"}
    base = api.rstrip("/")
    data = {k: v for k, v in (("station", station), ("operator", operator)) if v}
    with contextlib.ExitStack() as files:
        # A part named folder/file goes to dossier "folder"; a lone file is its own dossier.
        parts = [("files", (f.name if d.files == [f] and d.name == f.name
                            else f"{d.name}/{f.name}",
                            files.enter_context(f.open("rb")), "application/octet-stream"))
                 for d in dossiers for f in d.files]
        r = httpx.post(f"{base}/v1/batches", headers=headers, files=parts, data=data,
                       timeout=httpx.Timeout(30, read=None, write=None))
    if r.status_code != 202:
        console.print(f"[red]upload refused ({r.status_code}):[/red] "
                      f"{r.json().get('detail', r.text)}", highlight=False)
        return int(ExitCode.input_file if r.status_code in (413, 422) else ExitCode.storage)
    batch_id = r.json()["batch_id"]
    with Progress(TextColumn("[bold]{task.description}"), BarColumn(), MofNCompleteColumn(),
                  TextColumn("pages"), TimeElapsedColumn(), console=console) as bar:
        task = bar.add_task(f"batch {batch_id}", total=None)
        waiting: list[str] = []
        while True:
            got = httpx.get(f"{base}/v1/batches/{batch_id}", headers=headers, timeout=30)
            if got.status_code == 503:  # the index is down: the server cannot even look
                now = ["index"]
            else:
                got.raise_for_status()
                status = BatchStatus.model_validate(got.json())
                now = list(status.waiting_for)
            if now != waiting:
                bar.console.print(waiting_line(now), highlight=False)
                waiting = now
            if got.status_code == 503:
                time.sleep(1)
                continue
            pages = [p for f in status.files for p in f.pages]
            bar.update(task, total=len(pages) or None, completed=sum(
                p.stage not in (Stage.queued, Stage.reading) for p in pages))
            if status.state.value == "finished":
                break
            time.sleep(1)
    report = _with_problems(report_from_status(status), problems)
    if report_path is not None:
        report_path.write_text(report.model_dump_json(indent=2), encoding="utf-8")
    t = Table(title=f"Batch {batch_id}", title_justify="left")
    for col in ("dossier", "file", "status", "records"):
        t.add_column(col, overflow="fold")
    for f in status.files:
        if f.replaced_by is None:
            t.add_row(f.dossier, f.name, f.stage.value,
                      ", ".join(f"{r.doctype} ({r.status.value})" for r in f.records))
    console.print(t)
    for failed in report.failed:
        console.print(f"[red]✗[/red] {failed.error}", highlight=False)
    return int(ExitCode.some_files_failed) if report.failed else 0


STORES = {"s3": "the object store", "index": "the index database"}


def waiting_line(now: list[str]) -> str:
    """The line ``ingest --api`` prints when the stores the batch waits for (its
    ``waiting_for``) become ``now``."""
    if not now:
        return "[green]Storage is back:[/green] the batch goes on by itself."
    names = " and ".join(STORES.get(s, s) for s in now)
    return (f"[yellow]Waiting for storage ({names} cannot be reached) — nothing is lost:"
            "[/yellow] the originals are stored and the batch goes on by itself once it "
            "is back; no need to upload again.")


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



def _with_problems(report: IngestReport, problems: list[tuple[Path, str]]) -> IngestReport:
    """The report with the inputs that never reached the batch (not files, unreadable) added
    as failed files, each naming its path."""
    for path, problem in problems:
        report.files.append(IngestFileResult(path=str(path), status=FileStatus.failed,
                                             error=f"{path}: {problem}",
                                             error_kind="InputFileError"))
    return report
