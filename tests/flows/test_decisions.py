"""The flow's decisions as plain functions: duplicates, failures, review status, record ids."""

from __future__ import annotations

import pytest

from extraction import load_doctypes
from flows import decisions
from models.batches import BatchFile, FileProblem, PageResult, Stage
from models.errors import CorruptFileError
from models.records import (
    ExtractedDocument,
    ExtractedField,
    FieldStatus,
    FileStatus,
    IngestFileResult,
    RecordStatus,
)


@pytest.fixture(scope="module")
def cccd():
    return next(d for d in load_doctypes() if d.id == "cccd_front")


def known(dossier_id: str, status=FileStatus.accepted) -> IngestFileResult:
    return IngestFileResult(path="x", dossier_id=dossier_id, status=status, record_ids=["r"])


def test_a_pipeline_error_keeps_its_message_and_fix_and_names_the_file():
    p = decisions.problem_from(CorruptFileError("the PNG is truncated"), "dossier-1/page-2.png")
    assert p.kind == "CorruptFileError"
    assert p.message == "dossier-1/page-2.png: the PNG is truncated"
    assert "rescan" in p.hint and p.text.endswith(f"({p.hint})")


def test_any_other_exception_becomes_an_internal_error_on_that_file():
    p = decisions.problem_from(ZeroDivisionError("division by zero"), "scan.pdf")
    assert p.kind == "InternalError"
    assert p.message.startswith("scan.pdf: unexpected error") and "ZeroDivisionError" in p.message
    assert "administrator" in p.hint


def test_a_dossier_is_a_duplicate_only_when_every_file_is_known_in_it():
    assert decisions.is_duplicate_dossier("D1", [known("D1"), known("D1", FileStatus.duplicate)])
    assert not decisions.is_duplicate_dossier("D1", [known("D1"), None])
    assert not decisions.is_duplicate_dossier("D1", [known("D1"), known("D2")])
    assert not decisions.is_duplicate_dossier("D1", [known("D1", FileStatus.failed)])
    assert not decisions.is_duplicate_dossier("D1", [])


def test_record_ids_are_stable_per_dossier_and_position():
    assert decisions.record_id_for("Dabc", 1) == "Dabc-01"
    assert decisions.record_id_for("Dabc", 12) == "Dabc-12"


def test_review_status(cccd):
    def doc(*fields: ExtractedField) -> ExtractedDocument:
        return ExtractedDocument(doctype="cccd_front", pages=[0], fields=list(fields))

    name = cccd.fields[0].name
    ok = ExtractedField(name=name, value="1", status=FieldStatus.accepted)
    assert decisions.review_status(doc(ok), cccd) == RecordStatus.extracted
    assert decisions.review_status(doc(ok), None) == RecordStatus.needs_review
    low = ok.model_copy(update={"status": FieldStatus.review})
    assert decisions.review_status(doc(ok, low), cccd) == RecordStatus.needs_review
    gone = ExtractedField(name=cccd.fields[1].name, status=FieldStatus.missing)
    assert decisions.review_status(doc(ok, gone), cccd) == RecordStatus.needs_review


def page(file_no: int, n: int, problem: FileProblem | None = None) -> PageResult:
    return PageResult(file_no=file_no, sha256="a" * 64, source_page=n,
                      ocr_key=None if problem else f"ocr/{file_no}/{n}", problem=problem)


def test_a_file_fails_on_its_first_bad_page_and_names_itself():
    bad = FileProblem(kind="CorruptFileError", message="page 2: cannot decode", hint="rescan")
    f = BatchFile(file_no=1, dossier="d", name="d/scan.pdf", sha256="a" * 64)
    results = [page(1, 2, bad.model_copy(update={"message": "page 3: x"})), page(1, 0),
               page(1, 1, bad), page(2, 0)]
    p = decisions.file_problem(f, results)
    assert p is not None and p.message == "d/scan.pdf: page 2: cannot decode" and p.hint == "rescan"
    assert decisions.file_problem(f.model_copy(update={"file_no": 2}), results) is None
    refused = FileProblem(kind="EmptyFileError", message="d/scan.pdf: empty")
    assert decisions.file_problem(f.model_copy(update={"problem": refused}), []) == refused


def test_pages_to_extract_keeps_order_and_drops_failed_files():
    results = [page(2, 0), page(1, 1), page(1, 0), page(3, 0),
               page(3, 1, FileProblem(kind="X", message="m"))]
    got = decisions.pages_to_extract(results, failed={3})
    assert [(r.file_no, r.source_page) for r in got] == [(1, 0), (1, 1), (2, 0)]


def test_file_stage_and_report_line():
    assert decisions.file_stage(None, [RecordStatus.extracted]) == Stage.done
    assert decisions.file_stage(None, [RecordStatus.extracted, RecordStatus.needs_review]) \
        == Stage.needs_review
    problem = FileProblem(kind="EmptyFileError", message="a.png: empty", hint="rescan")
    assert decisions.file_stage(problem, []) == Stage.failed
    f = BatchFile(file_no=1, dossier="a.png", name="a.png", sha256="b" * 64)
    line = decisions.ingest_result(f, "D1", status=FileStatus.accepted, pages=1, problem=problem,
                                   record_ids=["D1-01"])
    assert line.status == FileStatus.failed and line.record_ids == []
    assert line.error == "a.png: empty (rescan)" and line.error_kind == "EmptyFileError"
    ok = decisions.ingest_result(f, "D1", status=FileStatus.accepted, pages=1, problem=None,
                                 record_ids=["D1-01"])
    assert ok.status == FileStatus.accepted and ok.record_ids == ["D1-01"] and ok.dossier == "a.png"


def test_a_stack_is_cut_into_dossiers_at_separator_sheets():
    from extraction.separator import SEPARATOR_TEXT
    from models.ocr import MachineCode, PageOCR

    plain = PageOCR(width=10, height=10)
    sheet = PageOCR(width=10, height=10, codes=[MachineCode(format="QRCode", text=SEPARATOR_TEXT)])
    assert decisions.stack_dossiers("D1", [plain, plain]) == [("D1", [0, 1])]
    # Sheets before the first page, twice in a row or at the end start no empty dossier.
    assert decisions.stack_dossiers("D1", [sheet, plain, plain, sheet, sheet, plain, sheet]) == [
        ("D1.1", [1, 2]), ("D1.2", [5])]
    assert decisions.stack_dossiers("D1", [sheet]) == []
