"""The decisions the batch flow makes, as plain functions over typed data.

No Prefect and no storage here: the flow (``flows/digitize.py``) only wires these to its tasks,
and each is tested on its own (tests/flows/test_decisions.py).
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Mapping, Sequence

from extraction.doctypes import DoctypeDef
from extraction.separator import is_separator, split_stack
from models.batches import BatchDossier, BatchFile, FileProblem, PageResult, Stage
from models.errors import DossierError
from models.ocr import PageOCR
from models.records import (
    ExtractedDocument,
    FileStatus,
    IngestFileResult,
    RecordStatus,
)

__all__ = [
    "problem_from",
    "is_duplicate_dossier",
    "record_id_for",
    "stack_dossiers",
    "review_status",
    "file_problem",
    "pages_to_extract",
    "split_repeated_dossiers",
    "file_stage",
    "ingest_result",
]

log = logging.getLogger(__name__)

INTERNAL_HINT = ("this is a fault of the software, not of the scan: try again later (replace the "
                 "file with the same scan); if it fails again, tell the administrator")


def problem_from(error: BaseException, name: str) -> FileProblem:
    """Any exception met while digitizing the file ``name``, in words for its operator.

    The pipeline's own errors carry their message and fix; anything else (a bug, a crashed
    library) becomes an internal error naming the file, so one bad file never stops a batch.
    """
    if isinstance(error, DossierError):
        message = error.message
        if not message.startswith(name):
            message = f"{name}: {message}"
        return FileProblem(kind=error.kind, message=message, hint=error.hint)
    log.warning("unexpected error on %s", name, exc_info=error)
    return FileProblem(kind="InternalError",
                       message=f"{name}: unexpected error while digitizing "
                               f"({type(error).__name__})",
                       hint=INTERNAL_HINT)


def is_duplicate_dossier(dossier_id: str, known: Sequence[IngestFileResult | None]) -> bool:
    """True when every file of the dossier was digitized before, in this same dossier.

    Then nothing new is created: the earlier records stand.
    """
    return bool(known) and all(
        k is not None and k.status in (FileStatus.accepted, FileStatus.duplicate)
        and k.dossier_id == dossier_id for k in known)


def split_repeated_dossiers(dossiers: Sequence[BatchDossier]
                            ) -> tuple[list[BatchDossier], list[BatchDossier]]:
    """The dossiers to run now, and those with the same id (the same content) as one of them:
    these run after it, so that they become its duplicates instead of writing the same
    records side by side."""
    seen: set[str] = set()
    first: list[BatchDossier] = []
    again: list[BatchDossier] = []
    for d in dossiers:
        (again if d.dossier_id in seen else first).append(d)
        seen.add(d.dossier_id)
    return first, again


def record_id_for(dossier_id: str, n: int) -> str:
    """The ``n``-th document (1-based) of a dossier: stable across re-runs of the same dossier."""
    return f"{dossier_id}-{n:02d}"


def stack_dossiers(dossier_id: str, pages: Sequence[PageOCR]) -> list[tuple[str, list[int]]]:
    """The dossiers of one uploaded dossier's pages, cut at separator sheets (which belong to
    no dossier): ``(dossier_id, page indexes)`` each.

    Pages without a sheet stay the uploaded dossier, under its own id. A stack with sheets
    gives dossiers ``<id>.1``, ``<id>.2``... in scanning order, stable across re-runs of the
    same files.
    """
    parts = split_stack(list(pages))
    if not any(is_separator(p) for p in pages):
        return [(dossier_id, part) for part in parts]
    return [(f"{dossier_id}.{k}", part) for k, part in enumerate(parts, start=1)]


def review_status(doc: ExtractedDocument, doctype: DoctypeDef | None) -> RecordStatus:
    """Straight through only when the type is known and every field is settled (accepted):
    a missing field needs a person to say it is not on the document before the record is
    served as complete."""
    if doctype is None or not all(f.settled for f in doc.fields):
        return RecordStatus.needs_review
    return RecordStatus.extracted


def file_problem(file: BatchFile, results: Iterable[PageResult]) -> FileProblem | None:
    """A file fails as a whole when it was refused on upload or any of its pages failed
    (a dossier with a hole in it would mislead): the first problem is the one reported,
    naming the file."""
    if file.problem is not None:
        return file.problem
    for r in sorted((r for r in results if r.file_no == file.file_no),
                    key=lambda r: r.source_page):
        if r.problem is not None:
            if r.problem.message.startswith(file.name):
                return r.problem
            return r.problem.model_copy(update={"message": f"{file.name}: {r.problem.message}"})
    return None


def pages_to_extract(results: Iterable[PageResult], failed: set[int],
                     order: Mapping[int, int] | None = None) -> list[PageResult]:
    """The dossier's readable pages in order (file, then page), leaving out failed files.

    ``order`` gives each file's place in the dossier (file number to position); without it,
    files go by number."""
    order = order or {}
    return sorted((r for r in results if r.file_no not in failed and r.ocr_key),
                  key=lambda r: (order.get(r.file_no, r.file_no), r.file_no, r.source_page))


def file_stage(problem: FileProblem | None, statuses: Sequence[RecordStatus]) -> Stage:
    """The outcome the operator sees for a file."""
    if problem is not None:
        return Stage.failed
    if any(s == RecordStatus.needs_review for s in statuses):
        return Stage.needs_review
    return Stage.done


def ingest_result(file: BatchFile, dossier_id: str, *, status: FileStatus, pages: int,
                  problem: FileProblem | None, record_ids: Sequence[str]) -> IngestFileResult:
    """The report line (and the ingested-files registry row) for a file."""
    return IngestFileResult(path=file.name, dossier=file.dossier, dossier_id=dossier_id,
                            sha256=file.sha256, status=FileStatus.failed if problem else status,
                            error=problem.text if problem else None,
                            error_kind=problem.kind if problem else None, pages=pages,
                            record_ids=[] if problem else list(record_ids))
