"""Batches as the flow, the API and the upload page see them: what was accepted, and how far
each file and page has come.

The flow's tasks exchange these models (never dicts); the originals themselves travel by
content hash (their object key), never by value.
"""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum

import numpy as np
from pydantic import BaseModel, ConfigDict, Field

from models.ocr import Limits, OcrOptions, PageOCR
from models.records import RecordStatus, utcnow

__all__ = [
    "Stage",
    "BatchState",
    "FileProblem",
    "BatchFile",
    "BatchDossier",
    "BatchPlan",
    "PageJob",
    "PageResult",
    "PageState",
    "RecordState",
    "BatchStatus",
    "BatchSummary",
]


class Stage(StrEnum):
    """Where a file or page is, in the words the upload page shows."""

    queued = "queued"
    reading = "reading"  # cleanup + OCR
    extracting = "extracting"  # classification and field extraction
    done = "done"
    needs_review = "needs_review"
    duplicate = "duplicate"  # the same content was digitized before: nothing new
    failed = "failed"


FINAL_STAGES = frozenset({Stage.done, Stage.needs_review, Stage.duplicate, Stage.failed})


class BatchState(StrEnum):
    queued = "queued"  # accepted and durable, waiting for a worker
    running = "running"
    finished = "finished"  # every file has its outcome (some may have failed)


class FileProblem(BaseModel):
    """Why a file (or one of its pages) could not be digitized, in plain words."""

    kind: str  # the error class, e.g. "CorruptFileError", or "InternalError"
    message: str  # what went wrong, naming the file
    hint: str = ""  # what the operator can do

    @property
    def text(self) -> str:
        return f"{self.message} ({self.hint})" if self.hint else self.message


class BatchFile(BaseModel):
    """One uploaded file of a batch; ``sha256`` is None when it never became durable."""

    file_no: int  # position in the batch, stable: the API and the page address files by it
    dossier: str  # the dossier's name (its folder, or the file's own name)
    name: str  # the operator's file name (relative path inside the dossier folder)
    sha256: str | None = None
    size: int = 0
    content_type: str = "application/octet-stream"
    problem: FileProblem | None = None  # refused on upload (empty, too large, unreadable)
    stage: Stage = Stage.queued  # as the ledger last saw it
    position: int = 0  # place in the dossier's page order; a replacement takes the old one's


class BatchDossier(BaseModel):
    name: str
    dossier_id: str  # from the content (see storage.batches.dossier_id_for); a replacement
    # changes the content and so the id
    files: list[BatchFile] = Field(default_factory=list)


class BatchPlan(BaseModel):
    """What the flow digitizes: small, by reference; stored in the index on acceptance."""

    batch_id: str
    station: str | None = None
    operator: str | None = None
    dossiers: list[BatchDossier] = Field(default_factory=list)
    created_at: datetime = Field(default_factory=utcnow)

    @property
    def files(self) -> list[BatchFile]:
        return [f for d in self.dossiers for f in d.files]


class PageJob(BaseModel):
    """One page of one file to clean up and read, the job an OCR process takes.

    The process reads page ``source_page`` of the file at ``path`` (on this machine) with
    ``opts`` within ``limits``. A job of the batch flow also names the stored original
    (``sha256``) and the batch, file and dossier the page belongs to; its ``path`` is set once
    the original is fetched.
    """

    model_config = ConfigDict(frozen=True)

    source_page: int  # page number inside the file, from 0
    path: str = ""
    opts: OcrOptions = OcrOptions()
    limits: Limits = Limits()
    want_cleaned_jpeg: bool = False  # send the cleaned page back (as JPEG) with its OCR
    batch_id: str = ""
    file_no: int = 0
    sha256: str = ""
    dossier: str = ""


class PageCount(BaseModel):
    """How many pages a stored original has, or why it cannot be opened."""

    file_no: int
    pages: int = 0
    problem: FileProblem | None = None


class PageResult(BaseModel):
    """What became of a page.

    Between the flow's tasks: its OCR JSON's key (and its cleaned image's), or the problem
    that stopped it; the OCR tree and the image stay in the object store. Read in one
    process (:func:`ocr.pipeline.ocr_loaded_page`): the OCR tree itself (``ocr``), the
    cleaned image its boxes refer to (``cleaned``, never serialized) and the time each step
    took.
    """

    model_config = ConfigDict(arbitrary_types_allowed=True)

    file_no: int = 0
    sha256: str = ""
    source_page: int = 0
    ocr_key: str | None = None
    cleaned_key: str | None = None
    problem: FileProblem | None = None
    reused: bool = False  # already done by an earlier (interrupted) run
    ocr: PageOCR | None = None
    cleaned: np.ndarray | None = Field(default=None, exclude=True, repr=False)
    timings: dict[str, float] = Field(default_factory=dict)


class ExtractJob(BaseModel):
    """A dossier's readable pages, to classify, split and extract."""

    batch_id: str
    dossier_id: str
    pages: list[PageResult]
    station: str | None = None
    operator: str | None = None


class PageState(BaseModel):
    file_no: int
    source_page: int
    stage: Stage
    error: str | None = None
    reads: int = 0  # times OCR started on this page (more than 1 only after a crash)
    updated_at: datetime | None = None


class RecordState(BaseModel):
    record_id: str
    doctype: str
    status: RecordStatus


class FileStatusView(BaseModel):
    file_no: int
    dossier: str
    dossier_id: str | None = None
    name: str
    sha256: str | None = None
    size: int = 0
    stage: Stage
    error: str | None = None
    error_kind: str | None = None
    hint: str | None = None
    pages: list[PageState] = Field(default_factory=list)
    records: list[RecordState] = Field(default_factory=list)
    replaced_by: int | None = None  # the file_no of the file that replaced this one


class BatchStatus(BaseModel):
    """``GET /v1/batches/{id}``: per file, per page, per record."""

    batch_id: str
    station: str | None = None
    operator: str | None = None
    state: BatchState
    created_at: datetime
    started_at: datetime | None = None
    finished_at: datetime | None = None
    attempts: int = 0
    worker: str | None = None  # host:pid of the worker that ran it last
    # An unfinished batch whose store ("s3", "index") is unreachable waits for it: its worker
    # retries, nothing is lost, and it goes on by itself once the store is back.
    waiting_for: list[str] = Field(default_factory=list, description=(
        "stores the unfinished batch waits for (s3, index): unreachable now, retried, "
        "nothing lost"))
    files: list[FileStatusView] = Field(default_factory=list)

    @property
    def counts(self) -> dict[str, int]:
        out: dict[str, int] = {}
        for f in self.files:
            if f.replaced_by is None:
                out[f.stage.value] = out.get(f.stage.value, 0) + 1
        return out


class BatchSummary(BaseModel):
    """A batch in a list of recent batches."""

    batch_id: str
    station: str | None = None
    operator: str | None = None
    state: BatchState
    created_at: datetime
    finished_at: datetime | None = None
    files: int = 0
    failed: int = 0
    needs_review: int = 0


__all__ += ["FileStatusView", "FINAL_STAGES", "ExtractJob", "PageCount"]
